"""Shared foundations of the ingester: the error tree, settings and the command line."""
