"""Small DIMAP v2 products (Pléiades 1A/1B, SPOT 6/7 ortho bundles) generated for the tests.

No real Pléiades or SPOT product is in the shared fixtures (they are commercial). What is generated here
has the structure GDAL's DIMAP driver reads (``frmts/dimap/dimapdataset.cpp``, ``ReadImageInformation2``;
its test data ``autotest/gdrivers/data/dimap2/VOL_PHR.XML`` and ``bundle/DIM_foo.XML`` were the model):

- a volume (``VOL_PHR.XML`` for PHR, ``SPOT_VOL.XML`` for SPOT, as the original's ``extract_dimap.py``
  looks for them) whose ``Dataset_Content/Dataset_Components/Component`` entries, ``COMPONENT_TYPE``
  ``DIMAP``, point (``COMPONENT_PATH/@href``) to one product each. With more than one component GDAL
  lists them as subdatasets ``DIMAP:"<volume>":<COMPONENT_TITLE with '_' for ' '>``;
- per product, ``IMG_<MISSION><INDEX>_<MS|P>_001/DIM_<...>.XML`` (``Metadata_Identification/
  METADATA_FORMAT@version`` 2.0, which selects DIMAP v2) with ``Processing_Information/Product_Settings/
  SPECTRAL_PROCESSING`` (``MS`` or ``P``: GDAL publishes it as the dataset's metadata item),
  ``Raster_Data/Data_Access/Data_Files/Data_File@tile_R,@tile_C/DATA_FILE_PATH@href`` (the image tiles,
  which GDAL mosaics in a VRT on ``Raster_Dimensions/Tile_Set/Regular_Tiling/NTILES_SIZE``),
  ``Raster_Dimensions`` (NROWS, NCOLS, NBANDS), ``Raster_Encoding`` (12 bits unsigned, as Pléiades
  and SPOT 6/7 primary and ortho products), ``Raster_Display/Special_Value`` (NODATA 0),
  ``Geoposition/Geoposition_Insert`` (ULXMAP, ULYMAP, XDIM, YDIM: GDAL takes ULXMAP/ULYMAP as the
  upper-left corner) and ``Coordinate_Reference_System/Projected_CRS/PROJECTED_CRS_CODE``
  (``urn:ogc:def:crs:EPSG::32631``), ``Radiometric_Data/.../Band_Measurement_List`` (``BAND_ID`` B0…B3
  or P: GDAL sets the per-band ``RADIANCE_*`` items) and ``Dataset_Sources/Source_Identification/
  Strip_Source`` (MISSION, MISSION_INDEX, IMAGING_DATE);
- the tiles ``IMG_<...>_R<r>C<c>.TIF`` (GeoTIFF, each with its own georeferencing) or ``.JP2``
  (lossless JPEG 2000, as delivered products).

Pixel values are synthetic (a ramp plus the band number: every pixel differs); georeferencing is real:
UTM 31N over Toulouse, 2 m MS and 0.5 m P on the same footprint, as Pléiades ortho products.
Component titles and the ``JOB_ID`` are ours (GDAL only needs the titles to differ).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

Constellation = Literal["PHR", "SPOT"]
ImageFormat = Literal["TIF", "JP2"]

EPSG = 32631
ULX, ULY = 374_000.0, 4_830_000.0  # Toulouse, UTM 31N
MS_RESOLUTION_M = {"PHR": 2.0, "SPOT": 6.0}
PAN_RESOLUTION_M = {"PHR": 0.5, "SPOT": 1.5}
_SATELLITE = {"PHR": ("PHR", "1A", "PHR1A"), "SPOT": ("SPOT", "6", "SPOT6")}
VOLUME_FILE = {"PHR": "VOL_PHR.XML", "SPOT": "SPOT_VOL.XML"}


@dataclass(frozen=True)
class GeneratedImage:
    """One product of the bundle: its DIM file and what GDAL must read from it."""

    dim_path: Path
    spectral_processing: str
    pixels: np.ndarray  # (bands, rows, cols), uint16
    crs: CRS
    transform: Affine
    tiles: tuple[Path, ...]


@dataclass(frozen=True)
class GeneratedProduct:
    root: Path
    volume: Path | None
    ms: GeneratedImage
    pan: GeneratedImage


def _pixels(bands: int, size: int, seed: int) -> np.ndarray:
    rows, cols = np.mgrid[0:size, 0:size]
    ramp = (rows * size + cols + seed) % 4000 + 1  # 12-bit values, never the NODATA 0
    return np.stack([(ramp + 7 * b) % 4095 + 1 for b in range(bands)]).astype(np.uint16)


def _write_tile(path: Path, data: np.ndarray, transform: Affine | None, image_format: ImageFormat) -> None:
    options: dict[str, Any] = (
        {"driver": "JP2OpenJPEG", "REVERSIBLE": "YES", "QUALITY": 100, "RESOLUTIONS": 1}
        if image_format == "JP2"
        else {"driver": "GTiff"}
    )
    with warnings.catch_warnings():
        # A sensor product's tile has no geotransform: that is what is being made.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        _write(path, data, transform, options)


def _write(path: Path, data: np.ndarray, transform: Affine | None, options: dict[str, Any]) -> None:
    count, height, width = data.shape
    with rasterio.open(
        path, "w", width=width, height=height, count=count, dtype="uint16",
        crs=CRS.from_epsg(EPSG) if transform else None, transform=transform, **options,
    ) as dst:  # fmt: skip
        dst.write(data)


def _dim_xml(
    *,
    constellation: Constellation,
    spectral: str,
    stem: str,
    shape: tuple[int, int, int],
    tile_size: int,
    tiles: list[tuple[int, int, str]],
    resolution_m: float,
    image_format: ImageFormat,
    with_insert: bool,
    georeferenced: bool,
) -> str:
    mission, index, _ = _satellite(constellation)
    count, height, width = shape
    files = "\n".join(
        f'        <Data_File tile_R="{r}" tile_C="{c}"><DATA_FILE_PATH href="{name}"/></Data_File>'
        for r, c, name in tiles
    )
    band_ids = ["P"] if spectral == "P" else [f"B{b}" for b in range(count)]
    radiance = "\n".join(
        f"          <Band_Radiance><BAND_ID>{b}</BAND_ID><MEASURE_UNIT>watt/m2/steradians/micrometers"
        f"</MEASURE_UNIT><GAIN>{9.0 + i:.1f}</GAIN><BIAS>0</BIAS></Band_Radiance>"
        for i, b in enumerate(band_ids)
    )
    insert = (
        f"""    <Geoposition_Insert>
      <ULXMAP unit="m">{ULX}</ULXMAP>
      <ULYMAP unit="m">{ULY}</ULYMAP>
      <XDIM unit="m">{resolution_m}</XDIM>
      <YDIM unit="m">{resolution_m}</YDIM>
    </Geoposition_Insert>
