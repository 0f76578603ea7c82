"""Generates a small Sentinel-2 L1C-like archive with its static STAC catalogue.

Each product is a correctly structured ``.SAFE`` (manifest, product and tile metadata, one JP2 per band
in ``GRANULE/<granule>/IMG_DATA``) cut down to a 6 km square of MGRS tile T31TCJ (UTM 31N, near
Toulouse), with real georeferencing and per-date synthetic reflectances. Products are zipped in the
local-archive layout ``<archive>/<YYYY>/<MM>/<DD>/<scene>.zip`` and described by STAC items whose
``product`` asset points at the zip.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_geom
from shapely.geometry import box, mapping, shape

# Band -> ground sampling distance (m), as in the Sentinel-2 MSI product specification.
BANDS: dict[str, int] = {
    "B01": 60,
    "B02": 10,
    "B03": 10,
    "B04": 10,
    "B05": 20,
    "B06": 20,
    "B07": 20,
    "B08": 10,
    "B8A": 20,
    "B09": 60,
    "B10": 60,
    "B11": 20,
    "B12": 20,
}
MGRS_TILE = "31TCJ"
CRS_UTM31N = CRS.from_epsg(32631)
# A corner inside MGRS tile 31TCJ (whose upper-left corner is 300000 E, 4900020 N).
ORIGIN_X, ORIGIN_Y = 360000.0, 4830000.0
SIZE_M = 6000
RELATIVE_ORBIT = 51
# Mean top-of-atmosphere reflectance of vegetation per band, to make the bands look like bands.
_VEGETATION = {
    "B01": 0.12,
    "B02": 0.09,
    "B03": 0.08,
    "B04": 0.05,
    "B05": 0.11,
    "B06": 0.25,
    "B07": 0.30,
    "B08": 0.33,
    "B8A": 0.34,
    "B09": 0.10,
    "B10": 0.01,
    "B11": 0.20,
    "B12": 0.11,
}


# Spectral_Information bandId order of the product metadata (PSD 14.9): B1..B8, B8A, B9..B12.
BAND_IDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]
PROCESSING_BASELINE = "05.10"
QUANTIFICATION = 10000
RADIO_ADD_OFFSET = -1000  # every band, since baseline 04.00


def radiometry_xml(*, level: str = "L1C", baseline: str = PROCESSING_BASELINE) -> str:
    """``Product_Image_Characteristics`` of an ``MTD_MSIL1C.xml``/``MTD_MSIL2A.xml``, as ESA writes it.

    Baselines 04.00 and later carry an offset of -1000 per band (``RADIO_ADD_OFFSET`` in L1C,
    ``BOA_ADD_OFFSET`` in L2A); older ones have none.
    """
    has_offset = tuple(int(x) for x in baseline.split(".")) >= (4, 0)
    if level == "L1C":
        quantification = f'<QUANTIFICATION_VALUE unit="none">{QUANTIFICATION}</QUANTIFICATION_VALUE>'
        offset_tag, offset_list = "RADIO_ADD_OFFSET", "Radiometric_Offset_List"
    else:
        quantification = (
            f'<QUANTIFICATION_VALUES_LIST><BOA_QUANTIFICATION_VALUE unit="none">{QUANTIFICATION}'
            "</BOA_QUANTIFICATION_VALUE></QUANTIFICATION_VALUES_LIST>"
        )
        offset_tag, offset_list = "BOA_ADD_OFFSET", "BOA_ADD_OFFSET_VALUES_LIST"
    offsets = "".join(
        f'<{offset_tag} band_id="{i}">{RADIO_ADD_OFFSET}</{offset_tag}>' for i in range(len(BAND_IDS))
    )
    bands = "".join(
        f'<Spectral_Information bandId="{i}" physicalBand="{b if b == "B8A" else f"B{int(b[1:])}"}">'
        f"<RESOLUTION>{BANDS[b]}</RESOLUTION></Spectral_Information>"
        for i, b in enumerate(BAND_IDS)
    )
    return (
        "<Product_Image_Characteristics>"
        "<Special_Values><SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT>"
        "<SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX></Special_Values>"
        "<Special_Values><SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT>"
        "<SPECIAL_VALUE_INDEX>65535</SPECIAL_VALUE_INDEX></Special_Values>"
        f"{quantification}"
        f"{f'<{offset_list}>{offsets}</{offset_list}>' if has_offset else ''}"
        f"<Spectral_Information_List>{bands}</Spectral_Information_List>"
        "</Product_Image_Characteristics>"
    )


@dataclass(frozen=True)
class DemoProduct:
    source_id: str
    date: datetime
    zip_path: Path
    footprint: dict[str, Any]


def product_name(date: datetime, *, satellite: str = "S2A") -> str:
    generation = date + timedelta(hours=1, minutes=12, seconds=3)
    return (
        f"{satellite}_MSIL1C_{date:%Y%m%dT%H%M%S}_N0510_R{RELATIVE_ORBIT:03d}_T{MGRS_TILE}_"
        f"{generation:%Y%m%dT%H%M%S}"
    )


def footprint_lonlat() -> dict[str, Any]:
    utm = box(ORIGIN_X, ORIGIN_Y - SIZE_M, ORIGIN_X + SIZE_M, ORIGIN_Y)
    footprint: dict[str, Any] = transform_geom(CRS_UTM31N, "EPSG:4326", mapping(utm))
    return footprint


def _band_array(band: str, gsd: int, seed: int) -> np.ndarray:
    n = SIZE_M // gsd
    yy, xx = np.mgrid[0:n, 0:n] / n
    rng = np.random.default_rng(seed)
    fields = (np.floor(xx * 6) + np.floor(yy * 6) * 7) % 5 / 5  # a patchwork of parcels
    growth = 0.6 + 0.4 * np.sin(seed)  # the season moves on from date to date
    reflectance = _VEGETATION[band] * (0.5 + fields * growth) + rng.normal(0, 0.004, (n, n))
    # DN = reflectance * quantification - offset (baseline 04.00+); DN 0 stays "no data".
    dn = reflectance * QUANTIFICATION - RADIO_ADD_OFFSET
    dns: np.ndarray = np.clip(np.rint(dn), 1, 65534).astype("uint16")
    return dns


def _write_safe(root: Path, name: str, date: datetime, seed: int, *, with_bands: bool) -> Path:
    safe = root / f"{name}.SAFE"
    granule_id = f"L1C_T{MGRS_TILE}_A0{40000 + seed:05d}_{date:%Y%m%dT%H%M%S}"
    img = safe / "GRANULE" / granule_id / "IMG_DATA"
    img.mkdir(parents=True)
    (safe / "AUX_DATA").mkdir()
    (safe / "DATASTRIP").mkdir()
    files = []
    for band, gsd in BANDS.items():
        stem = f"T{MGRS_TILE}_{date:%Y%m%dT%H%M%S}_{band}"
        files.append(f"GRANULE/{granule_id}/IMG_DATA/{stem}")
        if not with_bands:
            continue
        data = _band_array(band, gsd, seed)
        profile = {
            "driver": "JP2OpenJPEG",
            "width": data.shape[1],
            "height": data.shape[0],
            "count": 1,
            "dtype": "uint16",
            "crs": CRS_UTM31N,
            "transform": Affine(gsd, 0.0, ORIGIN_X, 0.0, -gsd, ORIGIN_Y),
            "nodata": 0,
            "QUALITY": "100",
            "REVERSIBLE": "YES",
        }
        with rasterio.open(img / f"{stem}.jp2", "w", **profile) as dst:
            dst.write(data, 1)
    image_files = "\n".join(f"            <IMAGE_FILE>{f}</IMAGE_FILE>" for f in files)
    (safe / "MTD_MSIL1C.xml").write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-1C_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>{date:%Y-%m-%dT%H:%M:%S}.024Z</PRODUCT_START_TIME>
      <PRODUCT_STOP_TIME>{date:%Y-%m-%dT%H:%M:%S}.024Z</PRODUCT_STOP_TIME>
      <PRODUCT_URI>{name}.SAFE</PRODUCT_URI>
      <PROCESSING_LEVEL>Level-1C</PROCESSING_LEVEL>
      <PRODUCT_TYPE>S2MSI1C</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{PROCESSING_BASELINE}</PROCESSING_BASELINE>
      <Datatake datatakeIdentifier="GS2A_{date:%Y%m%dT%H%M%S}_0{40000 + seed:05d}_N05.10">
        <SPACECRAFT_NAME>Sentinel-2A</SPACECRAFT_NAME>
        <DATATAKE_SENSING_START>{date:%Y-%m-%dT%H:%M:%S}.024Z</DATATAKE_SENSING_START>
        <SENSING_ORBIT_NUMBER>{RELATIVE_ORBIT}</SENSING_ORBIT_NUMBER>
        <SENSING_ORBIT_DIRECTION>DESCENDING</SENSING_ORBIT_DIRECTION>
      </Datatake>
      <Product_Organisation>
        <Granule_List>
          <Granule datastripIdentifier="demo" granuleIdentifier="{granule_id}" imageFormat="JPEG2000">
{image_files}
          </Granule>
        </Granule_List>
      </Product_Organisation>
    </Product_Info>
    {radiometry_xml(level="L1C", baseline=PROCESSING_BASELINE)}
  </n1:General_Info>
  <n1:Quality_Indicators_Info>
    <Cloud_Coverage_Assessment>{(seed * 7) % 30}.0</Cloud_Coverage_Assessment>
  </n1:Quality_Indicators_Info>
</n1:Level-1C_User_Product>
""")
    (safe / "GRANULE" / granule_id / "MTD_TL.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<n1:Level-1C_Tile_ID xmlns:n1="https://psd-14.sentinel2.eo.esa.int/'
        f'PSD/S2_PDI_Level-1C_Tile_Metadata.xsd"><n1:General_Info><TILE_ID>{granule_id}</TILE_ID>'
        f"<SENSING_TIME>{date:%Y-%m-%dT%H:%M:%S}.024Z</SENSING_TIME></n1:General_Info>"
        f"<n1:Geometric_Info><Tile_Geocoding><HORIZONTAL_CS_NAME>WGS84 / UTM zone 31N</HORIZONTAL_CS_NAME>"
        f"<HORIZONTAL_CS_CODE>EPSG:32631</HORIZONTAL_CS_CODE></Tile_Geocoding></n1:Geometric_Info>"
        f"</n1:Level-1C_Tile_ID>\n"
    )
    (safe / "manifest.safe").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" '
        f'version="esa/safe/sentinel/sentinel-2/msi/msil1c"><informationPackageMap><xfdu:contentUnit '
        f'textInfo="{name}" unitType="Product_Level-1C"/></informationPackageMap></xfdu:XFDU>\n'
    )
    return safe


