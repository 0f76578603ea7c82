"""Landsat Collection 2 Level-2 products as their own metadata (the MTL file) describes them.

A Level-2 product folder (``LC08_L2SP_008059_20191201_20200825_02_T1/``) holds one GeoTIFF per band and
its MTL in three equivalent forms, ``<id>_MTL.json``, ``<id>_MTL.xml`` and ``<id>_MTL.txt`` (ODL); any one
is enough, read in that order of preference. From it we take (Landsat 8-9 OLI/TIRS Collection 2 Level 2
Data Format Control Book, LSDS-1328, and the fixtures' real MTL of LC08_L2SP_008059_20191201_20200825_02_T1):

- ``PRODUCT_CONTENTS``: ``LANDSAT_PRODUCT_ID``, ``PROCESSING_LEVEL`` (``L2SP``: reflectance and
  temperature; ``L2SR``: reflectance only), ``COLLECTION_NUMBER`` (02), ``COLLECTION_CATEGORY`` and the band
  file names ``FILE_NAME_BAND_<n>`` (surface reflectance ``SR_B<n>``), ``FILE_NAME_BAND_ST_B10`` (surface
  temperature) and ``FILE_NAME_QUALITY_L1_PIXEL`` (``QA_PIXEL``);
- ``LEVEL2_SURFACE_REFLECTANCE_PARAMETERS``: ``REFLECTANCE_MULT_BAND_<n>`` / ``REFLECTANCE_ADD_BAND_<n>``
  (2.75e-05 and -0.2 in Collection 2): reflectance = DN * mult + add;
- ``LEVEL2_SURFACE_TEMPERATURE_PARAMETERS``: ``TEMPERATURE_MULT_BAND_ST_B10`` /
  ``TEMPERATURE_ADD_BAND_ST_B10`` (0.00341802 and 149.0): temperature in kelvin = DN * mult + add.

DN 0 is fill in every SR and ST band (USGS, "How do I use a scale factor with Landsat Level-2 science
products?": fill 0, valid range 7273-43636 for SR, i.e. reflectance 0 to 1, 293-65535 for ST).

Landsat 8 and 9 (``LC08``/``LC09``, OLI/TIRS: SR_B1…SR_B7, ST_B10) are what the ingester catalogues and
what the tests check on real files. The same keys describe Landsat 4-5 TM and 7 ETM+ Level-2 products
(``LT04``/``LT05``/``LE07``: SR_B1…SR_B5 and SR_B7, temperature in ``ST_B6``, LSDS-1618), which are read
the same way.

QA_PIXEL bits (Landsat 8-9 Collection 2 Level 2 Science Product Guide, LSDS-1619, table "Pixel Quality
Assessment (QA_PIXEL) Bit Index"; USGS page "Landsat Collection 2 Quality Assessment Bands"): 0 fill,
1 dilated cloud, 2 cirrus (Landsat 8-9 only), 3 cloud, 4 cloud shadow, 5 snow, 6 clear (neither cloud
nor dilated cloud), 7 water; then 2-bit confidences: 8-9 cloud, 10-11 cloud shadow, 12-13 snow/ice,
14-15 cirrus (0 none, 1 low, 2 medium, 3 high). A fill pixel is exactly 1 (only bit 0 set).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.xml import parse_untrusted_xml
from graphs.errors import GraphError

ROOT_GROUP = "LANDSAT_METADATA_FILE"
FILL_DN = 0  # SR and ST bands (QA_PIXEL's fill is bit 0: the value 1)
QA_FILL_VALUE = 1
LEVEL2_PROCESSING_LEVELS = ("L2SP", "L2SR")
QA_LAYER = "QA_PIXEL"
SR_LAYERS = tuple(f"SR_B{n}" for n in range(1, 8))
ST_LAYERS = ("ST_B10", "ST_B6")  # OLI/TIRS; TM and ETM+
KNOWN_LAYERS = (*SR_LAYERS, *ST_LAYERS, QA_LAYER)
MTL_SUFFIXES = ("_MTL.json", "_MTL.xml", "_MTL.txt")  # order of preference

QA_PIXEL_BITS: dict[str, int] = {
    "fill": 0,
    "dilated_cloud": 1,
    "cirrus": 2,
    "cloud": 3,
    "cloud_shadow": 4,
    "snow": 5,
    "clear": 6,
    "water": 7,
}
QA_PIXEL_CONFIDENCE_BITS: dict[str, int] = {"cloud": 8, "cloud_shadow": 10, "snow_ice": 12, "cirrus": 14}

_SR_FILE_KEY = re.compile(r"^FILE_NAME_BAND_([1-7])$")
_ST_FILE_KEY = re.compile(r"^FILE_NAME_BAND_(ST_B(?:10|6))$")
_ODL_LINE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$")

Groups = dict[str, dict[str, str]]


@dataclass(frozen=True)
class LandsatBand:
    """One band file of a product; ``scale_offset`` is None for bands indexed as they are (QA_PIXEL)."""

    layer: str  # SR_B4, ST_B10, QA_PIXEL
    file_name: str
    scale_offset: tuple[float, float] | None  # physical = DN * scale + offset

    @property
    def nodata(self) -> int:
        return QA_FILL_VALUE if self.layer == QA_LAYER else FILL_DN


@dataclass(frozen=True)
class LandsatMetadata:
    """What a Level-2 product's MTL says about its bands and their radiometry."""

    product_id: str
    spacecraft: str
    sensor: str
    processing_level: str
    collection_number: int
    collection_category: str
    bands: dict[str, LandsatBand]  # layer -> band, in the order of KNOWN_LAYERS
    source: str = field(default="", compare=False)  # the MTL file read, for messages

    def describe(self) -> str:
        """One log line: product, level and each kind's radiometry."""
        kinds = []
        for prefix, what in (("SR_", "reflectance"), ("ST_", "temperature (K)")):
            pairs = sorted(
                {
                    b.scale_offset
                    for b in self.bands.values()
                    if b.layer.startswith(prefix) and b.scale_offset is not None
                }
            )
            kinds += [f"{what} = DN * {s:g} {'-' if o < 0 else '+'} {abs(o):g}" for s, o in pairs]
        return (
            f"{self.product_id}: {self.spacecraft} {self.sensor}, {self.processing_level}, collection "
            f"{self.collection_number:02d} {self.collection_category}: {'; '.join(kinds) or 'no SR/ST band'}"
        )


