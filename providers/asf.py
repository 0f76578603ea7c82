"""Alaska Satellite Facility (ASF) catalogue: the SearchAPI, Sentinel-1 only, searched anonymously.

Implements ``GET {search_url}?platform=SENTINEL-1&processingLevel=...&intersectsWith=<WKT>&start=...&end=
...&output=jsonlite`` of the ASF SearchAPI (https://docs.asf.alaska.edu/api/keywords/). Two of its output
formats are read, both as recorded in the shared fixtures (``asf/Fairbanks_SLC_jsonlite*.json``):
``jsonlite`` (long keys) and ``jsonlite2`` (short keys, ``{gn}`` standing for the granule name). Neither
carries the MD5 of the product, so the same search is asked again as ``output=metalink`` (also recorded),
which gives each file's MD5 and exact size.

The SearchAPI has no offset: ``maxResults`` caps the rows and the answer is newest first. A ``page``/
``limit`` query reads the first ``(page+1)*limit+1`` rows and keeps its own slice of them.
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import shapely
from pydantic import SecretStr
from shapely.errors import ShapelyError
from shapely.geometry.polygon import orient

from catalogue.errors import CatalogueError
from catalogue.http import decode_json_object, open_client, retry_temporary, send
from catalogue.models import Constellation, Scene, SceneQuery, SearchResult
from catalogue.naming import make_scene_tags
from catalogue.parameters import check_platform, normalise_parameters, parse_int, parse_orbit_direction
from catalogue.shapes import AnswerShapeError, reading
from common.redaction import redact_url
from common.settings import Settings
from providers.cdse.filter import DEFAULT_PRODUCT_TYPES, parse_odata_datetime
from providers.errors import ProductNotFoundError
from providers.fetch import DownloadAuthError, Expected, Fetcher

log = logging.getLogger(__name__)

DEFAULT_SEARCH_URL = "https://api.daac.asf.alaska.edu/services/search/param"
KNOWN_PARAMETERS = frozenset(
    {
        "producttype",
        "polarisationmode",
        "sensoroperationalmode",
        "relativeorbitnumber",
        "orbitdirection",
        "platformname",
    }
)
# DHuS product types (the payload's words) as ASF processing levels; others are sent as they are
# (GRD_HS, GRD_MD, OCN, BURST...).
PROCESSING_LEVELS = {"SLC": "SLC", "GRD": "GRD_HD"}
OUTPUTS = ("jsonlite", "jsonlite2")
# A longer intersectsWith makes the GET URL too long: a simpler polygon covering the AOI is sent.
MAX_WKT_CHARS = 4000
_METALINK_NS = {"m": "http://www.metalinker.org/"}
# jsonlite2 key -> jsonlite key (asf_search export/jsonlite2.py); "{gn}" stands for the granule name.
_JSONLITE2_KEYS = {
    "bm": "beamMode",
    "d": "dataset",
    "du": "downloadUrl",
    "f": "frame",
    "fd": "flightDirection",
    "fn": "fileName",
    "gid": "groupID",
    "gn": "granuleName",
    "o": "orbit",
    "p": "path",
    "pid": "productID",
    "po": "polarization",
    "pt": "productType",
    "s": "sizeMB",
    "st": "startTime",
    "stp": "stopTime",
    "w": "wkt",
    "wu": "wkt_unwrapped",
}


def format_asf_datetime(value: datetime) -> str:
    """``2021-01-02T03:20:31Z``: UTC, whole seconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def intersects_with(aoi_wkt: str) -> str:
    """The AOI as the SearchAPI wants it: counter-clockwise polygons; when its WKT is too long for a URL,
    its convex hull, or else its oriented bounding rectangle (results outside the AOI are dropped later).

    Raises:
        CatalogueError: the AOI is not valid WKT.
    """
    try:
        geom = shapely.from_wkt(aoi_wkt)
    except ShapelyError as exc:
        raise CatalogueError(f"asf: the AOI is not valid WKT: {exc}") from exc
    for candidate in (geom, geom.convex_hull, shapely.oriented_envelope(geom)):
        if candidate.geom_type == "Polygon":
            candidate = orient(candidate, sign=1.0)
        elif candidate.geom_type == "MultiPolygon":
            candidate = shapely.MultiPolygon([orient(p, sign=1.0) for p in candidate.geoms])
        wkt = str(shapely.to_wkt(candidate, rounding_precision=6, trim=True))
        if len(wkt) <= MAX_WKT_CHARS:
            break
    if candidate is not geom:
        log.info("asf: the AOI's WKT is too long for a URL; a polygon covering it is searched")
    return wkt


