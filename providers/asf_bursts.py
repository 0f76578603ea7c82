"""ASF's burst extractor: one Sentinel-1 SLC burst, one polarisation, as a TIFF and an XML.

``GET <asf_burst_url>/<SLC scene>/<IW>/<POL>/<i>.tiff`` (the burst's lines of the measurement) and
``.../<i>.xml`` (the product's metadata), with an Earthdata Login bearer token, through the download
core (``providers.fetch``: resumed after a cut, the token kept off the hosts ASF redirects to). ``i`` is
the burst's index in its swath counted from 0, as asf_search's ``burstIndex`` and burst2safe (which reads
``azimuthTime`` of the annotation's burst ``[burstIndex]``) count it: the tile's ``tile_nr`` minus 1;
e.g. ``asf/SLC_BURST.yml``'s ``…/IW3/VV/5.tiff``. The service extracts on demand and answers **202**
while it does: the request is asked again, after the ``Retry-After`` it sends (else ``poll_s``), for
90 s at most, then the failure is temporary (a later retry finds it extracted).

The XML is ASF's combined metadata, read as burst2safe reads it (``utils.get_subxml_from_metadata``;
no recorded example was found): ``metadata/{product|calibration|noise|rfi}`` elements, each with
``swath``, ``polarisation`` and ``content`` (the whole swath's annotation, calibration or noise XML),
and ``manifest/xfdu:XFDU`` (the SLC's manifest). The one-burst SAFE is assembled from them: the XML
files are written where the manifest places them, then cut to the burst
(``catalogue.burst_safe.cut_burst_safe``) with the fetched TIFF as the burst's measurement.
"""

from __future__ import annotations

import logging
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from catalogue.burst_safe import BurstSafeError, cut_burst_safe
from catalogue.models import Scene, Tile
from common.redaction import redact_url
from common.settings import Settings
from common.xml import parse_untrusted_xml
from providers.asf import ASF_HOSTS
from providers.errors import (
    BurstDeliveryError,
    DownloadAuthError,
    DownloadTemporaryError,
    ProductNotFoundError,
    ProductNotReadyError,
)
from providers.fetch import Fetcher

log = logging.getLogger(__name__)

MAX_EXTRACTION_WAIT_S = 90.0
XFDU = "{urn:ccsds:schema:xfdu:1}XFDU"
_KINDS = ("product", "calibration", "noise")


class AsfBurstDownloader:
    """Downloads one burst of one polarisation from ASF's burst extractor (module docstring)."""

    name = "asf-bursts"

    def __init__(
        self,
        token: SecretStr,
        *,
        burst_url: str,
        timeout_s: float = 60.0,
        poll_s: float = 5.0,
        max_wait_s: float = MAX_EXTRACTION_WAIT_S,
        sleep: Callable[[float], None] = time.sleep,
        fetcher: Fetcher | None = None,
    ) -> None:
        self._token = token
        self.fetcher = fetcher or Fetcher(timeout_s=timeout_s)
        self.burst_url = burst_url.rstrip("/")
        self.poll_s = poll_s
        self.max_wait_s = max_wait_s
        self._sleep = sleep
        self.hosts = ASF_HOSTS | {"sentinel1-burst.asf.alaska.edu", urlsplit(self.burst_url).hostname or ""}

    def __repr__(self) -> str:
        return "AsfBurstDownloader(token=<set>)"

    @classmethod
    def from_settings(cls, settings: Settings) -> AsfBurstDownloader | None:
        """None without GEOCUBE_INGESTER_EARTHDATA_TOKEN."""
        if settings.earthdata_token is None:
            return None
        return cls(
            settings.earthdata_token,
            burst_url=settings.asf_burst_url,
            timeout_s=settings.http_timeout_s,
            fetcher=Fetcher.from_settings(settings),
        )

    def download_burst(self, scene: Scene, tile: Tile, polarisation: str, dest_dir: Path) -> Path:
        if not tile.swath_id or tile.tile_nr < 1:
            raise ProductNotFoundError(f"{scene.source_id}/{tile.source_id}: not a burst tile")
        pol, swath = polarisation.upper(), tile.swath_id.upper()
        what = f"{scene.source_id}/{tile.source_id} {pol}"
        base = f"{self.burst_url}/{scene.source_id}/{swath}/{pol}/{tile.tile_nr - 1}"
        dest_dir.mkdir(parents=True, exist_ok=True)
        xml = self._get(f"{base}.xml", dest_dir / f"{tile.source_id}_{pol}.xml", what=what)
        tiff = self._get(f"{base}.tiff", dest_dir / f"{tile.source_id}_{pol}.tiff", what=what)
        return assemble_burst_safe(
            xml, tiff, dest_dir, scene_id=scene.source_id, swath=swath, polarisation=pol, burst=tile.tile_nr
        )

    def _auth(self, refresh: bool) -> Mapping[str, str]:
        """The token, for ASF's hosts only (the download core keeps it off a signed URL's host)."""
        if refresh:
            raise DownloadAuthError(
                "Earthdata Login refused the token; create a new one at urs.earthdata.nasa.gov and set "
                "GEOCUBE_INGESTER_EARTHDATA_TOKEN"
            )
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    def _get(self, url: str, dest: Path, *, what: str) -> Path:
        """Fetch ``url`` to ``dest`` with the download core, asking again while the service answers 202
        (the core's ProductNotReadyError), for ``max_wait_s`` at most."""
        started = time.monotonic()
        slept = 0.0
        while True:
            try:
                fetched = self.fetcher.fetch(url, dest, what=what, auth=self._auth, trusted_hosts=self.hosts)
                return fetched.path
            except ProductNotReadyError as exc:
                waited = max(time.monotonic() - started, slept)
                delay = self.poll_s if exc.retry_after_s is None else exc.retry_after_s
                if waited + delay > self.max_wait_s:
                    raise DownloadTemporaryError(
                        f"{what}: {redact_url(url)} still extracting after {waited:.0f} s (202); try again "
                        "later",
                        retry_after_s=delay,
                    ) from None
            log.info("%s: %s is being extracted (202); asking again in %.1f s", what, redact_url(url), delay)
            self._sleep(delay)
            slept += delay


