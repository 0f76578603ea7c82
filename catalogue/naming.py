"""Product names: what they tell (mission, date, orbit, tile...) and the ``{KEY}`` URL patterns.

The keys and character slices are those of the original ingester (``common/naming.go::Info``), so
``{KEY}`` patterns written for it (annotation URLs, GS buckets, FTP) expand the same way here. Two
deliberate differences, both bugs of the original:

- Pléiades names also get ``SCENE`` (the original forgot it, leaving ``{SCENE}`` unexpanded).
- SPOT ``LONGITUDE``/``LATITUDE`` are ``[41:45]``/``[45:48]`` (``E002``/``N41`` in
  ``DS_SPOT6_201212051035424_FR1_FR1_FR1_FR1_E002N41_01174``); the original's ``[41:46]``/``[46:49]``
  gave ``E002N``/``41_``.

Naming conventions: Sentinel-1 SAFE (``MMM_BB_TTTR_LFPP_<start>_<stop>_OOOOOO_DDDDDD_CCCC``),
Sentinel-2 compact naming (``MMM_MSIXXX_<date>_Nxxyy_ROOO_Txxxxx_<discriminator>``, from 2016-12) and the
older long naming, Landsat Collection 2 (``LXSS_LLLL_PPPRRR_YYYYMMDD_yyyymmdd_CX_TX``), Airbus DIMAP
dataset names (``DS_PHR1A_...``, ``DS_SPOT6_...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from catalogue.errors import CatalogueError, ProductNameError
from catalogue.models import Constellation, Scene, format_tag_value

# Shortest valid names, as templates (their length is what the original checks).
_S1_TEMPLATE = "MMM_BB_TTTR_LFPP_YYYYMMDDTHHMMSS_YYYYMMDDTHHMMSS_OOOOOO_DDDDDD_CCCC"
_S2_TEMPLATE = "MMM_MSIXXX_YYYYMMDDTHHMMSS_Nxxyy_ROOO_Txxxxx_<Product Disc.>"
_S2_OLD_TEMPLATE = "MMM_CCCC_FFFFDDDDDD_ssss_YYYYMMDDTHHMMSS_ROOO_VYYYYMMTDDHHMMSS_YYYYMMTDDHHMMSS"
_PHR_TEMPLATE = "DS_PHRNN_YYYYMMDDHHMMSSS_RRR_PP_XxxxYyy_KKLL_TTTTT"
_SPOT_TEMPLATE = "DS_SPOTN_YYYYMMDDHHMMSSS_AAA_aaa_RRR_rrr_XxxxYyy_TTTTT"
_LANDSAT_TEMPLATE = "LXSS_LLLL_PPPRRR_YYYYMMDD_yyyymmdd_CX_TX"

_LANDSAT_RE = re.compile(r"^L[OTC]0[89]")
_PATTERN_KEY_RE = re.compile(r"\{([A-Za-z0-9_]+)\}")

# Record tag "constellation" per constellation, as the original ingester writes it.
CONSTELLATION_TAGS: dict[Constellation, str] = {
    Constellation.SENTINEL1: "SENTINEL1",
    Constellation.SENTINEL2: "SENTINEL2",
    Constellation.LANDSAT89: "LANDSAT",
    Constellation.PHR: "PHR",
    Constellation.SPOT: "SPOT",
}


def constellation_from_product_id(name: str) -> Constellation | None:
    """The constellation a product name belongs to, from its prefix; None when unknown."""
    if name.startswith("S1"):
        return Constellation.SENTINEL1
    if name.startswith("S2"):
        return Constellation.SENTINEL2
    if name.startswith("DS_PHR"):
        return Constellation.PHR
    if name.startswith("DS_SPOT"):
        return Constellation.SPOT
    if _LANDSAT_RE.match(name):
        return Constellation.LANDSAT89
    return None


def is_s2_compact_name(name: str) -> bool:
    """Whether ``name`` uses the Sentinel-2 compact naming (``S2A_MSIL1C_<date>_...``)."""
    return name.startswith("S2") and len(name) > 10 and name[10] == "_"


def _check_length(name: str, template: str, what: str) -> None:
    if len(name) < len(template):
        raise ProductNameError(
            f"invalid {what} file name: {name!r} has {len(name)} characters, expected at least "
            f"{len(template)} ({template})"
        )


def _date_keys(name: str, date: slice, time: slice | None) -> dict[str, str]:
    start = date.start
    keys = {
        "DATE": name[date],
        "YEAR": name[start : start + 4],
        "MONTH": name[start + 4 : start + 6],
        "DAY": name[start + 6 : start + 8],
    }
    if time is not None:
        t0 = time.start
        keys |= {
            "TIME": name[time],
            "HOUR": name[t0 : t0 + 2],
            "MINUTE": name[t0 + 2 : t0 + 4],
            "SECOND": name[t0 + 4 : t0 + 6],
        }
    return keys


def _parse_s1(name: str) -> dict[str, str]:
    _check_length(name, _S1_TEMPLATE, "Sentinel1")
    return {
        "SCENE": name,
        "MISSION_ID": name[0:3],
        "MISSION_VERSION": name[2:3],
        "MODE": name[4:6],
        "PRODUCT_TYPE": name[7:10],
        "RESOLUTION": name[10:11],
        "PROCESSING_LEVEL": name[12:13],
        "PRODUCT_CLASS": name[13:14],
        "POLARISATION": name[14:16],
        **_date_keys(name, slice(17, 25), slice(26, 32)),
        "ORBIT": name[49:55],
        "MISSION": name[56:62],
        "UNIQUE_ID": name[63:67],
    }


def _parse_s2(name: str) -> dict[str, str]:
    _check_length(name, _S2_TEMPLATE, "Sentinel2")
    if is_s2_compact_name(name):
        return {
            "SCENE": name,
            "MISSION_ID": name[0:3],
            "MISSION_VERSION": name[2:3],
            "PRODUCT_LEVEL": name[7:10],
            **_date_keys(name, slice(11, 19), slice(20, 26)),
            "PDGS": name[28:32],
            "ORBIT": name[34:37],
            "TILE": name[38:44],
            "LATITUDE_BAND": name[39:41],
            "GRID_SQUARE": name[41:42],
            "GRANULE_ID": name[42:44],
            "PRODUCT_DISC": name[45:60],
        }
    _check_length(name, _S2_OLD_TEMPLATE, "Sentinel2")
    # The old (pre 2016-12) naming: no sensing date in a fixed place, so no DATE keys.
    return {"SCENE": name, "MISSION_ID": name[0:3], "PRODUCT_LEVEL": name[16:19], "ORBIT": name[42:45]}


def _parse_phr(name: str) -> dict[str, str]:
    # DS_PHR1A_201006181052297_FR1_PX_E001N43_0612_06488
    _check_length(name, _PHR_TEMPLATE, "Pleiades")
    return {
        "SCENE": name,
        "MISSION_ID": name[3:8],
        **_date_keys(name, slice(9, 23), slice(17, 23)),
        "MODE": name[29:31],
        "LONGITUDE": name[32:36],
        "LATITUDE": name[36:39],
        "LONGITUDE_STEP": name[40:42],
        "LATITUDE_STEP": name[42:44],
    }


def _parse_spot(name: str) -> dict[str, str]:
    # DS_SPOT6_201212051035424_FR1_FR1_FR1_FR1_E002N41_01174
    _check_length(name, _SPOT_TEMPLATE, "Spot")
    return {
        "SCENE": name,
        "MISSION_ID": name[3:8],
        "SAT_NUMBER": name[7:8],
        **_date_keys(name, slice(9, 23), slice(17, 23)),
        "LONGITUDE": name[41:45],
        "LATITUDE": name[45:48],
    }


def _parse_landsat(name: str) -> dict[str, str]:
    # LC09_L1GT_166003_20250603_20250603_02_T2
    _check_length(name, _LANDSAT_TEMPLATE, "Landsat8/9")
    collection = {"O": "oli", "T": "tirs"}.get(name[1], "oli-tirs")
    return {
        "MISSION_ID": name[0] + name[2:4],
        **_date_keys(name, slice(17, 25), None),
        "COLLECTION": collection,
        "PATH": name[10:13],
        "ROW": name[13:16],
    }


_PARSERS = {
    Constellation.SENTINEL1: _parse_s1,
    Constellation.SENTINEL2: _parse_s2,
    Constellation.PHR: _parse_phr,
    Constellation.SPOT: _parse_spot,
    Constellation.LANDSAT89: _parse_landsat,
}


def parse_product_name(name: str) -> dict[str, str]:
    """The ``{KEY}`` values a product name gives (see the module docstring for the keys).

    Raises:
        ProductNameError: the name belongs to no known constellation or is too short.
    """
    constellation = constellation_from_product_id(name)
    if constellation is None:
        raise ProductNameError(
            f"unknown product name {name!r}: expected a name starting with S1, S2, DS_PHR, DS_SPOT or "
            "LC08/LC09/LO08/LT08..."
        )
    return _PARSERS[constellation](name)


def date_from_product_id(name: str) -> datetime:
    """The acquisition day of a product (midnight UTC), as the original's GetDateFromProductId.

    Raises:
        ProductNameError: the name cannot be parsed or carries no date (old Sentinel-2 naming).
    """
    keys = parse_product_name(name)
    if "YEAR" not in keys:
        raise ProductNameError(f"product name {name!r} carries no acquisition date")
    try:
        return datetime(int(keys["YEAR"]), int(keys["MONTH"]), int(keys["DAY"]), tzinfo=UTC)
    except ValueError as exc:
        raise ProductNameError(
            f"product name {name!r}: {keys['YEAR']}-{keys['MONTH']}-{keys['DAY']} is not a date"
        ) from exc


def expand_pattern(pattern: str, *maps: Mapping[str, str]) -> str:
    """Replace every ``{KEY}`` of ``pattern`` by its value in the first of ``maps`` that has it.

    Raises:
        CatalogueError: a ``{KEY}`` of the pattern is in none of the maps (all such keys are named,
            with the keys available).
    """
    known: dict[str, str] = {}
    for mapping in reversed(maps):
        known.update(mapping)
    unknown = sorted({k for k in _PATTERN_KEY_RE.findall(pattern) if k not in known})
    if unknown:
        raise CatalogueError(
            f"pattern {pattern!r}: unknown key(s) {', '.join('{' + k + '}' for k in unknown)}; "
            f"known: {', '.join(sorted(known)) or '(none)'}"
        )
    return _PATTERN_KEY_RE.sub(lambda m: known[m.group(1)], pattern)


def make_scene_tags(
    source_id: str,
    constellation: Constellation,
    fields: Mapping[str, Any],
    *,
    satellite: str | None = None,
) -> dict[str, str]:
    """The record tags of a scene, the one builder every catalogue uses.

    ``sourceID`` and ``constellation`` first, then each of ``fields`` that has a value (None and "" are
    left out) written as a tag (``format_tag_value``: ``true``/``false``, ``12`` for ``12.0``), then
    ``satellite``: the one the product id implies, else the one given (a catalogue's platform).
    """
    tags = {"sourceID": source_id, "constellation": CONSTELLATION_TAGS[constellation]}
    tags |= {key: format_tag_value(value) for key, value in fields.items() if value not in (None, "")}
    satellite = satellite_from_product_id(source_id) or satellite
    if satellite:
        tags["satellite"] = satellite
    return tags


def satellite_from_product_id(name: str) -> str | None:
    """The record tag ``satellite`` a name implies (``SENTINEL1A``, ``SENTINEL2B``, ``LANDSAT08``)."""
    constellation = constellation_from_product_id(name)
    if constellation in (Constellation.SENTINEL1, Constellation.SENTINEL2) and name[2:3].isalpha():
        return f"SENTINEL{name[1]}{name[2]}"
    if constellation is Constellation.LANDSAT89:
        return f"LANDSAT{name[2:4]}"
    return None


def product_name_key(scene: Scene) -> str:
    """The name that identifies a product across its reprocessings, to find double entries.

    Sentinel-1: the first 63 characters (the unique id is dropped). Sentinel-2 (compact naming):
    mission, level, sensing time, relative orbit and tile, i.e. the name without the processing
    baseline ``_Nxxyy`` and without the product discriminator (the generation time), which both change
    when ESA reprocesses a datatake (the original kept the discriminator, so reprocessed products
    were rarely recognised). Others: the id itself.
    """
    name = scene.source_id
    if scene.constellation is Constellation.SENTINEL1:
        return name[:63]
    if scene.constellation is Constellation.SENTINEL2 and is_s2_compact_name(name):
        return name[:26] + "_NXXYY" + name[32:44]
    return name
