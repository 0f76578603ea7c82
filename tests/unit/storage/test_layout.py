from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from storage import LocalStorage, StorageError, StorageNotFoundError
from storage.layout import (
    PRODUCT_LAYER,
    LayerRef,
    archive_is_layer,
    check_zip,
    delete_layer,
    import_layer,
    is_stored_as_zip,
    layer_file_name,
    layer_key,
    save_archive,
    save_layer,
)

S1_SCENE = "S1A_IW_SLC__1SDV_20220111T170124_20220111T170151_041416_04ECAD_F4D7"
S1_DATE = datetime(2022, 1, 11, 17, 1, 24, tzinfo=UTC)
BURST = "A44_IW1_8951"
S2_SCENE = "S2A_MSIL1C_20180101T105441_N0206_R051_T31TDH_20180101T124911"
S2_DATE = datetime(2018, 1, 1, 10, 54, 41, tzinfo=UTC)


def _burst(layer: str, ext: str) -> dict[str, Any]:
    return {
        "aoi": "MyAOI",
        "scene_id": S1_SCENE,
        "tile_id": BURST,
        "date": S1_DATE,
        "layer": layer,
        "ext": ext,
    }


def _s2(ext: str, layer: str = PRODUCT_LAYER) -> dict[str, Any]:
    return {
        "aoi": "MyAOI",
        "scene_id": S2_SCENE,
        "tile_id": S2_SCENE,
        "date": S2_DATE,
        "layer": layer,
        "ext": ext,
    }


