"""Sentinel-2 radiometry as the product's own metadata states it (MTD_MSIL1C.xml / MTD_MSIL2A.xml).

Since processing baseline 04.00 (25 January 2022) L1C and L2A digital numbers carry an additive offset:

    reflectance = (DN + offset[band]) / quantification

with ``offset`` from ``Radiometric_Offset_List/RADIO_ADD_OFFSET`` (L1C) or
``BOA_ADD_OFFSET_VALUES_LIST/BOA_ADD_OFFSET`` (L2A), per ``band_id``, and ``quantification`` from
``QUANTIFICATION_VALUE`` (L1C) or ``QUANTIFICATION_VALUES_LIST/BOA_QUANTIFICATION_VALUE`` (L2A). ``band_id``
is the index of ``Spectral_Information/@bandId``, whose ``physicalBand`` names the band (``B1``, ``B8A``).
Older baselines have no offset. DN 0 is "no data" in every baseline (``Special_Values``).
Reference: Sentinel-2 Products Specification Document (PSD) 14.9, and the fixtures' real metadata.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from common.xml import parse_untrusted_xml
from graphs.errors import GraphError

logger = logging.getLogger(__name__)

OFFSET_BASELINE = (4, 0)  # the first processing baseline with radiometric offsets
_PHYSICAL_BAND = re.compile(r"^B(\d{1,2}|8A)$")


@dataclass(frozen=True)
class S2Radiometry:
    """How a product's DNs become reflectance: ``(DN + offsets[band]) / quantification``."""

    product: str
    processing_baseline: str
    quantification: float
    offsets: dict[str, float] = field(default_factory=dict)  # band code (B01…B12, B8A) -> DN offset

    def scale_offset(self, band: str) -> tuple[float, float]:
        """GDAL-style ``(scale, offset)`` of ``band``: reflectance = DN * scale + offset."""
        return 1.0 / self.quantification, self.offsets.get(band, 0.0) / self.quantification


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _band_code(physical: str) -> str:
    """``B1`` -> ``B01``, ``B8A`` -> ``B8A`` (the codes of the band file names)."""
    match = _PHYSICAL_BAND.match(physical.strip())
    if match is None:
        raise ValueError(physical)
    number = match.group(1)
    return "B8A" if number == "8A" else f"B{int(number):02d}"


def _baseline_tuple(baseline: str) -> tuple[int, int] | None:
    match = re.match(r"^\s*(\d+)\.(\d+)", baseline)
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_s2_radiometry(xml: bytes, *, name: str) -> S2Radiometry:
    """The radiometry of a product from its ``MTD_MSIL1C.xml`` or ``MTD_MSIL2A.xml`` bytes.

    Raises:
        GraphError: not XML, a DTD (product metadata has none), no quantification value, or a value
            that is not a number (``name`` is quoted).
    """
    root = parse_untrusted_xml(xml, name=name, error=GraphError, what="product metadata")
    baseline = ""
    quantification: float | None = None
    band_names: dict[str, str] = {}
    raw_offsets: dict[str, str] = {}
    try:
        for element in root.iter():
            tag, text = _local(element.tag), (element.text or "").strip()
            if tag == "PROCESSING_BASELINE" and not baseline:
                baseline = text
            elif tag in ("QUANTIFICATION_VALUE", "BOA_QUANTIFICATION_VALUE"):
                quantification = float(text)
            elif tag == "Spectral_Information" and "bandId" in element.attrib:
                band_names[element.attrib["bandId"]] = _band_code(element.attrib.get("physicalBand", ""))
            elif tag in ("RADIO_ADD_OFFSET", "BOA_ADD_OFFSET"):
                raw_offsets[element.attrib.get("band_id", "")] = text
        offsets = {band_names.get(i, f"band_id {i}"): float(v) for i, v in raw_offsets.items()}
    except ValueError as exc:
        raise GraphError(f"{name}: a radiometric value is not a number ({exc})") from None
    if quantification is None or not quantification > 0:
        raise GraphError(f"{name}: no QUANTIFICATION_VALUE (or BOA_QUANTIFICATION_VALUE) > 0 found")
    unnamed = sorted(b for b in offsets if b.startswith("band_id"))
    if unnamed:
        raise GraphError(f"{name}: offsets for {', '.join(unnamed)} have no Spectral_Information band")
    version = _baseline_tuple(baseline)
    if not offsets and version is not None and version >= OFFSET_BASELINE:
        logger.warning(
            "%s: processing baseline %s has no radiometric offset list; using offset 0", name, baseline
        )
    return S2Radiometry(
        product=name, processing_baseline=baseline, quantification=quantification, offsets=offsets
    )


def find_product_metadata(safe: Path) -> Path | None:
    """``<safe>/MTD_MSIL1C.xml`` or ``<safe>/MTD_MSIL2A.xml`` (also the older ``S2A_OPER_MTD_SAFL…``)."""
    for pattern in ("MTD_MSIL1C.xml", "MTD_MSIL2A.xml", "*MTD_SAFL1C*.xml", "*MTD_SAFL2A*.xml"):
        found = sorted(safe.glob(pattern))
        if found:
            return found[0]
    return None


def read_s2_radiometry(safe: Path) -> S2Radiometry:
    """The radiometry of the ``.SAFE`` folder ``safe``.

    Raises:
        GraphError: no product metadata file, or one that cannot be read (see ``parse_s2_radiometry``).
    """
    path = find_product_metadata(safe)
    if path is None:
        raise GraphError(f"{safe.name}: no MTD_MSIL1C.xml or MTD_MSIL2A.xml: the product is incomplete")
    try:
        xml = path.read_bytes()
    except OSError as exc:
        raise GraphError(f"{path}: cannot be read ({exc.strerror})") from exc
    return parse_s2_radiometry(xml, name=f"{safe.name}/{path.name}")
