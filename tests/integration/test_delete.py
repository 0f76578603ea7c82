"""``delete AOI``: the AOI's files, records and datasets, not another AOI's; idempotent; per item.

Against the local Geocube server (its Admin.DeleteDatasets) and a local storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from catalogue.ledger import add_to_ledger
from catalogue.models import Constellation, Scene, Tile
from common.dataformat import DataFormat
from geocube_client import GeocubeAuthError, GeocubeClient, GeocubeNotFoundError, NewRecord
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


def make_aoi(
    client: GeocubeClient,
    storage: LocalStorage,
    aoi: str,
    *,
    indexed: bool,
    instance: str | None = None,
    scene: str | None = None,
) -> dict[str, str]:
    """An AOI as an ingestion leaves it: a ledger of two scenes, their records (tagged as the scenes
    are), a product zip, two layers of the first scene, one of them indexed when ``indexed`` (in
    ``instance``, else in a new variable's). With ``scene``, the first scene is that one, its record
    shared with every AOI made with it (records are reused across AOIs when identical)."""
    tags = {"source": "test", "aoi": aoi}
    scenes = [
        Scene(
            source_id=scene if scene and i == 0 else unique(f"S2A_MSIL1C_{i}"),
            date=DAY.replace(day=5 + 5 * i),
            constellation=Constellation.SENTINEL2,
            footprint_wkt=BOX,
            tags={"source": "test", "aoi": "shared"} if scene and i == 0 else tags,
        )
        for i in range(2)
    ]
    tiles = [
        Tile(source_id=s.source_id, scene_id=s.source_id, date=s.date, footprint_wkt=BOX) for s in scenes
    ]
    # as a run leaves it: its entry, and the snapshot
    add_to_ledger(storage, aoi, scenes, tiles, {tiles[0].key: "DONE", tiles[1].key: "FAILED"})
    aoi_id = client.create_aoi(BOX)
    records = []
    for s in scenes:
        found = [r.id for r in client.list_records(name=s.source_id, tags=s.tags)]
        records += found or client.create_records(
            [NewRecord(s.source_id, s.date, s.tags | {"previous_scenes": "[]"}, aoi_id)]
        )
    root = Path(storage.uri_of(aoi)).parent
    first = scenes[0].source_id
    (root / aoi / first).mkdir(parents=True)
    (root / aoi / first / f"{first}.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    layer = write_cog(root / aoi / first / "tiles" / first / f"20240105_{first}_B04.tif")
    write_cog(root / aoi / first / "tiles" / first / f"20240105_{first}_B08.tif")
    if indexed:
        if instance is None:
            variable = client.create_variable(
                name=unique("reflectance"), bands=["r"], dformat=DataFormat("float32", np.nan, -0.1, 1.6)
            )
            instance = client.instantiate_variable(variable, "raw").id
        client.index_dataset(uri=layer, record_id=records[0], instance_id=instance, bands=[1],
                             dformat=DataFormat.parse("uint16,0,0,10000"), real_min_value=0,
                             real_max_value=1)  # fmt: skip
    return {"indexed": records[0], "free": records[1], "layer": layer, "instance": instance or ""}


def record_ids(client: GeocubeClient, aoi: str) -> set[str]:
    return {r.id for r in client.list_records(tags={"aoi": aoi})}


def datasets_of(client: GeocubeClient, uri: str) -> list[tuple[str, str]]:
    return [(d.record_id, d.instance_id) for c in client.get_containers([uri]) for d in c.datasets]


def test_delete_removes_the_aois_datasets_records_and_files_and_nothing_of_another_aoi(
    tmp_path: Path, local_geocube: str
) -> None:
    storage = LocalStorage(tmp_path)
    mine, other = unique("DelA"), unique("DelB")
    lookalike = mine + "x"  # its prefix starts like mine: never listed with it
    with GeocubeClient(local_geocube, insecure=True) as client:
        ids = make_aoi(client, storage, mine, indexed=True)
        theirs = make_aoi(client, storage, other, indexed=True, instance=ids["instance"])  # same instance
        make_aoi(client, storage, lookalike, indexed=False)
        before_other = sorted(p for p in tmp_path.rglob("*") if other in str(p))
        plan = plan_delete(client, storage, mine)
        assert {i.id for i in plan.records} == {ids["indexed"], ids["free"]}
        assert [(i.id, i.detail) for i in plan.datasets] == [
            (
                f"{ids['indexed']}:{ids['instance']}",
                f"{mine}/{Path(ids['layer']).relative_to(tmp_path / mine)}",
            )
        ]
        assert len(plan.files) == 3 and plan.ledger is not None
        assert "1 Geocube datasets" in plan.describe() and "3 stored files" in plan.describe()

        report = apply_delete(client, storage, plan)
        assert report.complete, report.describe()
        assert [i.kind for i in report.removed] == ["dataset", "record", "record", "file", "file", "file",
                                                     "ledger"]  # fmt: skip
        assert "removed 1 dataset(s), 2 record(s), 3 file(s), 1 ledger(s)" in report.describe()
        assert datasets_of(client, ids["layer"]) == [], "the Geocube no longer points at the file"
        assert record_ids(client, mine) == set()
        assert not any(p.is_file() for p in (tmp_path / mine).rglob("*"))

        assert datasets_of(client, theirs["layer"]) == [(theirs["indexed"], ids["instance"])]
        assert len(record_ids(client, other)) == 2 and len(record_ids(client, lookalike)) == 2
        assert sorted(p for p in tmp_path.rglob("*") if other in str(p)) == before_other
        assert (tmp_path / lookalike / "ingested.json").is_file()

        second = plan_delete(client, storage, mine)  # idempotent: nothing left, nothing changes
        assert second.is_empty
        again = apply_delete(client, storage, second)
        assert again.removed == [] and again.complete
        assert datasets_of(client, theirs["layer"]) == [(theirs["indexed"], ids["instance"])]


def test_a_scene_another_aoi_shares_keeps_its_dataset_record_and_file_and_says_why(
    tmp_path: Path, local_geocube: str
) -> None:
    """DeleteDatasets takes records x instances: a record both AOIs index in one instance would lose the
    other AOI's dataset too, so it is not asked for."""
    storage = LocalStorage(tmp_path)
    mine, other, scene = unique("DelE"), unique("DelF"), unique("S2B_MSIL1C_shared")
    with GeocubeClient(local_geocube, insecure=True) as client:
        ids = make_aoi(client, storage, mine, indexed=True, scene=scene)
        theirs = make_aoi(client, storage, other, indexed=True, instance=ids["instance"], scene=scene)
        assert theirs["indexed"] == ids["indexed"], "one record for the scene, used by both AOIs"
        report = apply_delete(client, storage, plan_delete(client, storage, mine))
        kept = {i.kind: why for i, why in report.kept}
        assert kept.keys() == {"dataset", "record", "file", "ledger"} and not report.failed
        assert "2 dataset(s) of this record and these instances, 1 in this AOI's files" in kept["dataset"]
        assert theirs["layer"] in kept["dataset"]
        assert datasets_of(client, theirs["layer"]) == [(ids["indexed"], ids["instance"])]
        assert datasets_of(client, ids["layer"]) == [(ids["indexed"], ids["instance"])]
        assert Path(ids["layer"]).is_file() and ids["free"] in {i.id for i in report.removed}


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


class AuthRefusingGeocube(GeocubeClient):
    """A Geocube whose Admin service refuses our key (its admin key is another one than the user key)."""

    def delete_datasets(
        self, record_ids: Sequence[str], instance_ids: Sequence[str], *, simulate: bool = False
    ) -> list[str]:
        raise GeocubeAuthError(
            "Geocube DeleteDatasets: invalid token (UNAUTHENTICATED)", rpc="DeleteDatasets"
        )


class JobDeletionGeocube(GeocubeClient):
    """A Geocube where deletion is a synchronous job (upstream internal/svc/admin.go, later form): no
    ``simulate`` (the field is gone: ignored), no result lines, NOT_FOUND when nothing matches."""

    def delete_datasets(
        self, record_ids: Sequence[str], instance_ids: Sequence[str], *, simulate: bool = False
    ) -> list[str]:
        if not super().delete_datasets(record_ids, instance_ids):
            raise GeocubeNotFoundError("No dataset found for theses records and instances")
        return []


def test_a_refused_deletion_fails_its_datasets_and_keeps_what_they_hold(
    tmp_path: Path, local_geocube: str
) -> None:
    storage, aoi = LocalStorage(tmp_path), unique("DelG")
    with AuthRefusingGeocube(local_geocube, insecure=True) as refusing:
        ids = make_aoi(refusing, storage, aoi, indexed=True)
        report = apply_delete(refusing, storage, plan_delete(refusing, storage, aoi))
        ((dataset, why),) = report.failed
        assert dataset.kind == "dataset" and why.startswith("DeleteDatasets failed: Geocube DeleteDatasets")
        kept = {i.id for i, _ in report.kept}
        assert ids["indexed"] in kept and dataset.detail in kept and f"{aoi}/ingested.json" in kept
        assert datasets_of(refusing, ids["layer"]) == [(ids["indexed"], ids["instance"])]
    with GeocubeClient(local_geocube, insecure=True) as client:
        assert apply_delete(client, storage, plan_delete(client, storage, aoi)).complete


def test_a_server_deleting_by_job_is_checked_by_its_containers(tmp_path: Path, local_geocube: str) -> None:
    storage, aoi = LocalStorage(tmp_path), unique("DelH")
    with JobDeletionGeocube(local_geocube, insecure=True) as client:
        ids = make_aoi(client, storage, aoi, indexed=True)
        report = apply_delete(client, storage, plan_delete(client, storage, aoi))
        assert report.complete and [i.kind for i in report.removed].count("dataset") == 1
        assert datasets_of(client, ids["layer"]) == [] and record_ids(client, aoi) == set()