def _parse_odl(text: str, *, name: str) -> dict[str, object]:
    """The MTL.txt (ODL: ``GROUP = X`` … ``END_GROUP = X``, ``KEY = value``) as nested dicts."""
    root: dict[str, object] = {}
    stack: list[tuple[str, dict[str, object]]] = [("", root)]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.strip() == "END":
            continue
        match = _ODL_LINE.match(line)
        if match is None:
            raise GraphError(f"{name}: line {number} is not 'KEY = value' ODL: {line.strip()[:60]!r}")
        key, value = match.group(1), match.group(2)
        if key == "GROUP":
            group: dict[str, object] = {}
            stack[-1][1][value] = group
            stack.append((value, group))
        elif key == "END_GROUP":
            if len(stack) == 1 or stack[-1][0] != value:
                raise GraphError(f"{name}: line {number}: END_GROUP = {value} closes no open group")
            stack.pop()
        else:
            stack[-1][1][key] = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if len(stack) != 1:
        raise GraphError(f"{name}: group {stack[-1][0]} is never closed (END_GROUP missing)")
    return root


def _parse_xml(data: bytes, *, name: str) -> dict[str, object]:
    root = parse_untrusted_xml(data, name=name, error=GraphError, what="Landsat metadata")
    groups: dict[str, object] = {
        group.tag: {item.tag: (item.text or "").strip() for item in group} for group in root
    }
    return {root.tag: groups}


def _as_groups(document: object, *, name: str) -> Groups:
    """``{group: {key: text}}`` under LANDSAT_METADATA_FILE, whatever the form read."""
    top = document.get(ROOT_GROUP) if isinstance(document, Mapping) else None
    if not isinstance(top, Mapping):
        raise GraphError(f"{name}: no {ROOT_GROUP} group: not a Landsat Collection 2 MTL file")
    groups: Groups = {}
    for group, items in top.items():
        if isinstance(items, Mapping):
            groups[str(group)] = {
                str(k): str(v) for k, v in items.items() if not isinstance(v, Mapping | list)
            }
    return groups