"""
        if with_insert
        else ""
    )
    crs = (
        f"""  <Coordinate_Reference_System>
    <Projected_CRS>
      <PROJECTED_CRS_NAME>WGS 84 / UTM zone 31N</PROJECTED_CRS_NAME>
      <PROJECTED_CRS_CODE>urn:ogc:def:crs:EPSG::{EPSG}</PROJECTED_CRS_CODE>
    </Projected_CRS>
  </Coordinate_Reference_System>
"""
        if georeferenced
        else ""
    )
    level = "ORTHO" if georeferenced else "SENSOR"
    n_rows = max(r for r, _, _ in tiles)
    n_cols = max(c for _, c, _ in tiles)
    fmt = "image/jp2" if image_format == "JP2" else "image/tiff"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Dimap_Document>
  <Metadata_Identification>
    <METADATA_FORMAT version="2.0">DIMAP</METADATA_FORMAT>
    <METADATA_PROFILE>{mission}_{level}</METADATA_PROFILE>
    <METADATA_SUBPROFILE>PRODUCT</METADATA_SUBPROFILE>
    <METADATA_LANGUAGE>en</METADATA_LANGUAGE>
  </Metadata_Identification>
  <Dataset_Identification>
    <DATASET_NAME>{stem}</DATASET_NAME>
  </Dataset_Identification>
  <Product_Information>
    <Delivery_Identification>
      <JOB_ID>TEST-{spectral}</JOB_ID>
      <PRODUCT_TYPE>{level}</PRODUCT_TYPE>
    </Delivery_Identification>
  </Product_Information>
{crs}  <Geoposition>
    <Raster_CRS>
      <RASTER_GEOMETRY>{"GEOCODED" if georeferenced else "SENSOR"}</RASTER_GEOMETRY>
    </Raster_CRS>
{insert}  </Geoposition>
  <Processing_Information>
    <Product_Settings>
      <PROCESSING_LEVEL>{level}</PROCESSING_LEVEL>
      <SPECTRAL_PROCESSING>{spectral}</SPECTRAL_PROCESSING>
    </Product_Settings>
  </Processing_Information>
  <Raster_Data>
    <Data_Access>
      <DATA_FILE_ORGANISATION>BAND_COMPOSITE</DATA_FILE_ORGANISATION>
      <DATA_FILE_FORMAT>{fmt}</DATA_FILE_FORMAT>
      <DATA_FILE_TILES>{"true" if len(tiles) > 1 else "false"}</DATA_FILE_TILES>
      <Data_Files>
{files}
      </Data_Files>
    </Data_Access>
    <Raster_Dimensions>
      <NROWS>{height}</NROWS>
      <NCOLS>{width}</NCOLS>
      <NBANDS>{count}</NBANDS>
      <Tile_Set>
        <NTILES>{len(tiles)}</NTILES>
        <Regular_Tiling>
          <NTILES_SIZE nrows="{tile_size}" ncols="{tile_size}"/>
          <NTILES_COUNT ntiles_R="{n_rows}" ntiles_C="{n_cols}"/>
          <OVERLAP_ROW>0</OVERLAP_ROW>
          <OVERLAP_COL>0</OVERLAP_COL>
        </Regular_Tiling>
      </Tile_Set>
    </Raster_Dimensions>
    <Raster_Encoding>
      <DATA_TYPE>INTEGER</DATA_TYPE>
      <NBITS>12</NBITS>
      <SIGN>UNSIGNED</SIGN>
    </Raster_Encoding>
    <Raster_Display>
      <Special_Value>
        <SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT>
        <SPECIAL_VALUE_COUNT>0</SPECIAL_VALUE_COUNT>
      </Special_Value>
      <Special_Value>
        <SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT>
        <SPECIAL_VALUE_COUNT>4095</SPECIAL_VALUE_COUNT>
      </Special_Value>
    </Raster_Display>
  </Raster_Data>
  <Radiometric_Data>
    <Radiometric_Calibration>
      <Instrument_Calibration>
        <Band_Measurement_List>
{radiance}
        </Band_Measurement_List>
      </Instrument_Calibration>
    </Radiometric_Calibration>
  </Radiometric_Data>
  <Dataset_Sources>
    <Source_Identification>
      <SOURCE_TYPE>Strip_Source</SOURCE_TYPE>
      <Strip_Source>
        <MISSION>{mission}</MISSION>
        <MISSION_INDEX>{index}</MISSION_INDEX>
        <IMAGING_DATE>2019-09-10</IMAGING_DATE>
        <IMAGING_TIME>10:53:02.5</IMAGING_TIME>
      </Strip_Source>
    </Source_Identification>
  </Dataset_Sources>
</Dimap_Document>
"""


