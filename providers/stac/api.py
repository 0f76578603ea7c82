"""STAC API catalogues (STAC API v1.0.0 Item Search), searched with pystac-client.

Presets (``StacApiPreset``) say what differs between services:

- ``USGS_LANDSAT``: the original ingester's Landsat catalogue, ``POST
  https://landsatlook.usgs.gov/stac-server/search``, collection ``landsat-c2l1``, ``query`` extension
  ``platform in [LANDSAT_8, LANDSAT_9]`` and ``eo:cloud_cover`` ``gte``/``lte`` integers.
- ``EARTH_SEARCH``: Element 84 Earth Search v1, collections ``sentinel-2-l1c``/``sentinel-2-l2a`` (by
  ``producttype``) and ``landsat-c2-l2``, ``query`` extension.
- ``CDSE_STAC``: https://stac.dataspace.copernicus.eu/v1 (documentation.dataspace.copernicus.eu,
  "STAC product catalogue"), collections ``sentinel-1-slc``/``sentinel-1-grd`` and
  ``sentinel-2-l1c``/``sentinel-2-l2a``, CQL2-JSON ``filter`` on ``sat:relative_orbit``,
  ``sat:orbit_state``, ``sar:instrument_mode``, ``eo:cloud_cover``, ``grid:code``. A page holds at most
  200 items for ``sentinel-2-l2a`` (1000 elsewhere), and CDSE pages no further than 10 000 items.

Pages are followed by their ``next`` link, including the link's ``body`` and ``method`` for POST
(pystac-client does it; the original ingester dropped the body). Requests go through
``providers.stac.requests_io.RetryingStacApiIO``: each answer is classified where its status is known
(STYLE.md §3) and temporary failures are retried with the whole body re-sent. Items are read as JSON
objects (``providers.stac.items``), so STAC 0.7 items are read too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from pystac import STACError, STACTypeError
from pystac_client import Client
from pystac_client.errors import ClientTypeError
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from shapely.errors import ShapelyError
from shapely.geometry import mapping

from catalogue.errors import CatalogueError, CatalogueTemporaryError
from catalogue.models import Constellation, Scene, SceneQuery, SearchResult
from catalogue.parameters import normalise_parameters, parse_int, parse_orbit_direction, parse_range
from catalogue.shapes import AnswerShapeError, list_of_mappings
from common.http import is_temporary_status
from common.redaction import redact, redact_url
from providers.stac.items import Item, item_constellation, item_to_scene
from providers.stac.requests_io import RetryingStacApiIO

log = logging.getLogger(__name__)

_S2_COLLECTIONS = {
    "S2MSI1C": "sentinel-2-l1c",
    "L1C": "sentinel-2-l1c",
    "S2MSI2A": "sentinel-2-l2a",
    "L2A": "sentinel-2-l2a",
}
_S1_COLLECTIONS = {"SLC": "sentinel-1-slc", "GRD": "sentinel-1-grd"}


@dataclass
class StacSearch:
    """What one search sends (``collections``, ``query`` or CQL2-JSON ``filter``) and, for what the
    service cannot filter, a test run on each item (``keep``)."""

    collections: list[str]
    query: dict[str, Any] | None = None
    filter: dict[str, Any] | None = None
    keep: Callable[[Item], bool] | None = None


@dataclass(frozen=True)
class StacApiPreset:
    """A STAC API service: its default URL, the constellations it serves and how a query becomes a search."""

    name: str
    url: str
    constellations: frozenset[Constellation]
    build_search: Callable[[SceneQuery], StacSearch]
    page_size: int = 100
    max_rows: int | None = None


def _cloud_range(params: Mapping[str, str], *, integers: bool = False) -> tuple[float, float] | None:
    if "cloudcoverpercentage" not in params:
        return None
    low, high = parse_range("cloudcoverpercentage", params["cloudcoverpercentage"], lowest=0, highest=100)
    if integers and not (low.is_integer() and high.is_integer()):
        raise CatalogueError(
            f"scene_type.parameters.cloudcoverpercentage: {params['cloudcoverpercentage']!r}: the USGS "
            "Landsat catalogue takes integer values, e.g. '[0 TO 30]'"
        )
    return (int(low), int(high)) if integers else (low, high)


def _collection(params: Mapping[str, str], choices: Mapping[str, str], default: str) -> str:
    value = params.get("producttype", default).strip().upper()
    if value not in choices:
        raise CatalogueError(
            f"scene_type.parameters.producttype: {params['producttype']!r} is not served here; "
            f"known: {', '.join(sorted(choices))}"
        )
    return choices[value]


def _mgrs(value: str) -> str:
    tile = value.strip().upper().removeprefix("T")
    return f"MGRS-{tile}"


def build_usgs_landsat_search(query: SceneQuery) -> StacSearch:
    """The original ingester's Landsat search (``landsataws/scenes.go``)."""
    params = normalise_parameters(query.parameters, known={"cloudcoverpercentage"}, catalogue="stac-landsat")
    conditions: dict[str, Any] = {"platform": {"in": ["LANDSAT_8", "LANDSAT_9"]}}
    if (cloud := _cloud_range(params, integers=True)) is not None:
        conditions["eo:cloud_cover"] = {"gte": cloud[0], "lte": cloud[1]}
    return StacSearch(collections=["landsat-c2l1"], query=conditions)


