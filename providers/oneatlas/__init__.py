"""Airbus OneAtlas (Pléiades, SPOT): ``search`` of the catalogue, ``orders`` for prices, orders and
credits, ``download`` for delivered products (ordering them when needed)."""

from providers.oneatlas.search import OneAtlasSearcher

__all__ = ["OneAtlasSearcher"]
