"""Landsat Collection 2 Level-2 metadata and QA_PIXEL on real files: LC08_L2SP_008059_20191201_20200825_02_T1.

The three MTL forms (json, xml, txt) and the 512x512 QA_PIXEL and SR_B4 crops are USGS's own files
(../shared/fixtures/PROVENANCE.md). QA_PIXEL bits: Landsat 8-9 C2 L2 Science Product Guide (LSDS-1619).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from graphs.errors import GraphError
from graphs.landsat import (
    QA_PIXEL_BITS,
    decode_qa_pixel,
    find_mtl,
    parse_mtl,
    qa_pixel_confidence,
    read_landsat_metadata,
)

PRODUCT = "LC08_L2SP_008059_20191201_20200825_02_T1"
SR_L8 = [f"SR_B{n}" for n in range(1, 8)]


@pytest.fixture(scope="module")
def product_dir(shared_fixtures: Path) -> Path:
    path = shared_fixtures / "landsat" / PRODUCT
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the real Landsat 8 C2 L2 product subset is needed")
    return path


@pytest.fixture(scope="module")
def real_qa(product_dir: Path) -> np.ndarray:
    with rasterio.open(product_dir / f"{PRODUCT}_QA_PIXEL.TIF") as dataset:
        qa: np.ndarray = dataset.read(1)
    return qa


def _mtl(product_dir: Path, form: str) -> bytes:
    return (product_dir / f"{PRODUCT}_MTL.{form}").read_bytes()


@pytest.mark.parametrize("form", ["json", "xml", "txt"])
def test_each_real_mtl_form_gives_the_collections_radiometry(product_dir: Path, form: str) -> None:
    metadata = parse_mtl(_mtl(product_dir, form), name=f"{PRODUCT}_MTL.{form}")
    assert (metadata.product_id, metadata.processing_level) == (PRODUCT, "L2SP")
    assert (metadata.collection_number, metadata.collection_category) == (2, "T1")
    assert (metadata.spacecraft, metadata.sensor) == ("LANDSAT_8", "OLI_TIRS")
    assert list(metadata.bands) == [*SR_L8, "ST_B10", "QA_PIXEL"]
    for layer in SR_L8:
        assert metadata.bands[layer].scale_offset == (2.75e-05, -0.2)
        assert metadata.bands[layer].file_name == f"{PRODUCT}_{layer}.TIF"
        assert metadata.bands[layer].nodata == 0
    assert metadata.bands["ST_B10"].scale_offset == (0.00341802, 149.0)
    assert metadata.bands["QA_PIXEL"].scale_offset is None
    assert metadata.bands["QA_PIXEL"].nodata == 1  # QA_PIXEL fill is the value 1 (bit 0 only)


def test_the_three_forms_parse_to_the_same_metadata(product_dir: Path) -> None:
    parsed = [parse_mtl(_mtl(product_dir, f), name=f"{PRODUCT}_MTL.{f}") for f in ("json", "xml", "txt")]
    assert parsed[0] == parsed[1] == parsed[2]
    assert (
        "reflectance = DN * 2.75e-05 - 0.2; temperature (K) = DN * 0.00341802 + 149" in parsed[0].describe()
    )


def test_json_is_preferred_then_xml_then_txt(product_dir: Path, tmp_path: Path) -> None:
    for path in product_dir.glob("*_MTL.*"):
        shutil.copyfile(path, tmp_path / path.name)
    seen = []
    for form in ("json", "xml", "txt"):
        found = find_mtl(tmp_path)
        assert found is not None and found.name == f"{PRODUCT}_MTL.{form}"
        seen.append(read_landsat_metadata(tmp_path))
        found.unlink()
    assert seen[0] == seen[1] == seen[2]
    assert seen[2].source == f"{tmp_path.name}/{PRODUCT}_MTL.txt"
    with pytest.raises(
        GraphError, match=r"no \*_MTL.json, \*_MTL.xml or \*_MTL.txt: the product is incomplete"
    ):
        read_landsat_metadata(tmp_path)


def test_tm_and_etm_products_have_their_temperature_in_st_b6(product_dir: Path) -> None:
    """LE07/LT05 Level-2 MTLs name the same keys with ST_B6 and no SR band 6 (LSDS-1618); derived from
    the real Landsat 8 MTL by that documented difference, not a recorded LE07 file."""
    text = _mtl(product_dir, "txt").decode()
    text = text.replace("ST_B10", "ST_B6").replace("LC08_", "LE07_").replace('"LANDSAT_8"', '"LANDSAT_7"')
    text = "\n".join(line for line in text.splitlines() if "FILE_NAME_BAND_6 " not in line)
    metadata = parse_mtl(text.encode(), name="LE07_MTL.txt")
    assert list(metadata.bands) == ["SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B7", "ST_B6", "QA_PIXEL"]
    assert metadata.bands["ST_B6"].scale_offset == (0.00341802, 149.0)
    assert metadata.bands["ST_B6"].file_name.endswith("_ST_B6.TIF")


def _edited_txt(product_dir: Path, old: str, new: str) -> bytes:
    text = _mtl(product_dir, "txt").decode()
    assert old in text
    return text.replace(old, new, 1).encode()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'PROCESSING_LEVEL = "L2SP"',
            'PROCESSING_LEVEL = "L1TP"',
            "is a L1TP product; ExtractLandsatBands reads",
        ),
        ("COLLECTION_NUMBER = 02", "COLLECTION_NUMBER = 01", "of collection 1; only Collection 2"),
        ("REFLECTANCE_MULT_BAND_4 = 2.75e-05", "", "REFLECTANCE_MULT_BAND_4 is missing"),
        ("REFLECTANCE_ADD_BAND_4 = -0.2", "REFLECTANCE_ADD_BAND_4 = minus", "'minus' is not a number"),
        ("TEMPERATURE_MULT_BAND_ST_B10 = 0.00341802", "TEMPERATURE_MULT_BAND_ST_B10 = 0", "positive scale"),
        (f'"{PRODUCT}_SR_B4.TIF"', '"../SR_B4.TIF"', "is not a plain file name"),
        ("END_GROUP = PRODUCT_CONTENTS", "END_GROUP = OTHER", "closes no open group"),
        ("DATUM = ", "DATUM ", "is not 'KEY = value' ODL"),
    ],
)
def test_a_bad_mtl_is_a_typed_error_naming_the_key(
    product_dir: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(GraphError, match=message):
        parse_mtl(_edited_txt(product_dir, old, new), name="X_MTL.txt")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("X_MTL.json", b"[1, 2]", "no LANDSAT_METADATA_FILE group"),
        ("X_MTL.json", b'{"LANDSAT_METADATA_FILE": {"PRODUCT_CONTENTS": 3}}', "PROCESSING_LEVEL is missing"),
        ("X_MTL.json", b"{not json", "not valid JSON"),
        ("X_MTL.json", b"\xff\xfe", "not UTF-8"),
        ("X_MTL.xml", b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", "DTD"),
        ("X_MTL.xml", b"<other/>", "no LANDSAT_METADATA_FILE group"),
        ("X_MTL.txt", b"GROUP = LANDSAT_METADATA_FILE\n", "never closed"),
        ("X_MTL.yaml", b"", "unknown MTL form"),
    ],
)
def test_garbage_is_a_typed_error(name: str, data: bytes, message: str) -> None:
    with pytest.raises(GraphError, match=message):
        parse_mtl(data, name=name)


def test_qa_values_decode_to_their_documented_flags() -> None:
    values = np.array([1, 21824, 22280, 55052, 21952], dtype=np.uint16)
    flags = decode_qa_pixel(values)
    assert set(flags) == set(QA_PIXEL_BITS)
    on = {name: [bool(x) for x in mask] for name, mask in flags.items()}
    assert on["fill"] == [True, False, False, False, False]  # 1: designated fill, nothing else
    assert on["clear"] == [False, True, False, False, True]  # 21824 = 0b0101_0101_0100_0000: clear, low conf
    assert on["cloud"] == [False, False, True, True, False]  # 22280: cloud, high cloud confidence
    assert on["cirrus"] == [False, False, False, True, False]  # 55052: cloud + cirrus, high cirrus conf
    assert on["water"] == [False, False, False, False, True]  # 21952: clear water
    assert list(qa_pixel_confidence(values, "cloud")) == [0, 1, 3, 3, 1]
    assert list(qa_pixel_confidence(values, "cirrus")) == [0, 1, 1, 3, 1]
    with pytest.raises(GraphError, match="unknown; known: cloud, cloud_shadow, snow_ice, cirrus"):
        qa_pixel_confidence(values, "haze")


def test_the_real_qa_pixel_crop_decodes_consistently(real_qa: np.ndarray) -> None:
    """Every pixel is fill (exactly 1), or has only the bits a valid pixel can have, as USGS sets them."""
    flags = decode_qa_pixel(real_qa)
    fill = flags["fill"]
    counts = {name: int(mask.sum()) for name, mask in flags.items()}
    # 262 144 pixels of a 81 %-cloudy scene (CLOUD_COVER = 81.02 in its MTL).
    assert counts == {
        "fill": 81507,
        "dilated_cloud": 5753,
        "cirrus": 9879,
        "cloud": 146419,
        "cloud_shadow": 11209,
        "snow": 0,
        "clear": 28465,
        "water": 85,
    }
    assert (real_qa[fill] == 1).all()  # a fill pixel has no other bit
    valid = ~fill
    assert not any(mask[fill].any() for name, mask in flags.items() if name != "fill")
    # Bit 6 (clear) is set exactly when neither cloud (3) nor dilated cloud (1) is.
    assert np.array_equal(flags["clear"][valid], ~(flags["cloud"] | flags["dilated_cloud"])[valid])
    # The cloud and cirrus bits are their high-confidence classes; every valid pixel has a cloud confidence.
    assert np.array_equal(flags["cloud"], qa_pixel_confidence(real_qa, "cloud") == 3)
    assert np.array_equal(flags["cirrus"], qa_pixel_confidence(real_qa, "cirrus") == 3)
    assert (qa_pixel_confidence(real_qa, "cloud")[valid] >= 1).all()
    assert int(valid.sum()) == 262144 - 81507


def test_every_fill_pixel_of_sr_b4_is_fill_in_qa_pixel(product_dir: Path, real_qa: np.ndarray) -> None:
    with rasterio.open(product_dir / f"{PRODUCT}_SR_B4.TIF") as dataset:
        sr = dataset.read(1)
    fill = decode_qa_pixel(real_qa)["fill"]
    assert int((sr == 0).sum()) == 80464
    assert fill[sr == 0].all()
    # QA_PIXEL's fill covers 1043 more pixels, all along the footprint's edge (within 2.3 pixels of SR_B4's
    # fill): they have SR_B4 data.
    assert int((fill & (sr != 0)).sum()) == 1043