def build_params(query: SceneQuery, *, output: str = "jsonlite") -> dict[str, str]:
    """The SearchAPI keywords of a query (``maxResults`` excluded).

    Raises:
        CatalogueError: not Sentinel-1, or a parameter is unknown or malformed.
    """
    if query.constellation is not Constellation.SENTINEL1:
        raise CatalogueError(f"catalogue 'asf' has no {query.constellation} products; it serves Sentinel1")
    params = normalise_parameters(query.parameters, known=KNOWN_PARAMETERS, catalogue="asf")
    if "platformname" in params:
        check_platform(params["platformname"], Constellation.SENTINEL1)
    product_type = params.get("producttype", DEFAULT_PRODUCT_TYPES[Constellation.SENTINEL1]).strip().upper()
    keywords = {
        "platform": "SENTINEL-1",
        "processingLevel": PROCESSING_LEVELS.get(product_type, product_type),
        "intersectsWith": intersects_with(query.aoi_wkt),
        "start": format_asf_datetime(query.start),
        "end": format_asf_datetime(query.end),
        "output": output,
    }
    if "sensoroperationalmode" in params:
        keywords["beamMode"] = params["sensoroperationalmode"].strip().upper()
    if "polarisationmode" in params:  # "VV VH" in DHuS words, "VV+VH" in ASF's
        keywords["polarization"] = "+".join(params["polarisationmode"].upper().split())
    if "relativeorbitnumber" in params:
        keywords["relativeOrbit"] = str(parse_int("relativeorbitnumber", params["relativeorbitnumber"]))
    if "orbitdirection" in params:
        keywords["flightDirection"] = parse_orbit_direction(params["orbitdirection"])
    return keywords


def expand_jsonlite2(result: Mapping[str, Any]) -> dict[str, Any]:
    """A ``jsonlite2`` result with ``jsonlite`` keys (``{gn}`` replaced by the granule name)."""
    name = str(result.get("gn") or "")
    expanded: dict[str, Any] = {}
    for short, long in _JSONLITE2_KEYS.items():
        value = result.get(short)
        expanded[long] = value.replace("{gn}", name) if isinstance(value, str) else value
    return expanded


def parse_result(result: Mapping[str, Any], *, catalogue: str = "asf") -> Scene:
    """See :func:`_parse_result`; a wrong shape anywhere in the answer is an ``AnswerShapeError`` naming it.

    Raises:
        CatalogueError: as ``_parse_result``, and ``AnswerShapeError`` for JSON of the wrong shape.
    """
    if not isinstance(result, Mapping):
        raise AnswerShapeError(f"{catalogue}: a result is {type(result).__name__}, not an object")
    shown = str(result.get("granuleName") or "(no granuleName)")[:120]
    with reading(f"{catalogue}: a result {shown}"):
        return _parse_result(result, catalogue=catalogue)


def _parse_result(result: Mapping[str, Any], *, catalogue: str = "asf") -> Scene:
    """One ``jsonlite`` result as a Scene (``jsonlite2``: pass it through ``expand_jsonlite2`` first).

    Raises:
        CatalogueError: the result lacks its granule name, start time, footprint or download URL.
    """
    name = result.get("granuleName")
    if not isinstance(name, str) or not name:
        raise CatalogueError(f"{catalogue}: a result has no granuleName (keys: {', '.join(sorted(result))})")
    missing = [k for k in ("startTime", "wkt", "downloadUrl") if not result.get(k)]
    if missing:
        raise CatalogueError(f"{catalogue}: granule {name}: missing {', '.join(missing)} in the answer")
    try:
        date = parse_odata_datetime(str(result["startTime"]))
        footprint = shapely.from_wkt(str(result["wkt"])).wkt
    except (ValueError, ShapelyError) as exc:
        raise CatalogueError(f"{catalogue}: granule {name}: unreadable startTime or wkt: {exc}") from exc
    orbits = result.get("orbit")
    orbit = orbits[0] if isinstance(orbits, list) and orbits else orbits
    fields = {
        "ingestionDate": str(result["startTime"]),
        "orbitDirection": result.get("flightDirection"),
        "relativeOrbit": result.get("path"),
        "orbit": orbit,
        "productType": result.get("productType"),
        "polarisationMode": " ".join(str(result.get("polarization") or "").split("+")) or None,
    }
    tags = make_scene_tags(name, Constellation.SENTINEL1, fields)
    metadata: dict[str, Any] = {"download_link": str(result["downloadUrl"])}
    if isinstance(result.get("fileName"), str):
        metadata["file_name"] = result["fileName"]
    if isinstance(result.get("sizeMB"), int | float) and math.isfinite(result["sizeMB"]):
        # sizeMB is the byte count / 2**20 (exact for the recorded granule: 4193723581 bytes).
        metadata["size_bytes"] = round(float(result["sizeMB"]) * 2**20)
    return Scene(
        source_id=name,
        date=date,
        constellation=Constellation.SENTINEL1,
        footprint_wkt=str(footprint),
        tags=tags,
        metadata=metadata,
        catalogue=catalogue,
    )


