"""Reading annotation files from local folders, zips, file:// URLs and fsspec (memory://) stores."""

from __future__ import annotations

import logging
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from catalogue.annotations import annotation_member_regex, read_annotations
from catalogue.errors import CatalogueError
from common.errors import ProductUnavailableError, is_temporary
from common.redaction import redact_url

P7768 = "S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768"
BA76 = "S1A_IW_SLC__1SDV_20230108T135249_20230108T135316_046693_0598D3_BA76"
EFA4 = "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4"
EFA4_ANNOTATIONS = [
    f"{EFA4}.SAFE/annotation/s1b-iw1-slc-vh-20210401t052624-20210401t052649-026269-032297-001.xml",
    f"{EFA4}.SAFE/annotation/s1b-iw1-slc-vv-20210401t052624-20210401t052649-026269-032297-004.xml",
    f"{EFA4}.SAFE/annotation/s1b-iw2-slc-vh-20210401t052622-20210401t052650-026269-032297-002.xml",
]


@pytest.fixture
def s1(shared_fixtures: Path) -> Path:
    return shared_fixtures / "s1"


def test_local_safe_folder(s1: Path) -> None:
    files = read_annotations(P7768, [f"{s1}/{{SCENE}}.SAFE"])
    names = [name for name, _ in files]
    assert len(files) == 6  # 3 swaths x VV/VH; calibration/ and noise files excluded
    assert names == sorted(names)
    assert all(n.startswith(f"{P7768}.SAFE/annotation/s1a-iw") for n in names)
    for name, xml in files:
        assert xml == (s1 / name).read_bytes()


def test_a_parent_folder_is_walked_for_the_scene_only(s1: Path) -> None:
    assert [n for n, _ in read_annotations(BA76, [str(s1)])] == [
        f"{BA76}.SAFE/annotation/s1a-iw2-slc-vv-20230108t135251-20230108t135316-046693-0598d3-005.xml"
    ]  # the rfi/ sub-folder is not taken


def test_local_zip(s1: Path) -> None:
    files = read_annotations(EFA4, [f"{s1}/{{SCENE}}.zip"])
    assert [name for name, _ in files] == EFA4_ANNOTATIONS
    with zipfile.ZipFile(s1 / f"{EFA4}.zip") as archive:
        assert all(xml == archive.read(name) for name, xml in files)


def test_file_urls(s1: Path) -> None:
    assert len(read_annotations(EFA4, [(s1 / f"{EFA4}.zip").as_uri()])) == 3
    assert len(read_annotations(P7768, [(s1 / f"{P7768}.SAFE").as_uri()])) == 6
    assert len(read_annotations(P7768, [f"file://localhost{s1}/{{SCENE}}.SAFE"])) == 6


def test_the_first_pattern_that_yields_files_wins(s1: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    patterns = [
        f"{tmp_path}/missing/{{SCENE}}.zip",
        f"{tmp_path}/empty",
        f"{s1}/{{SCENE}}.zip",
        "/never/read",
    ]
    assert [n for n, _ in read_annotations(EFA4, patterns)] == EFA4_ANNOTATIONS


def test_area_and_name_keys_are_expanded(s1: Path, tmp_path: Path) -> None:
    target = tmp_path / "Denmark" / "S1B" / "2021"
    target.mkdir(parents=True)
    shutil.copy(s1 / f"{EFA4}.zip", target / f"{EFA4}.zip")
    pattern = f"{tmp_path}/{{AREA}}/{{MISSION_ID}}/{{YEAR}}/{{SCENE}}.zip"
    assert len(read_annotations(EFA4, [pattern], area="Denmark")) == 3


def test_errors_of_every_pattern_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProductUnavailableError) as caught:
        read_annotations(EFA4, [f"{tmp_path}/{{SCENE}}.zip", f"{tmp_path}/empty"])
    message = str(caught.value)
    assert message.startswith(f"{EFA4}: no annotation file found by 2 pattern(s)")
    assert rf"{EFA4}\.SAFE/annotation/s1[^/]*\.xml" in message  # what was looked for
    assert f"{tmp_path}/{{SCENE}}.zip: {tmp_path}/{EFA4}.zip: no such file or folder" in message
    assert f"{tmp_path}/empty: found, but it holds no annotation file" in message
    assert not is_temporary(caught.value)


def test_a_permanent_failure_beats_unavailable_ones(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError) as caught:
        read_annotations(EFA4, [f"{tmp_path}/{{SCENE}}.zip", f"{tmp_path}/{{NOPE}}.zip"])
    assert "unknown key(s) {NOPE}" in str(caught.value)


def test_no_pattern_is_an_error() -> None:
    with pytest.raises(CatalogueError, match="no annotation URL pattern given"):
        read_annotations(EFA4, [])


def test_not_a_zip_is_an_error(tmp_path: Path) -> None:
    (tmp_path / f"{EFA4}.zip").write_text("not a zip")
    with pytest.raises(CatalogueError, match="not a valid zip file"):
        read_annotations(EFA4, [f"{tmp_path}/{{SCENE}}.zip"])


