"""Stubs generated from ``geocube_client/proto/geocube.proto``; do not edit, run ``python -m geocube_client.generate``."""
