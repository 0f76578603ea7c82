"""Search parameters of a payload (``scene_type.parameters``), shared by the catalogues.

The keys are the original ingester's (DHuS/SciHub words): ``producttype``, ``cloudcoverpercentage``
(``"[min TO max]"``), ``polarisationmode``, ``sensoroperationalmode``, ``relativeorbitnumber``,
``filename``... Each catalogue says which ones it understands; any other key is an error, so a typo never
widens a search silently.

:func:`check_parameters` checks them once, when the payload is validated, against what the catalogues of
the constellation understand together: a key none of them knows, a malformed value (a cloud cover that is
not ``[min TO max]`` within 0..100, a relative orbit that is not one of the constellation's, a product
type of another mission...) fails there, naming the parameter and the fix, rather than at search time.
The vocabularies are those of ESA's SciHub/DHuS OpenSearch (``producttype``, ``polarisationmode``,
``sensoroperationalmode``), CDSE's OData attributes (S1 product types also as ``IW_SLC__1S``) and ASF's
``processingLevel`` (``BURST``, ``GRD_HD``...), as the catalogues of ``providers`` send them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping

from catalogue.errors import CatalogueError
from catalogue.models import Constellation
from common.errors import FieldProblem

# The ``platformname`` of each Sentinel constellation, as ESA spells it (CDSE names its collections so).
SENTINEL_PLATFORMS = {Constellation.SENTINEL1: "SENTINEL-1", Constellation.SENTINEL2: "SENTINEL-2"}
_ORBIT_DIRECTIONS = {"ASC": "ASCENDING", "DESC": "DESCENDING"}
_RANGE_RE = re.compile(r"^\s*\[\s*(\S+)\s+TO\s+(\S+)\s*\]\s*$", re.IGNORECASE)


def normalise_parameters(
    parameters: Mapping[str, str], *, known: Collection[str], catalogue: str
) -> dict[str, str]:
    """``parameters`` with lower-case keys.

    Raises:
        CatalogueError: a key is not in ``known`` (every such key is named, with the known ones).
    """
    normalised = {key.strip().lower(): value for key, value in parameters.items()}
    unknown = sorted(k for k in normalised if k not in known)
    if unknown:
        raise CatalogueError(
            f"scene_type.parameters: catalogue {catalogue!r} does not understand "
            f"{', '.join(repr(k) for k in unknown)}; known: {', '.join(sorted(known))}"
        )
    return normalised


def parse_range(key: str, value: str, *, lowest: float, highest: float) -> tuple[float, float]:
    """``"[min TO max]"`` as two floats, checked to satisfy ``lowest <= min <= max <= highest``.

    Raises:
        CatalogueError: malformed value or bounds out of range.
    """
    match = _RANGE_RE.match(value)
    problem = f"scene_type.parameters.{key}: {value!r} must be '[min TO max]', e.g. '[0 TO 30]'"
    if match is None:
        raise CatalogueError(problem)
    try:
        low, high = float(match.group(1)), float(match.group(2))
    except ValueError as exc:
        raise CatalogueError(problem) from exc
    if not lowest <= low <= high <= highest:
        raise CatalogueError(
            f"scene_type.parameters.{key}: {value!r} needs {lowest:g} <= min <= max <= {highest:g}"
        )
    return low, high


def parse_int(key: str, value: str) -> int:
    """An integer parameter (e.g. ``relativeorbitnumber``).

    Raises:
        CatalogueError: not an integer.
    """
    try:
        return int(value.strip())
    except ValueError as exc:
        raise CatalogueError(f"scene_type.parameters.{key}: {value!r} is not an integer") from exc


def check_platform(value: str, constellation: Constellation) -> None:
    """``platformname`` (DHuS ``Sentinel-1``, any case, hyphen optional) must name the Sentinel
    ``constellation`` asked for.

    Raises:
        CatalogueError: it names another platform.
    """
    wanted = SENTINEL_PLATFORMS[constellation]
    if value.strip().upper().replace("SENTINEL", "SENTINEL-").replace("--", "-") != wanted:
        raise CatalogueError(
            f"scene_type.parameters.platformname: {value!r} does not match the constellation "
            f"{constellation} (expected {wanted!r}); remove it or change scene_type.constellation"
        )


def parse_orbit_direction(value: str) -> str:
    """``ASCENDING`` or ``DESCENDING`` from any case or ``ASC``/``DESC``.

    Raises:
        CatalogueError: any other value.
    """
    direction = value.strip().upper()
    direction = _ORBIT_DIRECTIONS.get(direction, direction)
    if direction not in _ORBIT_DIRECTIONS.values():
        raise CatalogueError(
            f"scene_type.parameters.orbitdirection: {value!r} must be ASCENDING or DESCENDING"
        )
    return direction


# What the catalogues of each constellation understand together (providers/cdse/filter.py, dhus.py,
# asf.py, stac/api.py, stac/static.py, oneatlas/search.py): a key outside it fails every search.
_SENTINEL_KEYS = frozenset(
    {"producttype", "relativeorbitnumber", "orbitdirection", "filename", "platformname"}
)
_ONEATLAS_KEYS = frozenset(
    {
        "producttype",
        "platform",
        "processinglevel",
        "cloudcover",
        "incidenceangle",
        "workspace",
        "relation",
        "acquisitionidentifier",
        "getprice",
    }
)
KNOWN_PARAMETERS: dict[Constellation, frozenset[str]] = {
    Constellation.SENTINEL1: _SENTINEL_KEYS | {"polarisationmode", "sensoroperationalmode"},
    Constellation.SENTINEL2: _SENTINEL_KEYS | {"cloudcoverpercentage", "tileid"},
    Constellation.LANDSAT89: frozenset(
        {"cloudcoverpercentage", "producttype", "relativeorbitnumber", "filename"}
    ),
    Constellation.PHR: _ONEATLAS_KEYS,
    Constellation.SPOT: _ONEATLAS_KEYS,
}
# Product types: DHuS/CDSE words, ASF processing levels, the short Sentinel-2 levels.
PRODUCT_TYPES: dict[Constellation, frozenset[str]] = {
    Constellation.SENTINEL1: frozenset(
        {"SLC", "GRD", "OCN", "RAW", "BURST", "GRD_HD", "GRD_HS", "GRD_MD", "GRD_MS", "GRD_FD"}
    ),
    Constellation.SENTINEL2: frozenset({"S2MSI1C", "S2MSI2A", "S2MSI2AP", "L1C", "L2A"}),
}
# CDSE's long Sentinel-1 product types: mode, type and resolution, level and class (IW_SLC__1S, EW_GRDM_1S).
_S1_LONG_PRODUCT_TYPE = re.compile(r"^(IW|EW|WV|S[1-6])_(SLC_|GRD[FHM]|OCN_|RAW_)_[0-2][SA]$")
# Relative orbits per repeat cycle: Sentinel-1 175 (12 days), Sentinel-2 143 (10 days), Landsat paths 233.
RELATIVE_ORBITS = {Constellation.SENTINEL1: 175, Constellation.SENTINEL2: 143, Constellation.LANDSAT89: 233}
_POLARISATIONS = frozenset({"HH", "VV", "HV", "VH"})
_S1_MODES = frozenset({"SM", "IW", "EW", "WV"})
_MGRS_TILE = re.compile(r"^T?\d{2}[C-HJ-NP-X][A-HJ-NP-Z][A-HJ-NP-V]$")
_ONEATLAS_RANGE = re.compile(r"^\s*\[\s*([^,\s]+)\s*,\s*([^,\s]+)\s*\]\s*$")


def _check_product_type(value: str, constellation: Constellation) -> str | None:
    known = PRODUCT_TYPES.get(constellation)
    wanted = value.strip().upper()
    if known is None or wanted in known:
        return None
    if constellation is Constellation.SENTINEL1 and _S1_LONG_PRODUCT_TYPE.match(wanted):
        return None
    return f"{value!r} is not a {constellation} product type; use one of {', '.join(sorted(known))}"


def _check_polarisations(value: str, constellation: Constellation) -> str | None:
    channels = value.replace("&", " ").upper().split()
    if channels and len(channels) <= 2 and set(channels) <= _POLARISATIONS:
        return None
    return f"{value!r} must be one or two of HH, VV, HV, VH (e.g. 'VV VH')"


def _check_mode(value: str, constellation: Constellation) -> str | None:
    if value.strip().upper() in _S1_MODES:
        return None
    return f"{value!r} must be one of {', '.join(sorted(_S1_MODES))}"


def _check_tile(value: str, constellation: Constellation) -> str | None:
    if _MGRS_TILE.match(value.strip().upper()):
        return None
    return f"{value!r} is not an MGRS tile id; give one such as 'T31TCJ' or '31TCJ'"


def _check_orbit(value: str, constellation: Constellation) -> str | None:
    orbit = parse_int("relativeorbitnumber", value)
    highest = RELATIVE_ORBITS.get(constellation)
    if highest is not None and not 1 <= orbit <= highest:
        return f"{value!r}: the relative orbits of {constellation} are 1 to {highest}"
    return None


def _check_oneatlas_range(highest: float) -> Callable[[str, Constellation], str | None]:
    def check(value: str, constellation: Constellation) -> str | None:
        match = _ONEATLAS_RANGE.match(value) or _RANGE_RE.match(value)
        try:
            low, high = (float(match.group(1)), float(match.group(2))) if match else (math.nan, math.nan)
        except ValueError:
            low = high = math.nan
        if 0 <= low <= high <= highest:
            return None
        return f"{value!r} must be '[min,max]' or '[min TO max]' with 0 <= min <= max <= {highest:g}"

    return check


def _check_boolean(value: str, constellation: Constellation) -> str | None:
    return None if value.strip().lower() in ("true", "false") else f"{value!r} must be 'true' or 'false'"


def _check_cloud(value: str, constellation: Constellation) -> str | None:
    parse_range("cloudcoverpercentage", value, lowest=0, highest=100)
    return None


def _check_direction(value: str, constellation: Constellation) -> str | None:
    parse_orbit_direction(value)
    return None


def _check_platform(value: str, constellation: Constellation) -> str | None:
    if constellation in SENTINEL_PLATFORMS:
        check_platform(value, constellation)
    return None


_Check = Callable[[str, Constellation], str | None]
_SENTINEL_CHECKS: dict[str, _Check] = {
    "producttype": _check_product_type,
    "cloudcoverpercentage": _check_cloud,
    "relativeorbitnumber": _check_orbit,
    "orbitdirection": _check_direction,
    "platformname": _check_platform,
    "polarisationmode": _check_polarisations,
    "sensoroperationalmode": _check_mode,
    "tileid": _check_tile,
}
_ONEATLAS_CHECKS: dict[str, _Check] = {
    "cloudcover": _check_oneatlas_range(100),
    "incidenceangle": _check_oneatlas_range(90),
    "getprice": _check_boolean,
}
_CHECKS = {
    Constellation.SENTINEL1: _SENTINEL_CHECKS,
    Constellation.SENTINEL2: _SENTINEL_CHECKS,
    Constellation.LANDSAT89: _SENTINEL_CHECKS,
    Constellation.PHR: _ONEATLAS_CHECKS,
    Constellation.SPOT: _ONEATLAS_CHECKS,
}


def check_parameters(
    parameters: Mapping[str, str],
    constellation: Constellation,
    *,
    known: Collection[str] | None = None,
) -> list[FieldProblem]:
    """Every problem of a payload's ``scene_type.parameters``, each naming its key and the fix.

    Args:
        parameters: the payload's parameters (keys in any case).
        constellation: the payload's constellation.
        known: the keys understood (default: those some catalogue of the constellation understands).
    """
    known = KNOWN_PARAMETERS[constellation] if known is None else known
    problems: list[FieldProblem] = []
    seen: dict[str, str] = {}
    for key, value in parameters.items():
        name = key.strip().lower()
        where = f"scene_type.parameters.{key}"
        if name in seen:
            problems.append(
                FieldProblem(
                    where, f"the same parameter as {seen[name]!r} (keys are read in any case); keep one"
                )
            )
            continue
        seen[name] = key
        if name not in known:
            problems.append(
                FieldProblem(
                    where,
                    f"no catalogue of {constellation} understands {key!r}; known: {', '.join(sorted(known))}",
                )
            )
            continue
        if not value.strip():
            problems.append(FieldProblem(where, "is empty; give a value or remove the parameter"))
            continue
        check = _CHECKS[constellation].get(name)
        try:
            problem = check(value, constellation) if check is not None else None
        except CatalogueError as exc:
            problem = str(exc).split(": ", 1)[-1]
        if problem is not None:
            problems.append(FieldProblem(where, problem))
    return problems
