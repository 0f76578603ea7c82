"""Search parameters of a payload (``scene_type.parameters``), shared by the catalogues.

The keys are the original ingester's (DHuS/SciHub words): ``producttype``, ``cloudcoverpercentage``
(``"[min TO max]"``), ``polarisationmode``, ``sensoroperationalmode``, ``relativeorbitnumber``,
``filename``... Each catalogue says which ones it understands; any other key is an error, so a typo never
widens a search silently.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from catalogue.errors import CatalogueError
from catalogue.models import Constellation

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
