"""Prefect tasks: each unpacks its input, makes one domain call, and carries the retry policy."""
