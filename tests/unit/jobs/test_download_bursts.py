"""Burst tiles through the download job: the whole SLC split by S1BurstSplit (a local archive holding the
zipped S1B_…_EFA4), bursts fetched alone by a burst provider, and the fallback when it has not got one."""

from __future__ import annotations

import json
import warnings
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import rasterio
from pydantic import SecretStr
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from catalogue.burst_safe import check_one_burst_safe, read_burst_pixels
from catalogue.models import Constellation, Scene, Tile
from common.settings import Settings
from graphs.loader import LIBRARY_DIR
from jobs.download import run_scene_job
from jobs.models import SceneJob
from storage import open_storage
from storage.layout import PRODUCT_LAYER, LayerRef, import_layer
from tests.support.burst_servers import Answer, scripted_server
from tests.support.s1_bursts import EFA4, asf_burst_tiff, asf_metadata_xml, one_burst_zip, unpack_efa4

SPLIT = str(LIBRARY_DIR / "S1BurstSplit.json")  # the built-in, by its path
BOX = "POLYGON ((1 43, 2 43, 2 44, 1 44, 1 43))"
DATE = datetime(2021, 4, 1, 5, 26, 22, tzinfo=UTC)


def _tile(nr: int, swath: str = "IW1") -> Tile:
    return Tile(source_id=f"A117_{swath}_{1000 + nr}", scene_id=EFA4, date=DATE, footprint_wkt=BOX,
                swath_id=swath, tile_nr=nr, burst_id=200000 + nr)  # fmt: skip


def _job(tmp_path: Path, tiles: list[Tile], **config: str) -> SceneJob:
    scene = Scene(source_id=EFA4, date=DATE, constellation=Constellation.SENTINEL1, footprint_wkt=BOX)
    return SceneJob(aoi="A", scene=scene, tiles=tiles, graph_name=SPLIT, graph_config=config,
                    storage_uri=str(tmp_path / "storage"))  # fmt: skip


def _opened(tmp_path: Path, tile: Tile, name: str) -> Path:
    """The stored tile imported as a processing job imports it: ``<scene>.SAFE`` in its folder."""
    folder = tmp_path / name
    folder.mkdir()
    ref = LayerRef("A", EFA4, tile.source_id, DATE, PRODUCT_LAYER, "SAFE")
    return import_layer(open_storage(str(tmp_path / "storage")), folder, ref)


