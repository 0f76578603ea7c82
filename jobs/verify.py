"""Read-back: does the Geocube serve each indexed layer of an AOI as its file says?

"A layer is done only when the Geocube can serve it." For every file of the AOI in storage that the
Geocube knows (GetContainers), and every dataset of it, a GetCube on the dataset's record and instance,
on the file's own grid (crs, geotransform, size; nearest neighbour), is compared with the file's values
under the indexed mapping cast into the variable's format (``geocube_client.mapping.cube_values``):

- ``equal``: same nodata pixels, and values within float32 rounding (exact for integer variables);
- ``differs``: the largest error and how many pixels differ;
- ``unreadable``: GetCube failed (e.g. ``Not enough valid pixels (skipped)``) or the file cannot be read.

A cube on a record mosaics all its datasets of the instance; where two tiles of one record overlap (S1
bursts), the later one covers the earlier, so such pixels may differ from either file.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from common.errors import IngestError
from geocube_client.client import GeocubeClient
from geocube_client.errors import GeocubeNotFoundError
from geocube_client.mapping import DataMapping, cube_values, is_nodata
from geocube_client.models import Dataset, Record, Variable
from storage.base import Storage

log = logging.getLogger(__name__)

FLOAT_TOLERANCE = 1e-6  # float32 rounding of reflectance-sized values


class ReadBack(StrEnum):
    EQUAL = "equal"
    DIFFERS = "differs"
    UNREADABLE = "unreadable"


@dataclass
class LayerCheck:
    """The read-back of one dataset of one file."""

    uri: str
    variable: str
    instance: str
    record: str
    outcome: ReadBack
    detail: str = ""
    duration_s: float = 0.0
    date: str = ""
    cube: Any = field(default=None, repr=False)  # the Geocube's image (height x width), for quicklooks

    def line(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return (
            f"{self.outcome.value:<10} {self.variable}:{self.instance} record {self.record} "
            f"{Path(self.uri).name}{detail} [{self.duration_s:.2f} s]"
        )


@dataclass
class VerifyReport:
    aoi: str
    checks: list[LayerCheck] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files of the AOI the Geocube does not know

    @property
    def all_equal(self) -> bool:
        return bool(self.checks) and all(c.outcome == ReadBack.EQUAL for c in self.checks)

    def headline(self) -> str:
        counts = {o: sum(c.outcome == o for c in self.checks) for o in ReadBack}
        text = ", ".join(f"{n} {o.value}" for o, n in counts.items())
        return f"AOI {self.aoi}: {len(self.checks)} indexed layer(s) read back through GetCube: {text}"


def _compare(cube: np.ndarray, expected: np.ndarray, nodata: float) -> tuple[ReadBack, str]:
    cube_missing, expected_missing = is_nodata(cube, nodata), is_nodata(expected, nodata)
    mismatch = int((cube_missing != expected_missing).sum())
    both = ~cube_missing & ~expected_missing
    error = np.abs(cube[both].astype(np.float64) - expected[both].astype(np.float64))
    max_error = float(error.max()) if error.size else 0.0
    tolerance = FLOAT_TOLERANCE if cube.dtype.kind in "fc" else 0.0
    wrong = int((error > tolerance).sum())
    if mismatch == 0 and wrong == 0:
        return ReadBack.EQUAL, f"{int(both.sum())} valid pixels, max error {max_error:.2g}"
    return ReadBack.DIFFERS, (
        f"max error {max_error:.3g} on {wrong} pixel(s); nodata differs on {mismatch} pixel(s)"
    )


def _check_dataset(
    geocube: GeocubeClient, path: Path, uri: str, dataset: Dataset, variable: Variable
) -> LayerCheck:
    instance = next((i.name for i in variable.instances if i.id == dataset.instance_id), dataset.instance_id)
    check = LayerCheck(uri, variable.name, instance, dataset.record_id, ReadBack.UNREADABLE)
    started = time.monotonic()
    try:
        with rasterio.open(path) as src:
            grid = {
                "crs_wkt": src.crs.to_wkt(),
                "transform": src.transform.to_gdal(),
                "width": src.width,
                "height": src.height,
            }
            values = src.read(list(dataset.bands))
        images = geocube.get_cube(
            instance_id=dataset.instance_id, record_ids=[dataset.record_id], resampling="NEAR", **grid
        )
    except GeocubeNotFoundError as exc:
        check.detail = str(exc)
        return check
    except (IngestError, rasterio.errors.RasterioError) as exc:
        check.detail = f"{type(exc).__name__}: {exc}"
        return check
    finally:
        check.duration_s = time.monotonic() - started
    if not images or images[0].array is None:
        check.detail = images[0].error if images else "GetCube returned no image"
        return check
    image = images[0]
    check.date = _date_of(image.records) or _date_of_file(path)
    mapping = DataMapping(dataset.dformat, dataset.real_min_value, dataset.real_max_value, dataset.exponent)
    expected = np.moveaxis(cube_values(values, mapping, variable.dformat), 0, -1)
    check.outcome, check.detail = _compare(image.array, expected, variable.dformat.no_data)
    check.cube = image.array[..., 0]
    return check


def _date_of(records: list[Record]) -> str:
    return records[0].time.strftime("%Y-%m-%d") if records else ""


def _date_of_file(path: Path) -> str:
    """The date of a layer file of the storage layout (``<YYYYMMDD>_<tile>_<layer>.<ext>``), or ""."""
    stem = path.name[:8]
    return f"{stem[:4]}-{stem[4:6]}-{stem[6:]}" if stem.isdigit() else ""


def _indexed(geocube: GeocubeClient, storage: Storage, aoi: str) -> Iterator[tuple[str, str, list[Dataset]]]:
    for key in storage.list_keys(f"{aoi}/"):
        uri = storage.uri_of(key)
        try:
            containers = geocube.get_containers([uri])
        except GeocubeNotFoundError:
            continue
        datasets = [d for c in containers for d in c.datasets]
        if datasets:
            yield key, uri, datasets


def verify_aoi(geocube: GeocubeClient, storage: Storage, aoi: str) -> VerifyReport:
    """Read every indexed layer of ``aoi`` back through GetCube and compare it with its file."""
    report = VerifyReport(aoi=aoi)
    variables: dict[str, Variable] = {}
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        for key, uri, datasets in _indexed(geocube, storage, aoi):
            local = storage.local_path(key)  # read where it lies, else fetched for the comparison
            fetched = local is None
            if local is None:
                local = Path(tmp) / Path(key).name
                storage.download(key, local)
            for dataset in datasets:
                if dataset.instance_id not in variables:
                    variables[dataset.instance_id] = geocube.get_variable(instance_id=dataset.instance_id)
                check = _check_dataset(geocube, local, uri, dataset, variables[dataset.instance_id])
                log.info("%s", check.line())
                report.checks.append(check)
            if fetched:
                local.unlink()
    return report


def _stretch(bands: np.ndarray) -> np.ndarray:
    """2-98 % stretch, one for all bands so that colours keep their balance."""
    values = bands.astype(np.float64)
    valid = values[np.isfinite(values)]
    if valid.size == 0:
        return np.zeros(bands.shape)
    low, high = np.percentile(valid, [2, 98])
    scaled = (values - low) / ((high - low) or 1.0)
    stretched: np.ndarray = np.nan_to_num(np.clip(scaled, 0, 1), nan=0.0)
    return stretched


def write_quicklooks(report: VerifyReport, out_dir: Path, *, rgb: tuple[str, str, str]) -> list[Path]:
    """One PNG per date made from the Geocube's answers: true colour when the AOI has the ``rgb`` layers'
    instances on one grid, else the first layer in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image

    out_dir.mkdir(parents=True, exist_ok=True)
    by_date: dict[str, dict[str, np.ndarray]] = {}
    for check in report.checks:
        if check.cube is not None and check.date:
            by_date.setdefault(check.date, {}).setdefault(check.variable, check.cube)
    written = []
    for date, cubes in sorted(by_date.items()):
        names = [next((v for v in cubes if v.endswith(b)), "") for b in rgb]
        if all(names) and len({cubes[n].shape for n in names}) == 1:
            picture = _stretch(np.dstack([cubes[n] for n in names]))
        else:
            picture = _stretch(next(iter(cubes.values())))
        path = out_dir / f"{report.aoi}_{date}.png"
        tmp = path.with_name(f".{path.name}.part.png")
        matplotlib.image.imsave(tmp, picture, cmap="gray" if picture.ndim == 2 else None)
        tmp.replace(path)
        written.append(path)
    return written