def _zip_dir(folder: Path, zip_path: Path) -> None:
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_name(zip_path.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder.parent).as_posix())
    tmp.replace(zip_path)


def make_demo_archive(
    root: Path, *, dates: Sequence[datetime] | None = None, broken: Sequence[int] = ()
) -> list[DemoProduct]:
    """Write the archive and STAC catalogue under ``root``; return the products.

    ``broken`` lists indexes of products written without band files (to exercise failures).
    Layout: ``root/archive/<YYYY>/<MM>/<DD>/<scene>.zip`` and ``root/stac/catalog.json``.
    """
    if dates is None:
        first = datetime(2024, 1, 5, 10, 54, 21, tzinfo=UTC)
        dates = [first + timedelta(days=10 * i) for i in range(3)]
    archive, stac_dir, build = root / "archive", root / "stac", root / ".build"
    shutil.rmtree(build, ignore_errors=True)  # left by an interrupted run
    catalog = pystac.Catalog(id="geocube-ingester-demo", description="Generated Sentinel-2 L1C-like products")
    products: list[DemoProduct] = []
    footprint = footprint_lonlat()
    for index, date in enumerate(dates):
        name = product_name(date)
        work = build / name
        work.mkdir(parents=True, exist_ok=True)
        safe = _write_safe(work, name, date, seed=index + 1, with_bands=index not in broken)
        zip_path = archive / f"{date:%Y}" / f"{date:%m}" / f"{date:%d}" / f"{name}.zip"
        _zip_dir(safe, zip_path)
        item = pystac.Item(
            id=name,
            geometry=footprint,
            bbox=list(shape(footprint).bounds),
            datetime=date,
            properties={
                "constellation": "sentinel-2",
                "platform": "sentinel-2a",
                "instruments": ["msi"],
                "eo:cloud_cover": float((index + 1) * 7 % 30),
                "s2:product_type": "S2MSI1C",
                "s2:mgrs_tile": MGRS_TILE,
                "sat:relative_orbit": RELATIVE_ORBIT,
                "sat:orbit_state": "descending",
            },
        )
        item.add_asset(
            "product",
            pystac.Asset(
                href=str(zip_path.resolve()),
                media_type="application/zip",
                roles=["data"],
                title="Zipped SAFE product",
            ),
        )
        catalog.add_item(item)
        products.append(DemoProduct(name, date, zip_path, footprint))
    catalog.normalize_hrefs(str(stac_dir))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    for path in sorted(build.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    build.rmdir()
    return products
