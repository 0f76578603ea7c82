"""Failure messages stay short: a tile's error travels into each dependant's state and parameters."""

from __future__ import annotations

from jobs.batches import MAX_MESSAGE, short


def test_a_long_message_keeps_its_head_and_says_what_was_cut() -> None:
    cause = "FATAL ERROR: no band found in the product"
    long = cause + " | " + "x" * 10_000_000  # a 10 MB traceback-like error
    kept = short(long)
    assert len(kept) <= MAX_MESSAGE + 40 and kept.startswith(cause)
    assert kept.endswith("characters cut)")
    assert short(cause) == cause
