"""Parsing XML that comes from outside (product metadata, annotations): no DTD, no entities.

Sentinel product XML has no DTD. Refusing one before the parser sees it rules out entity expansion
("billion laughs") and external entities with the standard library's parser.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET


def parse_untrusted_xml(data: bytes, *, name: str, error: type[Exception], what: str = "file") -> ET.Element:
    """The root element of ``data``.

    Raises:
        error: a DTD or entity declaration, or text that is not XML (``name`` is quoted).
    """
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise error(f"{name}: a DTD or entity declaration in {what} is refused")
    try:
        return ET.fromstring(data)  # noqa: S314 (DTDs refused above)
    except ET.ParseError as exc:
        raise error(f"{name}: not valid XML ({exc})") from exc