def test_corrupt_member_is_an_error(tmp_path: Path) -> None:
    name = f"{EFA4}.SAFE/annotation/s1b-x.xml"
    with zipfile.ZipFile(tmp_path / "p.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, b"<product>" + b"burst " * 10_000 + b"</product>")
    data = bytearray((tmp_path / "p.zip").read_bytes())
    data[100:140] = bytes(40)  # inside the compressed data
    (tmp_path / "p.zip").write_bytes(bytes(data))
    with pytest.raises(CatalogueError, match="not a valid zip file"):
        read_annotations(EFA4, [f"{tmp_path}/p.zip"])


def test_member_regex_is_anchored_and_escaped(tmp_path: Path) -> None:
    names = [
        f"X{EFA4}.SAFE/annotation/s1b-prefixed.xml",  # another product whose name ends like this one
        f"{EFA4}XSAFE/annotation/s1b-any-char.xml",  # the original's unescaped dot took this
        f"{EFA4}.SAFE/annotation/s1b-suffix.xml.bak",
        f"{EFA4}.SAFE/annotation/s1b-xml",
        f"{EFA4}.SAFE/annotation/calibration/s1b-calibration.xml",
        f"{EFA4}.SAFE/annotation/rfi/s1b-rfi.xml",
        f"deep/folder/{EFA4}.SAFE/annotation/s1b-good.xml",
    ]
    with zipfile.ZipFile(tmp_path / "product.zip", "w") as archive:
        for name in names:
            archive.writestr(name, b"<product/>")
    files = read_annotations(EFA4, [f"{tmp_path}/product.zip"])
    assert files == [(f"{EFA4}.SAFE/annotation/s1b-good.xml", b"<product/>")]
    assert annotation_member_regex(EFA4).search(f"{EFA4}.SAFE/annotation/s1b-x.xml")


@pytest.fixture
def memory_root() -> Iterator[str]:
    fs = fsspec.filesystem("memory")
    root = f"/test-annotations-{uuid.uuid4().hex}"
    fs.mkdir(root)
    yield root
    fs.rm(root, recursive=True)


def test_fsspec_zip_and_folder(s1: Path, memory_root: str) -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe(f"{memory_root}/zips/{EFA4}.zip", (s1 / f"{EFA4}.zip").read_bytes())
    for path in sorted((s1 / f"{P7768}.SAFE").rglob("*.xml")):
        fs.pipe(f"{memory_root}/safe/{path.relative_to(s1).as_posix()}", path.read_bytes())
    assert [
        n for n, _ in read_annotations(EFA4, [f"memory://{memory_root}/zips/{{SCENE}}.zip"])
    ] == EFA4_ANNOTATIONS
    from_folder = read_annotations(P7768, [f"memory://{memory_root}/safe/{{SCENE}}.SAFE"])
    assert from_folder == read_annotations(P7768, [f"{s1}/{{SCENE}}.SAFE"])


def test_fsspec_missing_product_and_unknown_protocol(memory_root: str) -> None:
    with pytest.raises(ProductUnavailableError, match="no such file or folder"):
        read_annotations(EFA4, [f"memory://{memory_root}/{{SCENE}}.zip"])
    with pytest.raises(CatalogueError, match="cannot open this kind of URL"):
        read_annotations(EFA4, ["nosuchprotocol://bucket/{SCENE}.zip"])


def test_tokens_never_reach_messages_or_logs(memory_root: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    patterns = [
        f"memory://{memory_root}/{{SCENE}}.zip?token=SECRET",
        "memory://user:SECRET@bucket/{SCENE}.zip",
        "memory://bucket/{SCENE}.zip?sig={NOPE}&token=SECRET",
        "memory://user:SECRET@bucket/{NOPE}.zip?token=SECRET",
    ]
    with pytest.raises(CatalogueError) as caught:
        read_annotations(EFA4, patterns)
    assert "SECRET" not in str(caught.value)
    assert "unknown {KEY} in its query string" in str(caught.value)
    assert "'memory://bucket/{NOPE}.zip': unknown key(s) {NOPE}" in str(caught.value)
    chained: BaseException | None = caught.value
    while chained is not None:  # nor the exceptions it was raised from
        assert "SECRET" not in str(chained)
        chained = chained.__cause__ or chained.__context__
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("catalogue")]
    assert ours  # each failing pattern is logged...
    assert not [m for m in ours if "SECRET" in m]  # ...without its secrets


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@host:8443/a/b.zip?X-Amz-Signature=abc#frag", "https://host:8443/a/b.zip"),
        ("s3://bucket/key.zip?versionId=1", "s3://bucket/key.zip"),
        ("/data/{SCENE}.zip", "/data/{SCENE}.zip"),
        ("memory:///root/x.zip", "memory:///root/x.zip"),
        ("C:/data/x.zip", "C:/data/x.zip"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