def build_earth_search(query: SceneQuery) -> StacSearch:
    """Earth Search v1: Sentinel-2 L1C/L2A, Landsat 8/9 Collection 2 Level-2."""
    landsat = query.constellation is Constellation.LANDSAT89
    known = {"cloudcoverpercentage"} if landsat else {"cloudcoverpercentage", "producttype", "tileid"}
    params = normalise_parameters(query.parameters, known=known, catalogue="stac-earth-search")
    conditions: dict[str, Any] = {}
    if landsat:
        collection = "landsat-c2-l2"
        conditions["platform"] = {"in": ["landsat-8", "landsat-9"]}
    else:
        collection = _collection(params, _S2_COLLECTIONS, "S2MSI1C")
    if (cloud := _cloud_range(params)) is not None:
        conditions["eo:cloud_cover"] = {"gte": cloud[0], "lte": cloud[1]}
    if "tileid" in params:
        conditions["grid:code"] = {"eq": _mgrs(params["tileid"])}
    return StacSearch(collections=[collection], query=conditions or None)


def _cql2_equal(name: str, value: Any) -> dict[str, Any]:
    return {"op": "=", "args": [{"property": name}, value]}


def build_cdse_stac_search(query: SceneQuery) -> StacSearch:
    """CDSE STAC: Sentinel-1 SLC/GRD and Sentinel-2 L1C/L2A, filtered with CQL2-JSON."""
    s1 = query.constellation is Constellation.SENTINEL1
    known = {"producttype", "relativeorbitnumber"} | (
        {"polarisationmode", "sensoroperationalmode", "orbitdirection"}
        if s1
        else {"cloudcoverpercentage", "tileid"}
    )
    params = normalise_parameters(query.parameters, known=known, catalogue="stac-cdse")
    args: list[dict[str, Any]] = []
    keep = None
    if "relativeorbitnumber" in params:
        args.append(
            _cql2_equal("sat:relative_orbit", parse_int("relativeorbitnumber", params["relativeorbitnumber"]))
        )
    if "sensoroperationalmode" in params:
        args.append(_cql2_equal("sar:instrument_mode", params["sensoroperationalmode"].strip().upper()))
    if "orbitdirection" in params:
        direction = parse_orbit_direction(params["orbitdirection"]).lower()  # STAC: "descending"
        args.append(_cql2_equal("sat:orbit_state", direction))
    if (cloud := _cloud_range(params)) is not None:
        args += [
            {"op": ">=", "args": [{"property": "eo:cloud_cover"}, cloud[0]]},
            {"op": "<=", "args": [{"property": "eo:cloud_cover"}, cloud[1]]},
        ]
    if "tileid" in params:
        args.append(_cql2_equal("grid:code", _mgrs(params["tileid"])))
    if "polarisationmode" in params:
        # An array equality needs CQL2 array functions; compared here instead, on each item.
        wanted = sorted(params["polarisationmode"].replace("&", " ").upper().split())

        def keep(item: Item) -> bool:
            found = (item.get("properties") or {}).get("sar:polarizations") or []
            return sorted(str(p).upper() for p in found) == wanted

    collection = (
        _collection(params, _S1_COLLECTIONS, "SLC") if s1 else _collection(params, _S2_COLLECTIONS, "S2MSI1C")
    )
    cql2 = args[0] if len(args) == 1 else ({"op": "and", "args": args} if args else None)
    return StacSearch(collections=[collection], filter=cql2, keep=keep)