def _tree(root: Path) -> dict[str, bytes | None]:
    """Relative path -> content (None for a folder)."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def _no_scratch_left(workdir: Path) -> bool:
    return not [p for p in workdir.iterdir() if p.name.startswith(".")]


# --- §7.2 layout ---------------------------------------------------------------------------------


def test_s1_preprocessed_dim_is_stored_as_zip() -> None:
    assert layer_key(**_burst("preprocessed", "dim")) == (
        f"MyAOI/{S1_SCENE}/tiles/{BURST}/20220111_{BURST}_preprocessed.zip"
    )


def test_backscatter_layer_uri_is_what_gets_indexed(tmp_path: Path) -> None:
    key = layer_key(**_burst("sigma0_VV", "tif"))
    assert key == f"MyAOI/{S1_SCENE}/tiles/{BURST}/20220111_{BURST}_sigma0_VV.tif"
    assert LocalStorage(tmp_path).uri_of(key) == f"{tmp_path}/{key}"


@pytest.mark.parametrize("ext", ["*", "SAFE"])
def test_s2_product_copy_and_safe_share_one_zip(ext: str) -> None:
    assert layer_key(**_s2(ext)) == f"MyAOI/{S2_SCENE}/tiles/{S2_SCENE}/{S2_SCENE}.zip"


@pytest.mark.parametrize(
    ("layer", "ext", "expected"),
    [
        (PRODUCT_LAYER, "SAFE", f"{S2_SCENE}.SAFE"),
        (PRODUCT_LAYER, "*", S2_SCENE),
        (PRODUCT_LAYER, "", S2_SCENE),
        (PRODUCT_LAYER, "zip", f"{S2_SCENE}.zip"),
        ("B01", "tif", f"20180101_{S2_SCENE}_B01.tif"),
        ("*", "tif", f"20180101_{S2_SCENE}_*.tif"),
    ],
)
def test_layer_file_names(layer: str, ext: str, expected: str) -> None:
    assert (
        layer_file_name(scene_id=S2_SCENE, tile_id=S2_SCENE, date=S2_DATE, layer=layer, ext=ext) == expected
    )


def test_zip_rules() -> None:
    assert [e for e in ("dim", "data", "SAFE", "*", "tif", "jp2", "zip", "") if is_stored_as_zip(e)] == [
        "dim",
        "data",
        "SAFE",
        "*",
    ]
    assert layer_key(**_s2("zip")).endswith(f"/{S2_SCENE}.zip")
    assert layer_key(**_burst("coregextract", "data")).endswith("_coregextract.zip")


@pytest.mark.parametrize("field", ["aoi", "scene_id", "tile_id", "layer"])
def test_names_cannot_hold_slashes(field: str) -> None:
    args = _burst("sigma0_VV", "tif") | {field: "a/../b"}
    with pytest.raises(StorageError, match=field):
        layer_key(**args)


# --- §7.3 round trips ----------------------------------------------------------------------------


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


@pytest.fixture
def other_workdir(tmp_path: Path) -> Path:
    (tmp_path / "work2").mkdir()
    return tmp_path / "work2"


def test_tif_round_trip_byte_for_byte(storage: LocalStorage, workdir: Path, other_workdir: Path) -> None:
    name = layer_file_name(scene_id=S1_SCENE, tile_id=BURST, date=S1_DATE, layer="sigma0_VV", ext="tif")
    (workdir / name).write_bytes(b"II*\x00 pixels")
    uri = save_layer(storage, workdir, LayerRef(**_burst("sigma0_VV", "tif")))
    assert uri == storage.uri_of(layer_key(**_burst("sigma0_VV", "tif")))
    assert Path(uri).read_bytes() == b"II*\x00 pixels"
    local = import_layer(storage, other_workdir, LayerRef(**_burst("sigma0_VV", "tif")))
    assert local == other_workdir / name
    assert local.read_bytes() == b"II*\x00 pixels"
    assert _no_scratch_left(other_workdir)


def test_dim_round_trip_with_its_data_folder(
    storage: LocalStorage, workdir: Path, other_workdir: Path
) -> None:
    stem = f"20220111_{BURST}_preprocessed"
    (workdir / f"{stem}.dim").write_text("<Dimap_Document/>")
    data = workdir / f"{stem}.data"
    (data / "vector_data").mkdir(parents=True)  # empty folders survive too
    (data / "i_IW1_VV.img").write_bytes(b"\x01\x02")
    (data / "i_IW1_VV.hdr").write_text("ENVI")
    before = _tree(workdir)

    uri = save_layer(storage, workdir, LayerRef(**_burst("preprocessed", "dim")))
    assert uri.endswith(f"{stem}.zip")
    with zipfile.ZipFile(uri) as zf:
        assert {n.split("/")[0] for n in zf.namelist()} == {f"{stem}.dim", f"{stem}.data"}
    assert _no_scratch_left(workdir)

    local = import_layer(storage, other_workdir, LayerRef(**_burst("preprocessed", "dim")))
    assert local == other_workdir / f"{stem}.dim"
    assert _tree(other_workdir) == before


def test_safe_round_trip(storage: LocalStorage, workdir: Path, other_workdir: Path) -> None:
    safe = workdir / f"{S2_SCENE}.SAFE"
    (safe / "GRANULE" / "L1C_T31TDH" / "IMG_DATA").mkdir(parents=True)
    (safe / "GRANULE" / "L1C_T31TDH" / "IMG_DATA" / "T31TDH_B01.jp2").write_bytes(b"jp2")
    (safe / "MTD_MSIL1C.xml").write_text("<x/>")
    before = _tree(workdir)

    uri = save_layer(storage, workdir, LayerRef(**_s2("SAFE")))
    with zipfile.ZipFile(uri) as zf:
        assert all(n.startswith(f"{S2_SCENE}.SAFE/") for n in zf.namelist())
    local = import_layer(storage, other_workdir, LayerRef(**_s2("SAFE")))
    assert local == other_workdir / f"{S2_SCENE}.SAFE"
    assert _tree(other_workdir) == before


def test_star_zips_every_entry_of_the_workdir(
    storage: LocalStorage, workdir: Path, other_workdir: Path
) -> None:
    (workdir / f"{S2_SCENE}.SAFE").mkdir()
    (workdir / f"{S2_SCENE}.SAFE" / "manifest.safe").write_text("<m/>")
    (workdir / "notes.txt").write_text("extra")

    uri = save_layer(storage, workdir, LayerRef(**_s2("*")))
    assert uri.endswith(f"/tiles/{S2_SCENE}/{S2_SCENE}.zip")
    with zipfile.ZipFile(uri) as zf:
        assert sorted(zf.namelist()) == [f"{S2_SCENE}.SAFE/", f"{S2_SCENE}.SAFE/manifest.safe", "notes.txt"]
    assert _no_scratch_left(workdir)

    # '*' unzips into a folder named like the layer file (<scene>), holding the whole content
    local = import_layer(storage, other_workdir, LayerRef(**_s2("*")))
    assert local == other_workdir / S2_SCENE
    assert _tree(local) == _tree(workdir)


def test_product_copied_with_star_is_imported_as_safe(
    storage: LocalStorage, workdir: Path, other_workdir: Path
) -> None:
    """CopyProductToStorage stores '*'; ExtractS2Bands imports the same zip as '__product__.SAFE'."""
    (workdir / f"{S2_SCENE}.SAFE" / "GRANULE").mkdir(parents=True)
    (workdir / f"{S2_SCENE}.SAFE" / "GRANULE" / "band.jp2").write_bytes(b"jp2")
    save_layer(storage, workdir, LayerRef(**_s2("*")))
    local = import_layer(storage, other_workdir, LayerRef(**_s2("SAFE")))
    assert local == other_workdir / f"{S2_SCENE}.SAFE"
    assert (local / "GRANULE" / "band.jp2").read_bytes() == b"jp2"


def test_zip_extension_is_never_unzipped(storage: LocalStorage, workdir: Path, other_workdir: Path) -> None:
    with zipfile.ZipFile(workdir / f"{S2_SCENE}.zip", "w") as zf:
        zf.writestr("inside.txt", "x")
    save_layer(storage, workdir, LayerRef(**_s2("zip")))
    local = import_layer(storage, other_workdir, LayerRef(**_s2("zip")))
    assert local == other_workdir / f"{S2_SCENE}.zip"
    assert zipfile.is_zipfile(local)
    assert not (other_workdir / "inside.txt").exists()


def test_import_replaces_an_existing_folder(
    storage: LocalStorage, workdir: Path, other_workdir: Path
) -> None:
    (workdir / f"{S2_SCENE}.SAFE").mkdir()
    (workdir / f"{S2_SCENE}.SAFE" / "new.txt").write_text("new")
    save_layer(storage, workdir, LayerRef(**_s2("SAFE")))
    (other_workdir / f"{S2_SCENE}.SAFE").mkdir()
    (other_workdir / f"{S2_SCENE}.SAFE" / "stale.txt").write_text("old")
    local = import_layer(storage, other_workdir, LayerRef(**_s2("SAFE")))
    assert sorted(p.name for p in local.iterdir()) == ["new.txt"]


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt", "..\\evil.txt"])
def test_zip_slip_is_rejected(storage: LocalStorage, workdir: Path, tmp_path: Path, member: str) -> None:
    key = layer_key(**_s2("SAFE"))
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"{S2_SCENE}.SAFE/ok.txt", "ok")
        zf.writestr(member, "pwned")
    storage.upload(archive, key)
    with pytest.raises(StorageError, match="escape"):
        import_layer(storage, workdir, LayerRef(**_s2("SAFE")))
    assert not (tmp_path / "evil.txt").exists()
    assert list(workdir.iterdir()) == []


def test_corrupt_zip_is_a_storage_error(storage: LocalStorage, workdir: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    storage.upload(tmp_path / "bad.zip", layer_key(**_s2("SAFE")))
    with pytest.raises(StorageError, match="not a valid zip"):
        import_layer(storage, workdir, LayerRef(**_s2("SAFE")))
    assert list(workdir.iterdir()) == []


def test_import_of_a_missing_layer(storage: LocalStorage, workdir: Path) -> None:
    with pytest.raises(StorageNotFoundError, match=r"File not found: .*preprocessed\.zip"):
        import_layer(storage, workdir, LayerRef(**_burst("preprocessed", "dim")))
    assert list(workdir.iterdir()) == []


def test_save_of_an_incomplete_dimap(storage: LocalStorage, workdir: Path) -> None:
    (workdir / f"20220111_{BURST}_preprocessed.dim").write_text("<Dimap_Document/>")
    with pytest.raises(StorageError, match=r"missing .*preprocessed\.data"):
        save_layer(storage, workdir, LayerRef(**_burst("preprocessed", "dim")))
    assert _no_scratch_left(workdir)


def test_delete_layer_is_idempotent(storage: LocalStorage, workdir: Path) -> None:
    (workdir / f"{S2_SCENE}.SAFE").mkdir()
    (workdir / f"{S2_SCENE}.SAFE" / "f").write_text("x")
    save_layer(storage, workdir, LayerRef(**_s2("SAFE")))
    assert delete_layer(storage, LayerRef(**_s2("SAFE"))) is True
    assert delete_layer(storage, LayerRef(**_s2("SAFE"))) is False
    assert not storage.exists(layer_key(**_s2("SAFE")))


# --- a product stored as it arrived ---------------------------------------------------------------


def _arrived_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


S2_MEMBERS = {
    f"{S2_SCENE}.SAFE/MTD_MSIL1C.xml": b"<x/>",
    f"{S2_SCENE}.SAFE/GRANULE/L1C_T31TDH/IMG_DATA/T31TDH_B01.jp2": b"jp2" * 1000,
}


@pytest.mark.parametrize("ext", ["*", "SAFE", "zip"])
def test_an_arrived_zip_stored_as_it_is_imports_like_one_unpacked_and_zipped_again(
    storage: LocalStorage, workdir: Path, other_workdir: Path, tmp_path: Path, ext: str
) -> None:
    arrived = _arrived_zip(tmp_path / "arrived.zip", S2_MEMBERS)
    entries = check_zip(arrived, archive="arrived.zip")
    assert entries == [f"{S2_SCENE}.SAFE"]
    ref = LayerRef(**_s2(ext))
    uri = save_archive(storage, arrived, ref, entries=entries, move=False)
    assert Path(uri).read_bytes() == arrived.read_bytes(), "stored byte for byte, not zipped again"
    direct = import_layer(storage, other_workdir, ref)

    with zipfile.ZipFile(arrived) as zf:
        zf.extractall(workdir)
    other = LocalStorage(tmp_path / "store2")
    if ext == "zip":
        (workdir / f"{S2_SCENE}.zip").write_bytes(arrived.read_bytes())
    save_layer(other, workdir, ref)
    (tmp_path / "work3").mkdir()
    again = import_layer(other, tmp_path / "work3", ref)
    assert direct.name == again.name
    if ext == "zip":
        assert direct.read_bytes() == again.read_bytes() == arrived.read_bytes()
    else:
        assert _tree(direct) == _tree(again)
        assert [p.read_bytes() for p in direct.rglob("MTD_MSIL1C.xml")] == [b"<x/>"]


def test_archive_is_layer_only_for_the_product_in_a_zipped_kind() -> None:
    safe = [f"{S2_SCENE}.SAFE"]
    assert archive_is_layer(safe, LayerRef(**_s2("SAFE")))
    assert archive_is_layer(safe, LayerRef(**_s2("*")))
    assert not archive_is_layer(["other.SAFE"], LayerRef(**_s2("SAFE"))), "no <scene>.SAFE in it"
    assert archive_is_layer(["other.SAFE"], LayerRef(**_s2("*")))
    assert not archive_is_layer([*safe, "__MACOSX"], LayerRef(**_s2("*"))), "unpacking would drop it"
    assert not archive_is_layer(safe, LayerRef(**_s2("tif", layer="B01")))
    assert not archive_is_layer(safe, LayerRef(**_s2("dim")))
    assert not archive_is_layer([], LayerRef(**_s2("*")))


def test_save_archive_refuses_a_zip_that_is_not_the_layer(storage: LocalStorage, tmp_path: Path) -> None:
    arrived = _arrived_zip(tmp_path / "a.zip", {"other.SAFE/x": b"x"})
    with pytest.raises(StorageError, match=r"not the stored form of .*\.SAFE"):
        save_archive(storage, arrived, LayerRef(**_s2("SAFE")), entries=["other.SAFE"], move=True)
    assert arrived.is_file() and not storage.list_keys("MyAOI/")


def test_check_zip_reads_every_member_through(tmp_path: Path) -> None:
    arrived = _arrived_zip(tmp_path / "a.zip", S2_MEMBERS)
    data = bytearray(arrived.read_bytes())
    at = data.index(b"MTD_MSIL1C.xml") + len("MTD_MSIL1C.xml")  # the first member's data follows its name
    data[at + 1] ^= 0xFF
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(StorageError, match=r"corrupt\.zip: not a valid zip"):
        check_zip(corrupt, archive="corrupt.zip")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(arrived.read_bytes()[: len(data) // 2])
    with pytest.raises(StorageError, match=r"truncated\.zip: not a valid zip"):
        check_zip(truncated, archive="truncated.zip")
    evil = _arrived_zip(tmp_path / "evil.zip", {"../evil.txt": b"x"})
    with pytest.raises(StorageError, match="would escape"):
        check_zip(evil, archive="evil.zip")


class _RemoteStorage:
    """A storage without local files (what object storage will be): import must download first."""

    def __init__(self, inner: LocalStorage) -> None:
        self.inner = inner
        self.downloads: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def local_path(self, key: str) -> Path | None:
        return None

    def download(self, key: str, local_path: Path) -> None:
        self.downloads.append(key)
        self.inner.download(key, local_path)


def test_import_unzips_where_the_zip_lies_or_downloads_it_first(
    storage: LocalStorage, workdir: Path, other_workdir: Path, tmp_path: Path
) -> None:
    arrived = _arrived_zip(tmp_path / "a.zip", S2_MEMBERS)
    ref = LayerRef(**_s2("SAFE"))
    save_archive(storage, arrived, ref, entries=[f"{S2_SCENE}.SAFE"], move=False)
    local = import_layer(storage, workdir, ref)
    assert _no_scratch_left(workdir)
    remote = _RemoteStorage(storage)
    fetched = import_layer(remote, other_workdir, ref)  # type: ignore[arg-type]
    assert remote.downloads == [ref.key] and _no_scratch_left(other_workdir)
    assert _tree(local) == _tree(fetched)
