"""Download providers: one module per provider behind the small ``Downloader`` protocol (``base``).

The registry of download providers is ``providers.downloaders`` (``PROVIDERS``, ``BURST_PROVIDERS``,
``build_providers``) and that of catalogues ``providers.registry``: this package imports neither, so
that the download core (``providers.fetch``) comes without every provider's dependencies.
"""
