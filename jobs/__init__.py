"""The two jobs of an ingestion, as plain functions: download a scene, process a tile.

They combine the domain packages (providers, graphs, storage, geocube_client) and import no Prefect:
``tasks/`` wraps them with retries and ``flows/`` schedules them.
"""
