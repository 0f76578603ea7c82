"""Benchmarks (``make bench``): prepare, run, report; never run by pytest."""