def parse_metalink(text: str) -> dict[str, tuple[str | None, int | None]]:
    """``{file name: (md5, size in bytes)}`` of a SearchAPI ``output=metalink`` answer (Metalink 3.0).

    Raises:
        CatalogueError: not a Metalink document.
    """
    try:
        # The document comes from the configured ASF endpoint; Python's expat (>= 2.4.1) bounds entity
        # expansion and does not fetch external entities.
        root = ET.fromstring(text)  # noqa: S314
    except ET.ParseError as exc:
        raise CatalogueError(f"asf: the metalink answer is not XML: {exc}") from exc
    files: dict[str, tuple[str | None, int | None]] = {}
    for node in root.iterfind("m:files/m:file", _METALINK_NS):
        md5 = node.findtext("m:verification/m:hash[@type='md5']", namespaces=_METALINK_NS)
        size = node.findtext("m:size", namespaces=_METALINK_NS)
        files[node.get("name", "")] = (md5, int(size) if size and size.isdigit() else None)
    return files


class AsfSearcher:
    """Sentinel-1 products on the ASF SearchAPI (download links point at the ASF datapool).

    Args:
        search_url: the SearchAPI ``param`` endpoint.
        output: ``jsonlite`` or ``jsonlite2``.
        fetch_checksums: also ask ``output=metalink`` for each product's MD5 (one more request).
        client: an httpx client to use (not closed here); by default one is made per search.
        timeout_s, max_retries, backoff_s: as the CDSE searcher.
    """

    name = "asf"

    def __init__(
        self,
        *,
        search_url: str = DEFAULT_SEARCH_URL,
        output: str = "jsonlite",
        fetch_checksums: bool = True,
        client: httpx.Client | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        deadline_s: float | None = None,
        max_bytes: int | None = None,
    ) -> None:
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, not {output!r}")
        self.search_url = search_url
        self.output = output
        self.fetch_checksums = fetch_checksums
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.deadline_s = deadline_s  # of one whole answer (None: GEOCUBE_INGESTER_CATALOGUE_DEADLINE_S)
        self.max_bytes = max_bytes  # cap of one answer (None: GEOCUBE_INGESTER_CATALOGUE_MAX_RESPONSE_MB)
        self._client = client

    def supports(self, constellation: Constellation) -> bool:
        return constellation is Constellation.SENTINEL1

    def search(self, query: SceneQuery) -> SearchResult:
        """Raises CatalogueTemporaryError (after retries) or CatalogueError."""
        params = build_params(query, output=self.output)
        first_row = query.page * query.limit
        if query.limit:
            # One row more than wanted tells whether the limit cut the listing.
            params["maxResults"] = str(first_row + query.limit + 1)
        with open_client(self._client, timeout_s=self.timeout_s) as client:
            body = self._get(client, params, expect_json=True)
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise CatalogueError(f"asf: {redact_url(self.search_url)} answered JSON without 'results'")
            rows = [expand_jsonlite2(r) if self.output == "jsonlite2" else dict(r) for r in results]
            truncated = bool(query.limit) and len(rows) > first_row + query.limit
            if query.limit:
                rows = rows[first_row : first_row + query.limit]
            scenes = _unique([parse_result(r, catalogue=self.name) for r in rows])
            if self.fetch_checksums and scenes:
                self._add_checksums(client, params, scenes)
        scenes.sort(key=lambda s: s.date)
        log.info(
            "asf: %d Sentinel1 granule(s) from %s to %s%s",
            len(scenes),
            params["start"],
            params["end"],
            " (truncated by page/limit)" if truncated else "",
        )
        return SearchResult(scenes=scenes, catalogue=self.name, truncated=truncated)

    def _add_checksums(self, client: httpx.Client, params: dict[str, str], scenes: list[Scene]) -> None:
        files = parse_metalink(str(self._get(client, params | {"output": "metalink"}, expect_json=False)))
        for scene in scenes:
            md5, size = files.get(scene.metadata.get("file_name") or f"{scene.source_id}.zip", (None, None))
            if md5:
                scene.metadata["checksums"] = {"MD5": md5}
            if size is not None:
                scene.metadata["size_bytes"] = size
        unmatched = [s.source_id for s in scenes if "checksums" not in s.metadata]
        if unmatched:
            log.warning("asf: no MD5 in the metalink answer for %s", ", ".join(unmatched))

    def _get(self, client: httpx.Client, params: dict[str, str], *, expect_json: bool) -> Any:
        def attempt() -> Any:
            response = send(
                client,
                "GET",
                self.search_url,
                catalogue=self.name,
                timeout_s=self.timeout_s,
                deadline_s=self.deadline_s,
                max_bytes=self.max_bytes,
                params=params,
            )
            return decode_json_object(response, catalogue=self.name) if expect_json else response.text

        return retry_temporary(attempt, max_retries=self.max_retries, backoff_s=self.backoff_s)


