"""Airbus OneAtlas (Pléiades, SPOT): ``search`` of the catalogue, ``orders`` for prices and orders."""

from providers.oneatlas.search import OneAtlasSearcher

__all__ = ["OneAtlasSearcher"]
