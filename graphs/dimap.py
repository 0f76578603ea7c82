"""Pléiades and SPOT 6/7 products in DIMAP v2: finding their MS and P images (original-ingester.md §5.14).

A delivered bundle holds a volume file (``VOL_PHR.XML`` for Pléiades; ``SPOT_VOL.XML``, or
``VOL_SPOT6.XML``/``VOL_SPOT7.XML``, for SPOT) that lists its products in
``Dataset_Content/Dataset_Components/Component`` (``COMPONENT_TYPE`` ``DIMAP``, ``COMPONENT_PATH@href``):
each one a ``DIM_<platform>_<MS|P|PMS...>_*.XML`` with its image tiles. GDAL's DIMAP driver lists these
components as the volume's subdatasets (``DIMAP:"<volume>":<title>``), and opening one means opening
its DIM file (``frmts/dimap/dimapdataset.cpp``, DIMAP v2: ``ReadImageInformation2``). We read the list
from the volume ourselves, so that a product the volume names but the delivery lacks is named in the
error, then open each DIM file with GDAL, which:

- mosaics the tiles (``Data_Files/Data_File@tile_R,@tile_C``) in a VRT on ``Regular_Tiling/NTILES_SIZE``;
- takes the geotransform from ``Geoposition/Geoposition_Insert`` (ULXMAP, ULYMAP: the upper-left
  corner; XDIM, YDIM), else from the upper-left tile, and the CRS from ``Coordinate_Reference_System/
  Projected_CRS/PROJECTED_CRS_CODE`` (an EPSG URN), else from the tile;
- publishes ``Processing_Information/Product_Settings/SPECTRAL_PROCESSING`` as a dataset metadata item:
  ``P`` (panchromatic), ``MS`` (multispectral), ``PMS``... (pan-sharpened, not used here).

Without a volume, the products' own ``DIM_PHR1A_*.XML``/``DIM_PHR1B_*.XML`` (or ``DIM_SPOT6_*.XML``/
``DIM_SPOT7_*.XML``) are used. Only ortho products can be extracted: a primary (sensor) product has RPCs
and no georeferencing, and is refused with a message saying so.

The original's ``SpotProcessing`` graph imports ``P.tif`` from T1 (§9 defect 19); ours imports it from
T0, like ``PhrProcessing``.
"""

from __future__ import annotations

import logging
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import rasterio
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from common.xml import parse_untrusted_xml
from graphs.errors import GraphError

logger = logging.getLogger(__name__)

CONSTELLATIONS = ("PHR", "SPOT")
VOLUME_NAMES: dict[str, tuple[str, ...]] = {
    "PHR": ("VOL_PHR.XML",),
    "SPOT": ("SPOT_VOL.XML", "VOL_SPOT6.XML", "VOL_SPOT7.XML"),
}
PRODUCT_PATTERNS: dict[str, tuple[str, ...]] = {
    "PHR": ("DIM_PHR1A_*.XML", "DIM_PHR1B_*.XML"),
    "SPOT": ("DIM_SPOT6_*.XML", "DIM_SPOT7_*.XML"),
}
PAN, MS = "P", "MS"


@dataclass(frozen=True)
class DimapImage:
    """One product of a bundle, as GDAL reads it from its DIM file."""

    dim_path: Path
    spectral_processing: str
    count: int
    width: int
    height: int
    dtype: str
    crs: CRS
    transform: Affine
    nodata: float | None  # the product's NODATA special value (Raster_Display/Special_Value)


def _constellations(constellation: str | None) -> tuple[str, ...]:
    if constellation is None:
        return CONSTELLATIONS
    name = constellation.upper()
    if name not in CONSTELLATIONS:
        raise GraphError(f"constellation {constellation!r}: DIMAP products are PHR or SPOT")
    return (name,)


def _find(workdir: Path, names: Iterable[str]) -> list[Path]:
    found: set[Path] = set()
    for name in names:
        found.update(p for p in workdir.rglob(name) if p.is_file())
    return sorted(found)


def find_dimap_files(workdir: Path, *, constellation: str | None = None) -> list[Path]:
    """The bundle's volume files under ``workdir``, else its products' DIM files.

    Raises:
        GraphError: none found; the message lists the names looked for.
    """
    kinds = _constellations(constellation)
    volume_names = [n for k in kinds for n in VOLUME_NAMES[k]]
    volumes = _find(workdir, volume_names)
    if volumes:
        return volumes
    patterns = [p for k in kinds for p in PRODUCT_PATTERNS[k]]
    products = _find(workdir, patterns)
    if products:
        return products
    raise GraphError(
        f"no DIMAP volume ({', '.join(volume_names)}) nor product file ({', '.join(patterns)}) "
        f"under {workdir}: is this a {'/'.join(kinds)} DIMAP delivery, unpacked?"
    )


def _read_xml(path: Path) -> ET.Element:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GraphError(f"{path}: cannot be read ({exc.strerror})") from exc
    return parse_untrusted_xml(data, name=str(path), error=GraphError, what="DIMAP file")


