"""Hostile product zips end in a typed error naming the member and the fix, before anything is written.

The shapes the outside probe (issue 12) crashed on or unpacked wrongly: encrypted members, AES and zstd
methods, a 300-character member name, a name that is both a file and a folder, duplicate members, two
``.SAFE`` products in one zip, a zip bomb, a product larger than the cap; then 1 000 random corruptions
of a real-shaped zip, each either read or refused with the ingester's own error.
"""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.errors import IngestError
from providers.errors import DownloadError
from providers.unpack import check_archive, unpack_product
from storage.errors import StorageError
from storage.layout import UnpackLimits, check_zip, extract_zip_safely


def make_zip(members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on a duplicate name: what some tests want
        with zipfile.ZipFile(buffer, "w", compression=method) as zf:
            for name, body in members.items():
                zf.writestr(name.split("#dup")[0], body)
    return buffer.getvalue()


def patch_headers(data: bytes, *, flag_bits: int | None = None, method: int | None = None) -> bytes:
    """Set the general purpose flags and/or the method in every local and central header."""
    out = bytearray(data)
    for signature, flags_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        start = 0
        while (at := out.find(signature, start)) != -1:
            if flag_bits is not None:
                struct.pack_into("<H", out, at + flags_at, flag_bits)
            if method is not None:
                struct.pack_into("<H", out, at + method_at, method)
            start = at + 4
    return bytes(out)


def write(tmp_path: Path, data: bytes, name: str = "product.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


SAFE = {"S2A_X.SAFE/manifest.safe": b"<xml/>", "S2A_X.SAFE/GRANULE/B04.jp2": b"\x00" * 1000}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (patch_headers(make_zip(SAFE), flag_bits=0x1), "is encrypted; it cannot be unpacked"),
        (patch_headers(make_zip(SAFE), method=99), "compression method 99, which cannot be read"),
        (patch_headers(make_zip(SAFE), method=93), "compression method 93, which cannot be read"),
        (make_zip({"S2A_X.SAFE/" + "n" * 300: b"x"}), "a name of 300 bytes, longer than a file name"),
        (
            make_zip({"S2A_X.SAFE/a": b"file", "S2A_X.SAFE/a/b": b"x"}),
            "'S2A_X.SAFE/a' is both a file and a folder",
        ),
        (
            make_zip({"S2A_X.SAFE/m": b"1", "S2A_X.SAFE/m#dup": b"2"}),
            "'S2A_X.SAFE/m' is in the archive twice",
        ),
    ],
)
def test_hostile_members_are_refused_by_the_check_and_the_unpacking(
    tmp_path: Path, data: bytes, message: str
) -> None:
    archive = write(tmp_path, data)
    with pytest.raises(DownloadError, match=message):
        check_archive(archive)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DownloadError, match=message):
        unpack_product(archive, out)
    assert list(out.iterdir()) == []  # nothing half-extracted


def test_a_zip_bomb_is_refused_by_its_ratio_before_anything_is_written(tmp_path: Path) -> None:
    archive = write(tmp_path, make_zip({"S2A_X.SAFE/zeros.bin": b"\x00" * (64 << 20)}))
    assert archive.stat().st_size < 1 << 20
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(
        DownloadError, match=r"expands \d+ times.*GEOCUBE_INGESTER_UNPACK_MAX_RATIO.*zip bomb"
    ):
        unpack_product(archive, out)
    assert list(out.iterdir()) == []
    with pytest.raises(IngestError) as raised:
        check_archive(archive)
    assert not raised.value.__class__.__name__.endswith("TemporaryError")  # a cap is permanent


def test_the_size_cap_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = write(
        tmp_path, make_zip({"S2A_X.SAFE/data.bin": bytes(range(256)) * 8192}, method=zipfile.ZIP_STORED)
    )
    monkeypatch.setenv("GEOCUBE_INGESTER_UNPACK_MAX_GB", "0.0009765625")
    with pytest.raises(
        StorageError, match=r"more than the cap of 0.000976562 GiB \(GEOCUBE_INGESTER_UNPACK_MAX_GB\)"
    ):
        check_zip(archive, archive=archive.name)
    monkeypatch.delenv("GEOCUBE_INGESTER_UNPACK_MAX_GB")
    assert check_zip(archive, archive=archive.name) == ["S2A_X.SAFE"]


def test_two_safe_products_in_one_zip_are_ambiguous(tmp_path: Path) -> None:
    archive = write(tmp_path, make_zip({"S2A_X.SAFE/m": b"1", "S2B_Y.SAFE/m": b"2"}))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DownloadError, match=r"holds 2 \.SAFE products"):
        unpack_product(archive, out)


def test_not_enough_room_is_said_before_unpacking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from providers.errors import DownloadTemporaryError

    archive = write(tmp_path, make_zip(SAFE))
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=10))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DownloadTemporaryError, match=r"GiB free; free space in the work directory"):
        unpack_product(archive, out)
    assert list(out.iterdir()) == []


VALID = make_zip(SAFE | {"S2A_X.SAFE/GRANULE/MTD.xml": b"<a>" + b"text " * 200 + b"</a>"})


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(0, len(VALID))),
)
def test_random_corruptions_are_read_or_refused_never_a_crash(
    tmp_path: Path, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(VALID)
    for at, value in edits:
        data[at] = value
    archive = write(tmp_path, bytes(data[:cut]) if cut is not None else bytes(data))
    target = tmp_path / "x"
    try:
        check_zip(archive, archive=archive.name)
        extract_zip_safely(archive, target, archive=archive.name)
    except IngestError:
        pass
    assert UnpackLimits().max_ratio == 1000.0
