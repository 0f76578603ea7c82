"""Documents about to become flow parameters lose their links' secrets."""

from __future__ import annotations

from typing import Any

from catalogue.models import without_link_secrets


def test_every_link_of_a_document_loses_its_secrets_and_nothing_else_changes() -> None:
    document: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "sourceID": "S2X",
                    "data": {
                        "uuid": "u-1",
                        "metadata": {
                            "download_link": "https://u:pw@h/p.zip?token=T&format=zip",
                            "assets": {"product": "s3://b/p.zip?X-Amz-Signature=S"},
                            "note": "https://h/keep?token=kept-outside-links",
                        },
                    },
                },
            }
        ],
    }
    clean = without_link_secrets(document)
    metadata = clean["features"][0]["properties"]["data"]["metadata"]
    assert metadata["download_link"] == "https://h/p.zip?format=zip"
    assert metadata["assets"] == {"product": "s3://b/p.zip"}
    assert metadata["note"] == "https://h/keep?token=kept-outside-links", "only links are touched"
    assert clean["features"][0]["properties"]["sourceID"] == "S2X"
    assert document["features"][0]["properties"]["data"]["metadata"]["download_link"].startswith(
        "https://u:pw@"
    )