def volume_components(volume: Path) -> list[Path]:
    """The DIM files a volume lists (its ``DIMAP`` components), each checked to exist.

    Raises:
        GraphError: unreadable volume, no DIMAP component, or a component file missing.
    """
    root = _read_xml(volume)
    paths = []
    for component in root.iterfind("Dataset_Content/Dataset_Components/Component"):
        if (component.findtext("COMPONENT_TYPE") or "").strip() != "DIMAP":
            continue
        path = component.find("COMPONENT_PATH")
        href = path.get("href", "") if path is not None else ""
        if not href:
            continue
        dim = (volume.parent / href).resolve()
        if not dim.is_relative_to(volume.parent.resolve()):
            raise GraphError(f"{volume}: component {href!r} points outside the delivery")
        if not dim.is_file():
            raise GraphError(f"{volume}: names the product {href!r}, which is missing from the delivery")
        paths.append(dim)
    if not paths:
        raise GraphError(
            f"{volume}: no DIMAP product in Dataset_Content/Dataset_Components (no Component with "
            "COMPONENT_TYPE DIMAP and a COMPONENT_PATH href)"
        )
    return paths


def _nodata(root: ET.Element) -> float | None:
    for special in root.iterfind("Raster_Data/Raster_Display/Special_Value"):
        if (special.findtext("SPECIAL_VALUE_TEXT") or "").strip().upper() == "NODATA":
            try:
                return float(special.findtext("SPECIAL_VALUE_COUNT") or "")
            except ValueError:
                return None
    return None


def _check_tiles(dim: Path, root: ET.Element) -> None:
    hrefs = [
        node.get("href", "")
        for node in root.iterfind("Raster_Data/Data_Access/Data_Files/Data_File/DATA_FILE_PATH")
    ]
    if not hrefs:
        raise GraphError(f"{dim}: no image file in Raster_Data/Data_Access/Data_Files")
    missing = [h for h in hrefs if not (dim.parent / h).is_file()]
    if missing:
        raise GraphError(f"{dim}: its image tiles {', '.join(missing)} are missing from the delivery")


def read_dimap_image(dim: Path) -> DimapImage:
    """One product (a DIM file) as GDAL's DIMAP driver reads it.

    Raises:
        GraphError: not DIMAP v2, tiles missing, GDAL cannot open it, or it is not georeferenced.
    """
    root = _read_xml(dim)
    if root.find("Raster_Data") is None:
        raise GraphError(f"{dim}: not a DIMAP product (no Raster_Data)")
    _check_tiles(dim, root)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", NotGeoreferencedWarning)
            with rasterio.open(dim) as dataset:
                if dataset.driver != "DIMAP":
                    raise GraphError(f"{dim}: read by GDAL's {dataset.driver} driver, not DIMAP")
                image = DimapImage(
                    dim_path=dim,
                    spectral_processing=dataset.tags().get("SPECTRAL_PROCESSING", "").strip().upper(),
                    count=dataset.count,
                    width=dataset.width,
                    height=dataset.height,
                    dtype=dataset.dtypes[0],
                    crs=dataset.crs,
                    transform=dataset.transform,
                    nodata=_nodata(root),
                )
    except NotGeoreferencedWarning:
        level = root.findtext("Processing_Information/Product_Settings/PROCESSING_LEVEL") or "?"
        raise GraphError(
            f"{dim}: not georeferenced (processing level {level}): a primary (sensor) product has RPCs "
            "only; order an ortho product"
        ) from None
    except (RasterioError, CPLE_BaseError) as exc:
        raise GraphError(f"{dim}: GDAL cannot read it: {exc}") from exc
    if image.crs is None:
        raise GraphError(f"{dim}: no CRS (Coordinate_Reference_System/Projected_CRS/PROJECTED_CRS_CODE)")
    return image


def list_dimap_images(workdir: Path, *, constellation: str | None = None) -> list[DimapImage]:
    """Every product of the DIMAP delivery under ``workdir`` (see :func:`find_dimap_files`).

    Raises:
        GraphError: nothing found, or a product that cannot be read (the message names it).
    """
    dims: list[Path] = []
    for path in find_dimap_files(workdir, constellation=constellation):
        root = _read_xml(path)
        dims.extend(volume_components(path) if root.find("Raster_Data") is None else [path.resolve()])
    return [read_dimap_image(dim) for dim in dict.fromkeys(dims)]


def select_ms_and_pan(images: Iterable[DimapImage], *, where: Path) -> tuple[DimapImage, DimapImage]:
    """The one MS and the one P image of a bundle.

    Raises:
        GraphError: one is missing or there are several; the message lists what was found.
    """
    images = list(images)
    by_kind: dict[str, list[DimapImage]] = {}
    for image in images:
        by_kind.setdefault(image.spectral_processing, []).append(image)
    found = ", ".join(
        f"{i.dim_path.name} ({i.spectral_processing or 'no SPECTRAL_PROCESSING'})" for i in images
    )
    chosen = []
    for kind, label in ((MS, "multispectral"), (PAN, "panchromatic")):
        matches = by_kind.get(kind, [])
        if len(matches) != 1:
            how = "no" if not matches else f"{len(matches)}"
            raise GraphError(
                f"{where}: {how} {label} product (SPECTRAL_PROCESSING {kind}) in the delivery, one needed "
                f"(a bundle: MS and P); found: {found}"
            )
        chosen.append(matches[0])
    for image in images:
        if image.spectral_processing not in (MS, PAN):
            logger.info("%s: %s (%s) is not extracted", where, image.dim_path.name, image.spectral_processing)
    return chosen[0], chosen[1]
