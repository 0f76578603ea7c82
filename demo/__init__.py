"""The offline demo: a generated Sentinel-2-like archive, a local Geocube and a real ingestion."""