def _unique(scenes: list[Scene]) -> list[Scene]:
    seen: set[str] = set()
    kept = []
    for scene in scenes:
        if scene.source_id not in seen:
            seen.add(scene.source_id)
            kept.append(scene)
    return kept


# The hosts an Earthdata token may go to: ASF's download hosts and Earthdata Login. The signed URL they
# redirect to (CloudFront, S3) gets no token.
ASF_HOSTS = frozenset(
    {
        "datapool.asf.alaska.edu",
        "sentinel1.asf.alaska.edu",
        "urs.earthdata.nasa.gov",
        "cumulus.asf.alaska.edu",
    }
)


class AsfDownloader:
    """Downloads a granule ASF found (its ``downloadUrl``) with an Earthdata Login bearer token.

    The size and MD5 the searcher read (``sizeMB``, the metalink) are verified while streaming. A token
    (60 days, at most 2 per user) comes from GEOCUBE_INGESTER_EARTHDATA_TOKEN and goes to ASF's and
    Earthdata's hosts only. A scene ASF did not find (no ``download_link`` on an ASF host) is not this
    provider's: the next one is tried.
    """

    name = "asf"

    def __init__(
        self, token: SecretStr, *, fetcher: Fetcher | None = None, hosts: frozenset[str] = ASF_HOSTS
    ) -> None:
        self._token = token
        self.fetcher = fetcher or Fetcher()
        self.hosts = hosts

    def __repr__(self) -> str:
        return "AsfDownloader(token=<set>)"

    @classmethod
    def from_settings(cls, settings: Settings) -> AsfDownloader | None:
        """None without GEOCUBE_INGESTER_EARTHDATA_TOKEN."""
        if settings.earthdata_token is None:
            return None
        return cls(settings.earthdata_token, fetcher=Fetcher.from_settings(settings))

    def _headers(self, refresh: bool) -> Mapping[str, str]:
        if refresh:
            raise DownloadAuthError(
                "Earthdata Login refused the token: create a new one at urs.earthdata.nasa.gov and set "
                "GEOCUBE_INGESTER_EARTHDATA_TOKEN"
            )
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    def download(self, scene: Scene, dest_dir: Path) -> Path:
        link = str(scene.metadata.get("download_link") or "")
        if urlsplit(link).hostname not in self.hosts:
            raise ProductNotFoundError(
                f"{scene.source_id}: no ASF download link (found by {scene.catalogue or 'no catalogue'})"
            )
        expected = Expected.of(scene.metadata)
        name = str(scene.metadata.get("file_name") or f"{scene.source_id}.zip")
        fetched = self.fetcher.fetch(
            link, dest_dir / Path(name).name, what=scene.source_id, expected=expected,
            auth=self._headers, trusted_hosts=self.hosts,
        )  # fmt: skip
        return fetched.path
