"""Reliability suites: generated bad input and injected faults (issue 12)."""
