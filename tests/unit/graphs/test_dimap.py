"""Finding the MS and P images of a Pléiades/SPOT DIMAP bundle (graphs.dimap), on generated bundles.

The bundles (tests/support/dimap_product.py) have the DIMAP v2 structure GDAL's DIMAP driver reads; no
real Pléiades or SPOT product is public.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from graphs.dimap import (
    find_dimap_files,
    list_dimap_images,
    read_dimap_image,
    select_ms_and_pan,
    volume_components,
)
from graphs.errors import GraphError
from tests.support.dimap_product import GeneratedImage, make_dimap_product


def assert_read_as(dim: Path, expected: GeneratedImage) -> None:
    with rasterio.open(dim) as dataset:
        assert dataset.crs == expected.crs
        assert dataset.transform == expected.transform
        np.testing.assert_array_equal(dataset.read(), expected.pixels)


def test_a_pleiades_bundle_has_one_ms_and_one_p_with_their_georeferencing(tmp_path: Path) -> None:
    product = make_dimap_product(tmp_path / "delivery")
    assert find_dimap_files(tmp_path) == [product.volume]
    ms, pan = select_ms_and_pan(list_dimap_images(tmp_path, constellation="PHR"), where=tmp_path)
    assert (ms.dim_path, ms.spectral_processing, ms.count, ms.width, ms.height) == (
        product.ms.dim_path, "MS", 4, 64, 64
    )  # fmt: skip
    assert (pan.dim_path, pan.spectral_processing, pan.count, pan.width, pan.height) == (
        product.pan.dim_path, "P", 1, 256, 256
    )  # fmt: skip
    for image, expected in ((ms, product.ms), (pan, product.pan)):
        assert image.crs.to_epsg() == 32631
        assert image.transform == expected.transform
        assert (image.dtype, image.nodata) == ("uint16", 0.0)
    assert ms.transform.a == 2.0 and pan.transform.a == 0.5


def test_the_volume_lists_what_gdal_lists_as_subdatasets(tmp_path: Path) -> None:
    """Our reading of the volume and GDAL's subdatasets name the same products, with the same pixels."""
    product = make_dimap_product(tmp_path, pan_tiles_per_side=2)
    assert product.volume is not None
    assert volume_components(product.volume) == [product.ms.dim_path, product.pan.dim_path]
    with rasterio.open(product.volume) as volume:
        subdatasets = volume.subdatasets
    assert len(subdatasets) == 2
    for name, expected in zip(subdatasets, (product.ms, product.pan), strict=True):
        with rasterio.open(name) as dataset:
            assert dataset.tags()["SPECTRAL_PROCESSING"] == expected.spectral_processing
        assert_read_as(expected.dim_path, expected)


def test_tiles_are_mosaicked_in_row_and_column_order(tmp_path: Path) -> None:
    product = make_dimap_product(tmp_path, pan_tiles_per_side=4, ms_tiles_per_side=2)
    assert len(product.pan.tiles) == 16 and product.pan.tiles[1].name.endswith("_R1C2.TIF")
    assert_read_as(product.pan.dim_path, product.pan)
    assert_read_as(product.ms.dim_path, product.ms)


def test_jpeg2000_tiles(tmp_path: Path) -> None:
    product = make_dimap_product(tmp_path, image_format="JP2", ms_size=32)
    ms, pan = select_ms_and_pan(list_dimap_images(tmp_path), where=tmp_path)
    assert (ms.count, pan.count) == (4, 1)
    assert_read_as(pan.dim_path, product.pan)


def test_without_insert_point_the_georeferencing_comes_from_the_upper_left_tile(tmp_path: Path) -> None:
    product = make_dimap_product(tmp_path, with_insert=False)
    image = read_dimap_image(product.pan.dim_path)
    assert image.transform == product.pan.transform


def test_a_spot_bundle_and_the_constellation_filter(tmp_path: Path) -> None:
    product = make_dimap_product(tmp_path, constellation="SPOT")
    assert product.volume is not None and product.volume.name == "SPOT_VOL.XML"
    ms, pan = select_ms_and_pan(list_dimap_images(tmp_path, constellation="spot"), where=tmp_path)
    assert (ms.transform.a, pan.transform.a) == (6.0, 1.5)
    with pytest.raises(GraphError, match=r"no DIMAP volume \(VOL_PHR\.XML\) nor product file \(DIM_PHR1A_"):
        list_dimap_images(tmp_path, constellation="PHR")
    with pytest.raises(GraphError, match="DIMAP products are PHR or SPOT"):
        find_dimap_files(tmp_path, constellation="Sentinel2")