def parse_mtl_groups(data: bytes, *, name: str) -> Groups:
    """The groups of an MTL file (``name`` ends in ``.json``, ``.xml`` or ``.txt``, which says its form).

    Raises:
        GraphError: not UTF-8, not JSON/XML/ODL, a DTD, or no LANDSAT_METADATA_FILE group.
    """
    suffix = Path(name).suffix.lower()
    if suffix == ".xml":
        return _as_groups(_parse_xml(data, name=name), name=name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GraphError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if suffix == ".json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GraphError(f"{name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        return _as_groups(document, name=name)
    if suffix == ".txt":
        return _as_groups(_parse_odl(text, name=name), name=name)
    raise GraphError(f"{name}: unknown MTL form; expected a name ending in _MTL.json, _MTL.xml or _MTL.txt")


def _required(groups: Groups, group: str, key: str, *, name: str) -> str:
    value = groups.get(group, {}).get(key, "").strip()
    if not value:
        raise GraphError(f"{name}: {group}.{key} is missing: the MTL is incomplete")
    return value


def _number(groups: Groups, group: str, key: str, *, name: str) -> float:
    text = _required(groups, group, key, name=name)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value):
        raise GraphError(f"{name}: {group}.{key} = {text!r} is not a number")
    return value


def _plain_file_name(value: str, *, key: str, name: str) -> str:
    if not value or value in (".", "..") or "/" in value or "\\" in value:
        raise GraphError(f"{name}: PRODUCT_CONTENTS.{key} = {value!r} is not a plain file name")
    return value


def metadata_from_groups(groups: Groups, *, name: str) -> LandsatMetadata:
    """The product's bands and radiometry from its MTL groups.

    Raises:
        GraphError: not a Collection 2 Level-2 product, or a band without its scale/offset (the key is named).
    """
    contents = "PRODUCT_CONTENTS"
    level = _required(groups, contents, "PROCESSING_LEVEL", name=name)
    product_id = _required(groups, contents, "LANDSAT_PRODUCT_ID", name=name)
    if level not in LEVEL2_PROCESSING_LEVELS:
        raise GraphError(
            f"{name}: {product_id} is a {level} product; ExtractLandsatBands reads Collection 2 Level-2 "
            f"products ({', '.join(LEVEL2_PROCESSING_LEVELS)}): catalogue the landsat-c2-l2 collection"
        )
    collection = _number(groups, contents, "COLLECTION_NUMBER", name=name)
    if collection != 2:
        raise GraphError(f"{name}: {product_id} is of collection {collection:g}; only Collection 2 is read")
    bands: dict[str, LandsatBand] = {}
    for key, value in groups[contents].items():
        if match := _SR_FILE_KEY.match(key):
            n = match.group(1)
            sr = "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS"
            scale = _number(groups, sr, f"REFLECTANCE_MULT_BAND_{n}", name=name)
            offset = _number(groups, sr, f"REFLECTANCE_ADD_BAND_{n}", name=name)
            layer, pair = f"SR_B{n}", (scale, offset)
        elif match := _ST_FILE_KEY.match(key):
            st, layer = "LEVEL2_SURFACE_TEMPERATURE_PARAMETERS", match.group(1)
            scale = _number(groups, st, f"TEMPERATURE_MULT_BAND_{layer}", name=name)
            pair = (scale, _number(groups, st, f"TEMPERATURE_ADD_BAND_{layer}", name=name))
        elif key == "FILE_NAME_QUALITY_L1_PIXEL":
            layer, pair = QA_LAYER, None
        else:
            continue
        if pair is not None and not pair[0] > 0:
            raise GraphError(f"{name}: the scale of {layer} is {pair[0]:g}; a positive scale is needed")
        bands[layer] = LandsatBand(layer, _plain_file_name(value, key=key, name=name), pair)
    attributes = groups.get("IMAGE_ATTRIBUTES", {})
    return LandsatMetadata(
        product_id=product_id,
        spacecraft=attributes.get("SPACECRAFT_ID", ""),
        sensor=attributes.get("SENSOR_ID", ""),
        processing_level=level,
        collection_number=int(collection),
        collection_category=groups[contents].get("COLLECTION_CATEGORY", ""),
        bands={layer: bands[layer] for layer in KNOWN_LAYERS if layer in bands},
        source=name,
    )


def parse_mtl(data: bytes, *, name: str) -> LandsatMetadata:
    """The metadata of a product from one of its MTL files' bytes (``name`` gives the form).

    Raises:
        GraphError: see :func:`parse_mtl_groups` and :func:`metadata_from_groups`.
    """
    return metadata_from_groups(parse_mtl_groups(data, name=name), name=name)


def find_mtl(folder: Path) -> Path | None:
    """``<folder>/*_MTL.json``, else ``*_MTL.xml``, else ``*_MTL.txt``."""
    for suffix in MTL_SUFFIXES:
        found = sorted(folder.glob(f"*{suffix}"))
        if found:
            return found[0]
    return None


def read_landsat_metadata(folder: Path) -> LandsatMetadata:
    """The metadata of the product folder ``folder``.

    Raises:
        GraphError: no MTL file, or one that cannot be read (see :func:`parse_mtl`).
    """
    path = find_mtl(folder)
    if path is None:
        raise GraphError(f"{folder.name}: no *_MTL.json, *_MTL.xml or *_MTL.txt: the product is incomplete")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GraphError(f"{path}: cannot be read ({exc.strerror})") from exc
    return parse_mtl(data, name=f"{folder.name}/{path.name}")


def decode_qa_pixel(qa: np.ndarray) -> dict[str, np.ndarray]:
    """The QA_PIXEL flags of ``qa`` (uint16) as boolean masks: fill, dilated_cloud, cirrus, cloud,
    cloud_shadow, snow, clear, water (bit numbers in the module docstring)."""
    values = np.asarray(qa).astype(np.uint16, copy=False)
    return {
        flag: ((values >> np.uint16(bit)) & np.uint16(1)).astype(bool) for flag, bit in QA_PIXEL_BITS.items()
    }


def qa_pixel_confidence(qa: np.ndarray, condition: str) -> np.ndarray:
    """The 2-bit confidence (0 none, 1 low, 2 medium, 3 high) of ``condition`` in QA_PIXEL ``qa``.

    Raises:
        GraphError: an unknown condition (the known ones are named).
    """
    if condition not in QA_PIXEL_CONFIDENCE_BITS:
        raise GraphError(
            f"QA_PIXEL confidence {condition!r}: unknown; known: {', '.join(QA_PIXEL_CONFIDENCE_BITS)}"
        )
    values = np.asarray(qa).astype(np.uint16, copy=False)
    shifted: np.ndarray = (values >> np.uint16(QA_PIXEL_CONFIDENCE_BITS[condition])) & np.uint16(3)
    return shifted