USGS_LANDSAT = StacApiPreset(
    name="stac-landsat",
    url="https://landsatlook.usgs.gov/stac-server",
    constellations=frozenset({Constellation.LANDSAT89}),
    build_search=build_usgs_landsat_search,
    page_size=1000,  # the original's catalogue limit for Landsat
)
EARTH_SEARCH = StacApiPreset(
    name="stac-earth-search",
    url="https://earth-search.aws.element84.com/v1",
    constellations=frozenset({Constellation.SENTINEL2, Constellation.LANDSAT89}),
    build_search=build_earth_search,
    page_size=100,
)
CDSE_STAC = StacApiPreset(
    name="stac-cdse",
    url="https://stac.dataspace.copernicus.eu/v1",
    constellations=frozenset({Constellation.SENTINEL1, Constellation.SENTINEL2}),
    build_search=build_cdse_stac_search,
    page_size=200,  # CDSE: at most 200 per page for sentinel-2-l2a, 1000 for the others
    max_rows=10_000,  # CDSE release notes 2024-11-12: (page - 1) * limit <= 10 000
)


# More items than any collection holds: an announced count above this is not a count.
MAX_PLAUSIBLE_COUNT = 100_000_000


def _matched(page: Mapping[str, Any]) -> int | None:
    """The count of a page: ``numberMatched`` (OGC API Features), else ``context.matched``."""
    context = page.get("context")
    value = page.get("numberMatched", context.get("matched") if isinstance(context, Mapping) else None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class StacApiSearcher:
    """Searches a STAC API with the rules of a preset (``USGS_LANDSAT``, ``EARTH_SEARCH``, ``CDSE_STAC``).

    Every page is read unless the query has a ``limit``; then the items ``page*limit ..
    page*limit+limit-1`` are returned (kept items: an item of another constellation, sensed outside
    ``[start, end)`` or failing a test the service cannot run is not counted) and ``truncated`` says
    whether more matched.
    """

    def __init__(
        self,
        preset: StacApiPreset,
        *,
        url: str | None = None,
        name: str | None = None,
        collections: Mapping[Constellation, Sequence[str]] | None = None,
        stac_io: StacApiIO | None = None,
        timeout_s: float = 60.0,
        page_size: int | None = None,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        deadline_s: float | None = None,
        max_bytes: int | None = None,
    ) -> None:
        """
        Args:
            preset: the service's rules.
            url: the API root (landing page); by default the preset's.
            name: the catalogue's name in results and messages; by default the preset's.
            collections: collections searched for a constellation instead of the preset's choice
                (e.g. Earth Search's ``sentinel-2-c1-l2a``).
            stac_io: the pystac-client I/O to use; by default a ``RetryingStacApiIO``.
            timeout_s, max_retries, backoff_s: of each request (when ``stac_io`` is not given).
            deadline_s, max_bytes: the whole time and the size cap of one answer (idem; None: the
                settings).
            page_size: ``limit`` of each page; by default the preset's.
        """
        self.preset = preset
        self.url = (url or preset.url).rstrip("/")
        self.name = name or preset.name
        self.collections = {c: list(v) for c, v in (collections or {}).items()}
        self.page_size = page_size or preset.page_size
        self.timeout_s = timeout_s
        self._stac_io = stac_io or RetryingStacApiIO(
            catalogue=self.name,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            deadline_s=deadline_s,
            max_bytes=max_bytes,
        )
        self._client: Client | None = None

    def supports(self, constellation: Constellation) -> bool:
        return constellation in self.preset.constellations

    def search(self, query: SceneQuery) -> SearchResult:
        """Raises CatalogueTemporaryError (after retries) or CatalogueError."""
        if not self.supports(query.constellation):
            raise CatalogueError(
                f"catalogue {self.name!r} has no {query.constellation} products; it serves "
                f"{', '.join(sorted(self.preset.constellations))}"
            )
        spec = self.preset.build_search(query)
        spec.collections = self.collections.get(query.constellation, spec.collections)
        offset = query.page * query.limit
        wanted = offset + query.limit if query.limit else None
        try:
            scenes, total, more = self._collect(query, spec, wanted)
        except APIError as exc:  # from a caller's own stac_io
            status = getattr(exc, "status_code", None)
            error = (
                CatalogueTemporaryError if status is None or is_temporary_status(status) else CatalogueError
            )
            raise error(f"{self.name}: {redact_url(self.url)} answered {status}: {str(exc)[:200]}") from exc
        except (STACError, STACTypeError, ClientTypeError, NotImplementedError, ValueError, TypeError,
                AttributeError, KeyError) as exc:  # fmt: skip
            # pystac and pystac-client read a body of the wrong shape with these; their text may quote
            # the signed URL, so it is redacted, and the error is not chained.
            raise CatalogueError(
                f"{self.name}: {redact_url(self.url)} answered something that is not a STAC API answer: "
                f"{type(exc).__name__}: {redact(str(exc))[:200]}"
            ) from None
        truncated = wanted is not None and (len(scenes) > wanted or more)
        scenes = scenes[offset:wanted]
        log.info(
            "%s: %d %s item(s) in %s%s",
            self.name,
            len(scenes),
            query.constellation,
            ", ".join(spec.collections),
            " (truncated by page/limit)" if truncated else "",
        )
        return SearchResult(scenes=scenes, catalogue=self.name, truncated=truncated, total=total)

    def _open(self) -> Client:
        if self._client is None:
            self._client = Client.open(self.url, stac_io=self._stac_io, timeout=self.timeout_s)
        return self._client

    def _collect(
        self, query: SceneQuery, spec: StacSearch, wanted: int | None
    ) -> tuple[list[Scene], int | None, bool]:
        """The kept scenes, ``wanted`` at least if that many match; the count the service announced;
        whether it announced more than ``wanted``."""
        try:
            aoi = mapping(shapely.from_wkt(query.aoi_wkt))
        except ShapelyError as exc:
            raise CatalogueError(f"{self.name}: the AOI is not valid WKT: {exc}") from exc
        search = self._open().search(
            method="POST",
            collections=spec.collections,
            intersects=aoi,
            datetime=(query.start, query.end),
            query=spec.query,
            filter=spec.filter,
            limit=self.page_size if wanted is None else max(1, min(self.page_size, wanted)),
        )
        scenes: list[Scene] = []
        seen: set[str] = set()
        total: int | None = None
        followed: set[str] = set()
        for number, page in enumerate(search.pages_as_dicts()):
            if not isinstance(page, Mapping):
                raise AnswerShapeError(
                    f"{self.name}: page {number + 1} is {type(page).__name__}, not an object"
                )
            if number == 0:
                total = _matched(page)
                if total is not None and not 0 <= total <= MAX_PLAUSIBLE_COUNT:
                    raise AnswerShapeError(
                        f"{self.name}: the service announced {total} matching items, not a count "
                        f"(0..{MAX_PLAUSIBLE_COUNT}); its answer cannot be paged"
                    )
                self._check_rows(total, wanted)
            where = f"{self.name}: page {number + 1}"
            scenes += self._keep(list_of_mappings(page, "features", where=where), query, spec, seen)
            if wanted is not None and len(scenes) >= wanted:
                return scenes, total, total is not None and total > wanted
            self._check_next(page, followed, where=where)
        return scenes, total, False

    def _check_next(self, page: Mapping[str, Any], followed: set[str], *, where: str) -> None:
        """Stop a listing whose ``next`` link (with its body) repeats one already followed."""
        links = list_of_mappings(page, "links", where=where)
        nexts = [link for link in links if link.get("rel") == "next"]
        if not nexts:
            return
        key = json.dumps([nexts[0].get("href"), nexts[0].get("body")], sort_keys=True, default=str)
        if key in followed:
            raise CatalogueError(
                f"{where}: the next link repeats a page already read "
                f"({redact_url(str(nexts[0].get('href')))}); the service pages without end"
            )
        followed.add(key)

    def _check_rows(self, total: int | None, wanted: int | None) -> None:
        cap = self.preset.max_rows
        if cap is not None and total is not None and total > cap and (wanted is None or wanted > cap):
            raise CatalogueError(
                f"{self.name}: {total} items match, but the service pages no further than {cap}; "
                "narrow the search (shorter start_time..end_time window, smaller AOI, page/limit)"
            )

    def _keep(
        self, features: Sequence[Item], query: SceneQuery, spec: StacSearch, seen: set[str]
    ) -> Iterator[Scene]:
        for item in features:
            item_id = str(item.get("id"))
            if item_id in seen:
                continue
            seen.add(item_id)
            if item_constellation(item) is not query.constellation:
                log.debug("%s: item %s is not %s; skipped", self.name, item_id, query.constellation)
                continue
            if spec.keep is not None and not spec.keep(item):
                continue
            scene = item_to_scene(item, query.constellation, catalogue=self.name)
            if query.start <= scene.date < query.end:
                yield scene
