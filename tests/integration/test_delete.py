"""``delete AOI``: the AOI's files, records and datasets, not another AOI's; idempotent; per item.

Against the local Geocube server and a local storage. Our Geocube client cannot delete datasets yet, so
an indexed layer is kept with its record and its file, each saying why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from catalogue.ledger import Ledger, save_ledger
from catalogue.models import Constellation, Scene, Tile
from common.dataformat import DataFormat
from geocube_client import GeocubeClient, NewRecord
from jobs.delete import DeletePlan, apply_delete, plan_delete
from storage.errors import StorageError
from storage.local import LocalStorage
from tests.integration.geocube_client.conftest import unique

pytestmark = pytest.mark.integration

BOX = "POLYGON ((1.26 43.5, 1.35 43.5, 1.35 43.6, 1.26 43.6, 1.26 43.5))"
DAY = datetime(2024, 1, 5, 10, 54, 41, tzinfo=UTC)


def write_cog(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.full((16, 16), 1200, dtype="uint16")
    with rasterio.open(
        path, "w", driver="GTiff", width=16, height=16, count=1, dtype="uint16", crs="EPSG:32631",
        transform=Affine(10, 0, 360000, 0, -10, 4830000), nodata=0,
    ) as dst:  # fmt: skip
        dst.write(data, 1)
    return str(path)


def make_aoi(client: GeocubeClient, storage: LocalStorage, aoi: str, *, indexed: bool) -> dict[str, str]:
    """An AOI as an ingestion leaves it: a ledger of two scenes, their records (tagged as the scenes
    are), a product zip, two layers of the first scene, one of them indexed when ``indexed``."""
    tags = {"source": "test", "aoi": aoi}
    scenes = [
        Scene(
            source_id=unique(f"S2A_MSIL1C_{i}"),
            date=DAY.replace(day=5 + 5 * i),
            constellation=Constellation.SENTINEL2,
            footprint_wkt=BOX,
            tags=tags,
        )
        for i in range(2)
    ]
    tiles = [
        Tile(source_id=s.source_id, scene_id=s.source_id, date=s.date, footprint_wkt=BOX) for s in scenes
    ]
    ledger = Ledger(aoi=aoi)
    ledger.record(scenes, tiles, {tiles[0].key: "DONE", tiles[1].key: "FAILED"})
    save_ledger(storage, ledger)
    aoi_id = client.create_aoi(BOX)
    records = client.create_records(
        [NewRecord(s.source_id, s.date, tags | {"previous_scenes": "[]"}, aoi_id) for s in scenes]
    )
    root = Path(storage.uri_of(aoi)).parent
    first = scenes[0].source_id
    (root / aoi / first).mkdir(parents=True)
    (root / aoi / first / f"{first}.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    layer = write_cog(root / aoi / first / "tiles" / first / f"20240105_{first}_B04.tif")
    write_cog(root / aoi / first / "tiles" / first / f"20240105_{first}_B08.tif")
    if indexed:
        variable = client.create_variable(
            name=unique("reflectance"), bands=["r"], dformat=DataFormat("float32", np.nan, -0.1, 1.6)
        )
        instance = client.instantiate_variable(variable, "raw").id
        client.index_dataset(uri=layer, record_id=records[0], instance_id=instance, bands=[1],
                             dformat=DataFormat.parse("uint16,0,0,10000"), real_min_value=0,
                             real_max_value=1)  # fmt: skip
    return {"indexed": records[0], "free": records[1], "layer": layer}


def record_ids(client: GeocubeClient, aoi: str) -> set[str]:
    return {r.id for r in client.list_records(tags={"aoi": aoi})}


def test_delete_removes_the_aois_things_only_and_keeps_what_it_cannot(
    tmp_path: Path, local_geocube: str
) -> None:
    storage = LocalStorage(tmp_path)
    mine, other, lookalike = unique("DelA"), unique("DelB"), ""
    lookalike = mine + "x"  # its prefix starts like mine: never listed with it
    with GeocubeClient(local_geocube, insecure=True) as client:
        ids = make_aoi(client, storage, mine, indexed=True)
        make_aoi(client, storage, other, indexed=True)
        make_aoi(client, storage, lookalike, indexed=False)
        before_other = sorted(p for p in tmp_path.rglob("*") if other in str(p))
        plan = plan_delete(client, storage, mine)
        assert {i.id for i in plan.records} == {ids["indexed"], ids["free"]}
        assert [i.detail for i in plan.datasets] == [
            f"{mine}/{Path(ids['layer']).relative_to(tmp_path / mine)}"
        ]
        assert len(plan.files) == 3 and plan.ledger is not None
        assert "1 Geocube datasets" in plan.describe() and "3 stored files" in plan.describe()

        report = apply_delete(client, storage, plan)
        assert {i.id for i in report.removed} == {
            ids["free"],
            *(i.id for i in plan.files if i.detail != "indexed"),
        }
        kept = {i.kind: why for i, why in report.kept}
        assert kept.keys() == {"dataset", "record", "file", "ledger"}
        assert (
            "cannot delete datasets" in kept["dataset"] and "kept dataset is indexed from it" in kept["file"]
        )
        assert record_ids(client, mine) == {ids["indexed"]}
        assert len(record_ids(client, other)) == 2 and len(record_ids(client, lookalike)) == 2
        assert sorted(p for p in tmp_path.rglob("*") if other in str(p)) == before_other
        assert (tmp_path / lookalike / "ingested.json").is_file()
        assert Path(ids["layer"]).is_file() and (tmp_path / mine / "ingested.json").is_file()

        again = apply_delete(client, storage, plan_delete(client, storage, mine))  # idempotent
        assert again.removed == [] and sorted(i.line() for i, _ in again.kept) == sorted(
            i.line() for i, _ in report.kept
        )


def test_an_aoi_without_datasets_goes_entirely_and_a_second_delete_finds_nothing(
    tmp_path: Path, local_geocube: str
) -> None:
    storage = LocalStorage(tmp_path)
    aoi = unique("DelC")
    with GeocubeClient(local_geocube, insecure=True) as client:
        make_aoi(client, storage, aoi, indexed=False)
        report = apply_delete(client, storage, plan_delete(client, storage, aoi))
        assert report.complete and [i.kind for i in report.removed].count("record") == 2
        assert report.removed[-1].kind == "ledger", "the ledger goes last"
        assert not (tmp_path / aoi).exists() or not any(p.is_file() for p in (tmp_path / aoi).rglob("*"))
        assert record_ids(client, aoi) == set()
        second = plan_delete(client, storage, aoi)
        assert second.is_empty and second.describe() == f"AOI {aoi}: nothing to delete"


class FailingStorage(LocalStorage):
    """A storage whose delete of one key fails as a read-only file system would."""

    def __init__(self, root: Path, failing: str) -> None:
        super().__init__(root)
        self.failing = failing

    def delete(self, key: str) -> bool:
        if key == self.failing:
            raise StorageError(f"delete of {key} failed: [Errno 30] Read-only file system")
        return super().delete(key)


def test_a_failure_is_reported_for_its_item_and_the_rest_goes_on(tmp_path: Path, local_geocube: str) -> None:
    aoi = unique("DelD")
    with GeocubeClient(local_geocube, insecure=True) as client:
        make_aoi(client, LocalStorage(tmp_path), aoi, indexed=False)
        zip_key = next(k for k in LocalStorage(tmp_path).list_keys(f"{aoi}/") if k.endswith(".zip"))
        storage = FailingStorage(tmp_path, zip_key)
        plan: DeletePlan = plan_delete(client, storage, aoi)
        report = apply_delete(client, storage, plan)
        assert [(i.id, why) for i, why in report.failed] == [
            (zip_key, f"delete of {zip_key} failed: [Errno 30] Read-only file system")
        ]
        assert sum(1 for i in report.removed if i.kind == "file") == 2
        assert any(i.kind == "ledger" for i, _ in report.kept), "kept while an item of the AOI remains"
        assert "failed (1):" in report.describe()
        retried = apply_delete(
            client, LocalStorage(tmp_path), plan_delete(client, LocalStorage(tmp_path), aoi)
        )
        assert retried.complete and {i.kind for i in retried.removed} == {"file", "ledger"}


def test_not_an_aoi_name(tmp_path: Path, local_geocube: str) -> None:
    from common.errors import PermanentError

    with (
        GeocubeClient(local_geocube, insecure=True) as client,
        pytest.raises(PermanentError, match="not an AOI"),
    ):
        plan_delete(client, LocalStorage(tmp_path), "../etc")