def _swath_lines(safe: Path, name: str, burst: int, lines: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(safe / "measurement" / name) as src:
            return np.asarray(src.read(1, window=Window(0, (burst - 1) * lines, src.width, lines)))


@pytest.mark.slow
def test_bursts_split_from_the_whole_slc_open_again_as_one_burst_safes(
    shared_fixtures: Path, tmp_path: Path
) -> None:
    tiles = [_tile(2), _tile(5)]
    settings = Settings(
        providers="local", local_archive=str(shared_fixtures / "s1"), workdir=tmp_path / "work"
    )
    result = run_scene_job(_job(tmp_path, tiles), settings)
    assert result.provider == "local" and len(result.stored) == 2
    assert result.message.startswith("2 burst(s) split from the SLC downloaded by local (")
    source = unpack_efa4(shared_fixtures, tmp_path / "source")
    for tile in tiles:
        stored = tmp_path / "storage" / "A" / EFA4 / "tiles" / tile.source_id / f"{EFA4}.zip"
        assert str(stored) in result.stored
        with zipfile.ZipFile(stored) as zf:
            assert {n.split("/")[0] for n in zf.namelist()} == {f"{EFA4}.SAFE"}
        safe = _opened(tmp_path, tile, f"open-{tile.tile_nr}")
        burst = check_one_burst_safe(safe)
        assert (burst.swath, burst.polarisations, burst.lines) == ("IW1", ("VH", "VV"), 1501)
        for tiff in sorted((safe / "measurement").glob("*.tiff")):
            np.testing.assert_array_equal(
                read_burst_pixels(tiff), _swath_lines(source, tiff.name, tile.tile_nr, 1501)
            )
    assert list((tmp_path / "work").iterdir()) == []  # scratch and download folders removed
    again = run_scene_job(_job(tmp_path, tiles), settings)
    assert again.message == "already in storage" and sorted(again.stored) == sorted(result.stored)


@pytest.mark.slow
def test_a_burst_provider_first_then_the_whole_slc_for_the_burst_it_has_not_got(
    shared_fixtures: Path, tmp_path: Path
) -> None:
    source = unpack_efa4(shared_fixtures, tmp_path / "source")
    xml = asf_metadata_xml(source, swath="IW1", polarisation="VV")
    tiff = asf_burst_tiff(source, tmp_path / "b3.tiff", swath="IW1", polarisation="VV", burst=3)
    with scripted_server() as asf:
        asf.routes[("GET", f"/{EFA4}/IW1/VV/2.xml")] = [Answer(200, xml)]
        asf.routes[("GET", f"/{EFA4}/IW1/VV/2.tiff")] = [Answer(200, tiff)]  # burst 7 (index 6): 404
        settings = Settings(
            providers="asf-bursts,local", earthdata_token=SecretStr("edl-secret"), asf_burst_url=asf.base,
            local_archive=str(shared_fixtures / "s1"), workdir=tmp_path / "work",
        )  # fmt: skip
        result = run_scene_job(_job(tmp_path, [_tile(3), _tile(7)], polarisations="VV"), settings)
        asked = sorted({r[1] for r in asf.requests})
    assert asked == [f"/{EFA4}/IW1/VV/2.tiff", f"/{EFA4}/IW1/VV/2.xml", f"/{EFA4}/IW1/VV/6.xml"]
    assert result.provider == "asf-bursts, local" and len(result.stored) == 2
    assert result.message.startswith("1 burst(s) by asf-bursts, ")
    assert "MB per burst; 1 burst(s) split from the SLC downloaded by local (" in result.message
    assert (
        result.bytes_fetched == len(xml) + len(tiff) + (shared_fixtures / "s1" / f"{EFA4}.zip").stat().st_size
    )
    for tile in (_tile(3), _tile(7)):
        safe = _opened(tmp_path, tile, f"open-{tile.tile_nr}")
        burst = check_one_burst_safe(safe)
        assert burst.polarisations == ("VV",) and burst.lines == 1501  # the payload's polarisations only
        [measurement] = (safe / "measurement").glob("*.tiff")
        np.testing.assert_array_equal(
            read_burst_pixels(measurement), _swath_lines(source, measurement.name, tile.tile_nr, 1501)
        )


def test_a_burst_the_product_has_not_got_fails_fatally(shared_fixtures: Path, tmp_path: Path) -> None:
    settings = Settings(
        providers="local", local_archive=str(shared_fixtures / "s1"), workdir=tmp_path / "work"
    )
    with pytest.raises(Exception, match=r"FATAL ERROR: .*burst 12 asked for; the swath has bursts 1 to 9"):
        run_scene_job(_job(tmp_path, [_tile(12)]), settings)


@pytest.mark.slow
def test_cdse_bursts_one_polarisation_per_call_merged_into_the_tiles_safe(
    shared_fixtures: Path, tmp_path: Path
) -> None:
    """The recorded Bursts entity answers both lookups (one Id per polarisation); each POST is answered
    by a one-polarisation zip, and the tile stores one SAFE holding both."""
    entity = json.loads(
        (shared_fixtures / "cdse/bursts/bursts_entity_46577370-83b3-4410-89de-09b4bb23e5dd.json").read_text()
    )
    token_body = (shared_fixtures / "cdse" / "token" / "token_response.redacted.json").read_bytes()
    source = unpack_efa4(shared_fixtures, tmp_path / "source")
    zips = {
        pol: one_burst_zip(source, tmp_path, swath="IW1", burst=4, polarisation=pol) for pol in ("VV", "VH")
    }
    with scripted_server() as cdse:
        cdse.routes[("POST", "/token")] = [Answer(200, token_body)]
        cdse.routes[("GET", "/odata/v1/Bursts")] = [
            Answer(
                200,
                json.dumps({"value": [{**entity, "Id": f"id-{pol}", "PolarisationChannels": pol}]}).encode(),
            )
            for pol in ("VV", "VH")
        ]
        for pol, body in zips.items():
            cdse.routes[("POST", f"/download/Bursts(id-{pol})/$value")] = [Answer(200, body)]
        settings = Settings(
            providers="cdse-bursts,local", cdse_username="user@example.org",
            cdse_password=SecretStr("pw-secret"), cdse_token_url=f"{cdse.base}/token",
            cdse_odata_url=f"{cdse.base}/odata/v1", cdse_burst_url=f"{cdse.base}/download",
            local_archive=str(tmp_path / "nothing"), workdir=tmp_path / "work",
        )  # fmt: skip
        result = run_scene_job(_job(tmp_path, [_tile(4)]), settings)
        filters = [
            parse_qs(urlsplit(r[1]).query)["$filter"][0] for r in cdse.asked("GET", "/odata/v1/Bursts")
        ]
    assert [("PolarisationChannels eq 'VV'" in f, "PolarisationChannels eq 'VH'" in f) for f in filters] == [
        (True, False),
        (False, True),
    ]
    assert result.provider == "cdse-bursts" and result.bytes_fetched == sum(len(z) for z in zips.values())
    assert result.message.startswith("1 burst(s) by cdse-bursts, ")
    burst = check_one_burst_safe(_opened(tmp_path, _tile(4), "open"))
    assert burst.polarisations == ("VH", "VV") and burst.lines == 1501