def test_without_a_volume_the_products_dim_files_are_read(tmp_path: Path) -> None:
    product = make_dimap_product(tmp_path, with_volume=False)
    assert find_dimap_files(tmp_path) == [product.ms.dim_path, product.pan.dim_path]
    ms, pan = select_ms_and_pan(list_dimap_images(tmp_path), where=tmp_path)
    assert (ms.dim_path, pan.dim_path) == (product.ms.dim_path, product.pan.dim_path)


def test_an_empty_folder_says_what_was_looked_for(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("not a product")
    with pytest.raises(GraphError) as caught:
        find_dimap_files(tmp_path)
    message = str(caught.value)
    assert "VOL_PHR.XML, SPOT_VOL.XML" in message and "DIM_SPOT6_*.XML" in message
    assert str(tmp_path) in message


def test_a_product_the_volume_names_but_the_delivery_lacks_is_named(tmp_path: Path) -> None:
    product = make_dimap_product(tmp_path)
    product.pan.dim_path.unlink()
    relative = product.pan.dim_path.relative_to(tmp_path).as_posix()
    with pytest.raises(GraphError, match=f"names the product '{relative}', which is missing"):
        list_dimap_images(tmp_path)


def test_a_missing_tile_is_named(tmp_path: Path) -> None:
    product = make_dimap_product(tmp_path, pan_tiles_per_side=2)
    product.pan.tiles[3].unlink()
    with pytest.raises(GraphError, match=f"its image tiles {product.pan.tiles[3].name} are missing"):
        list_dimap_images(tmp_path)


def test_a_bundle_without_p_lists_what_it_has(tmp_path: Path) -> None:
    make_dimap_product(tmp_path, spectral=("MS", "MS"))
    with pytest.raises(GraphError) as caught:
        select_ms_and_pan(list_dimap_images(tmp_path), where=tmp_path)
    message = str(caught.value)
    assert "2 multispectral product (SPECTRAL_PROCESSING MS) in the delivery, one needed" in message
    assert "DIM_PHR1A_MS_" in message


def test_a_pan_sharpened_product_is_not_extracted(tmp_path: Path) -> None:
    make_dimap_product(tmp_path, spectral=("PMS", "P"))
    with pytest.raises(GraphError, match=r"no multispectral product .* found: DIM_PHR1A_PMS_\S+ \(PMS\)"):
        select_ms_and_pan(list_dimap_images(tmp_path), where=tmp_path)


def test_a_sensor_product_is_refused_as_not_georeferenced(tmp_path: Path) -> None:
    make_dimap_product(tmp_path, georeferenced=False)
    with pytest.raises(GraphError, match=r"not georeferenced \(processing level SENSOR\).*order an ortho"):
        list_dimap_images(tmp_path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"<Dimap_Document><Dataset_Content>", "not valid XML"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><Dimap_Document/>', "a DTD or entity declaration"),
        (b"<Dimap_Document><Dataset_Content/></Dimap_Document>", "no DIMAP product in Dataset_Content"),
    ],
)
def test_a_broken_volume_is_a_typed_error(tmp_path: Path, text: bytes, problem: str) -> None:
    (tmp_path / "VOL_PHR.XML").write_bytes(text)
    with pytest.raises(GraphError, match=problem):
        list_dimap_images(tmp_path)


def test_a_component_pointing_outside_the_delivery_is_refused(tmp_path: Path) -> None:
    outside = make_dimap_product(tmp_path / "elsewhere")
    delivery = tmp_path / "delivery"
    delivery.mkdir()
    href = f"../elsewhere/{outside.ms.dim_path.relative_to(tmp_path / 'elsewhere').as_posix()}"
    (delivery / "VOL_PHR.XML").write_text(
        "<Dimap_Document><Dataset_Content><Dataset_Components><Component>"
        f'<COMPONENT_TYPE>DIMAP</COMPONENT_TYPE><COMPONENT_PATH href="{href}"/>'
        "</Component></Dataset_Components></Dataset_Content></Dimap_Document>"
    )
    with pytest.raises(GraphError, match="points outside the delivery"):
        list_dimap_images(delivery)


def test_a_spot_volume_may_be_named_after_its_satellite(tmp_path: Path) -> None:
    product = make_dimap_product(tmp_path, constellation="SPOT")
    assert product.volume is not None
    renamed = product.volume.rename(tmp_path / "VOL_SPOT6.XML")
    assert find_dimap_files(tmp_path, constellation="SPOT") == [renamed]
    assert len(list_dimap_images(tmp_path, constellation="SPOT")) == 2
