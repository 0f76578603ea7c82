"""Prefect flows: the parent ``ingest`` flow and the two child flows (wiring only)."""
