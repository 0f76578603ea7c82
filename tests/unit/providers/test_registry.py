"""Catalogue selection per constellation, from the settings."""

from __future__ import annotations

import pytest

from catalogue.errors import CatalogueError
from catalogue.models import Constellation
from common.settings import Settings
from providers.registry import build_searchers, catalogue_names


def names(setting: str, constellation: Constellation, **extra: str) -> list[str]:
    return [s.name for s in build_searchers(Settings(catalogues=setting, **extra), constellation)]


def test_defaults_pick_a_catalogue_for_each_optical_and_radar_constellation() -> None:
    settings = Settings()
    assert catalogue_names(settings, Constellation.SENTINEL1) == ["cdse", "asf"]
    assert catalogue_names(settings, Constellation.SENTINEL2) == ["cdse"]
    assert catalogue_names(settings, Constellation.LANDSAT89) == ["stac-landsat"]
    assert catalogue_names(settings, Constellation.PHR) == ["oneatlas"]


def test_constellation_keys_accept_every_alias_and_refuse_unknown_ones() -> None:
    setting = "s2=creodias; pleiades=oneatlas; landsat=stac-landsat; *=cdse"
    assert catalogue_names(Settings(catalogues=setting), Constellation.SENTINEL2) == ["creodias"]
    assert catalogue_names(Settings(catalogues=setting), Constellation.PHR) == ["oneatlas"]
    assert catalogue_names(Settings(catalogues=setting), Constellation.LANDSAT89) == ["stac-landsat"]
    with pytest.raises(CatalogueError, match="unknown constellation 'sentinel3'"):
        catalogue_names(Settings(catalogues="sentinel3=cdse"), Constellation.SENTINEL2)


def test_per_constellation_order_with_a_fallback_entry() -> None:
    setting = "sentinel-2=creodias,cdse; *=static-stac"
    assert names(setting, Constellation.SENTINEL2) == ["creodias", "cdse"]
    assert names(setting, Constellation.SENTINEL1, static_stac_catalog="/x") == ["static-stac"]


def test_a_plain_list_applies_to_every_constellation() -> None:
    assert names("cdse,creodias", Constellation.SENTINEL1) == ["cdse", "creodias"]


def test_unknown_or_missing_catalogues_are_clear_errors() -> None:
    with pytest.raises(CatalogueError, match=r"unknown catalogue.*cdsee"):
        names("cdsee", Constellation.SENTINEL2)
    with pytest.raises(CatalogueError, match="no catalogue for Landsat89"):
        names("sentinel2=cdse", Constellation.LANDSAT89)
    with pytest.raises(CatalogueError, match="GEOCUBE_INGESTER_STATIC_STAC_CATALOG"):
        names("static-stac", Constellation.SENTINEL2)