def _volume_xml(components: list[tuple[str, str]]) -> str:
    entries = "\n".join(
        f"""      <Component>
        <COMPONENT_TITLE>{title}</COMPONENT_TITLE>
        <COMPONENT_TYPE version="2.0">DIMAP</COMPONENT_TYPE>
        <COMPONENT_PATH href="{href}"/>
      </Component>"""
        for title, href in components
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Dimap_Document>
  <Metadata_Identification>
    <METADATA_FORMAT version="2.0">DIMAP</METADATA_FORMAT>
    <METADATA_PROFILE>VOLUME</METADATA_PROFILE>
    <METADATA_SUBPROFILE>SINGLE_VOLUME</METADATA_SUBPROFILE>
    <METADATA_LANGUAGE>en</METADATA_LANGUAGE>
  </Metadata_Identification>
  <Dataset_Identification>
    <DATASET_NAME>Volume Description</DATASET_NAME>
  </Dataset_Identification>
  <Dataset_Content>
    <Dataset_Components>
{entries}
    </Dataset_Components>
  </Dataset_Content>
</Dimap_Document>
"""


def _satellite(constellation: Constellation) -> tuple[str, str, str]:
    return _SATELLITE[constellation]


def _make_image(
    root: Path,
    *,
    constellation: Constellation,
    spectral: str,
    bands: int,
    size: int,
    tiles_per_side: int,
    resolution_m: float,
    image_format: ImageFormat,
    with_insert: bool,
    georeferenced: bool,
    number: int,
) -> GeneratedImage:
    _, _, platform = _satellite(constellation)
    stem = f"{platform}_{spectral}_201909101053025_ORT_TEST_{number:03d}"
    folder = root / f"IMG_{platform}_{spectral}_{number:03d}"
    folder.mkdir(parents=True)
    pixels = _pixels(bands, size, seed=3 if spectral == "P" else 11)
    transform = Affine(resolution_m, 0.0, ULX, 0.0, -resolution_m, ULY)
    tile_size = -(-size // tiles_per_side)
    tiles: list[tuple[int, int, str]] = []
    paths = []
    for r in range(tiles_per_side):
        for c in range(tiles_per_side):
            window = pixels[:, r * tile_size : (r + 1) * tile_size, c * tile_size : (c + 1) * tile_size]
            name = f"IMG_{stem}_R{r + 1}C{c + 1}.{image_format}"
            tile_transform = transform @ Affine.translation(c * tile_size, r * tile_size)
            _write_tile(folder / name, window, tile_transform if georeferenced else None, image_format)
            tiles.append((r + 1, c + 1, name))
            paths.append(folder / name)
    dim = folder / f"DIM_{stem}.XML"
    dim.write_text(
        _dim_xml(
            constellation=constellation, spectral=spectral, stem=stem, shape=pixels.shape,
            tile_size=tile_size, tiles=tiles, resolution_m=resolution_m, image_format=image_format,
            with_insert=with_insert and georeferenced, georeferenced=georeferenced,
        ),
        encoding="utf-8",
    )  # fmt: skip
    return GeneratedImage(dim, spectral, pixels, CRS.from_epsg(EPSG), transform, tuple(paths))


def make_dimap_product(
    root: Path,
    *,
    constellation: Constellation = "PHR",
    ms_size: int = 64,
    pan_tiles_per_side: int = 2,
    ms_tiles_per_side: int = 1,
    image_format: ImageFormat = "TIF",
    with_volume: bool = True,
    with_insert: bool = True,
    spectral: tuple[str, str] = ("MS", "P"),
    georeferenced: bool = True,
) -> GeneratedProduct:
    """A bundle in ``root``: an MS product (4 bands, ``ms_size``²) and a P product (1 band, 4 times finer).

    Args:
        pan_tiles_per_side: the P image comes in n x n tiles (R1C1…), mosaicked by GDAL.
        with_volume: write the volume file; without it only the products' DIM files are there.
        with_insert: write ``Geoposition_Insert``; without it GDAL takes the georeferencing from the tiles.
        georeferenced: False makes primary (sensor) products: no CRS, no insert point, tiles without
            georeferencing (real ones carry RPCs, which GDAL does not turn into a geotransform).
        spectral: the SPECTRAL_PROCESSING of the two products (e.g. ("MS", "MS") for a broken bundle).
    """
    root.mkdir(parents=True, exist_ok=True)
    ms = _make_image(
        root, constellation=constellation, spectral=spectral[0], bands=4, size=ms_size,
        tiles_per_side=ms_tiles_per_side, resolution_m=MS_RESOLUTION_M[constellation],
        image_format=image_format, with_insert=with_insert, georeferenced=georeferenced, number=1,
    )  # fmt: skip
    pan = _make_image(
        root, constellation=constellation, spectral=spectral[1], bands=1, size=4 * ms_size,
        tiles_per_side=pan_tiles_per_side, resolution_m=PAN_RESOLUTION_M[constellation],
        image_format=image_format, with_insert=with_insert, georeferenced=georeferenced, number=2,
    )  # fmt: skip
    volume = None
    if with_volume:
        volume = root / VOLUME_FILE[constellation]
        components = [
            (f"{image.spectral_processing} product {i + 1}", image.dim_path.relative_to(root).as_posix())
            for i, image in enumerate((ms, pan))
        ]
        volume.write_text(_volume_xml(components), encoding="utf-8")
    return GeneratedProduct(root=root, volume=volume, ms=ms, pan=pan)