def assemble_burst_safe(
    xml: Path, tiff: Path, dest_dir: Path, *, scene_id: str, swath: str, polarisation: str, burst: int
) -> Path:
    """The one-burst SAFE of ASF's metadata XML and burst TIFF, in ``dest_dir`` (module docstring).

    Raises:
        BurstDeliveryError: the XML is not ASF's metadata of that swath and polarisation, or the TIFF
            does not hold the burst's lines.
    """
    root = parse_untrusted_xml(xml.read_bytes(), name=xml.name, error=BurstDeliveryError, what="ASF metadata")
    metadata = root.find("metadata")
    if metadata is None:
        raise BurstDeliveryError(f"{xml.name}: no metadata element; not ASF's burst metadata")
    manifest = root.find(f"manifest/{XFDU}")
    hrefs = _manifest_hrefs(manifest)
    safe = dest_dir / "swath" / f"{scene_id}.SAFE"
    for kind in _KINDS:
        content = _content(metadata, kind, swath=swath, polarisation=polarisation)
        if content is None:
            if kind == "product":
                raise BurstDeliveryError(f"{xml.name}: no product annotation of {swath} {polarisation}")
            continue
        name = _file_name(hrefs, kind, scene_id=scene_id, swath=swath, polarisation=polarisation)
        (safe / name).parent.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(content).write(safe / name, encoding="UTF-8", xml_declaration=True)
    if manifest is not None:
        for prefix, uri in _PREFIXES.items():
            ET.register_namespace(prefix, uri)
        ET.ElementTree(manifest).write(safe / "manifest.safe", encoding="UTF-8", xml_declaration=True)
    out = dest_dir / f"{scene_id}_{swath}_{polarisation}.SAFE"
    try:
        cut_burst_safe(safe, out, swath=swath, burst=burst, polarisations=[polarisation],
                       burst_tiffs={polarisation: tiff})  # fmt: skip
    except BurstSafeError as exc:
        raise BurstDeliveryError(f"{xml.name}: {exc}") from None
    finally:
        shutil.rmtree(safe.parent, ignore_errors=True)  # the whole swath's XML, made only to be cut
    return out


_PREFIXES = {
    "xfdu": "urn:ccsds:schema:xfdu:1",
    "safe": "http://www.esa.int/safe/sentinel-1.0",
    "s1": "http://www.esa.int/safe/sentinel-1.0/sentinel-1",
    "s1sar": "http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar",
    "s1sarl1": "http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1",
    "gml": "http://www.opengis.net/gml",
}


def _content(metadata: ET.Element, kind: str, *, swath: str, polarisation: str) -> ET.Element | None:
    """The XML document of ``kind`` for the swath and polarisation, as its own root (``<product>``…)."""
    for element in metadata.findall(kind):
        if (element.findtext("swath") or "").upper() != swath or (
            element.findtext("polarisation") or ""
        ).upper() != polarisation:
            continue
        content = element.find("content")
        if content is None:
            return None
        inner = list(content)
        if len(inner) == 1 and inner[0].tag == kind:
            return inner[0]
        document = ET.Element(kind)
        document.extend(inner)  # burst2safe reads content as the document's root
        return document
    return None


def _manifest_hrefs(manifest: ET.Element | None) -> list[str]:
    if manifest is None:
        return []
    return [
        loc.get("href", "").removeprefix("./")
        for loc in manifest.iterfind("dataObjectSection/dataObject/byteStream/fileLocation")
    ]


def _file_name(hrefs: list[str], kind: str, *, scene_id: str, swath: str, polarisation: str) -> str:
    """Where the manifest puts ``kind`` of the swath and polarisation, else a name of the same form."""
    prefix = {"product": "annotation/s1", "calibration": "annotation/calibration/calibration-s1",
              "noise": "annotation/calibration/noise-s1"}[kind]  # fmt: skip
    tag = f"-{swath.lower()}-slc-{polarisation.lower()}-"
    for href in hrefs:
        if href.startswith(prefix) and tag in href and href.endswith(".xml"):
            return href
    return f"{prefix}{scene_id[2:3].lower()}{tag}{scene_id.lower()}.xml"
