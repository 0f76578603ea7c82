"""What ``bench.transfer`` runs as "ours": the download core alone, one thread per URL, in a fresh process
that imports nothing else (``python -m bench.fetchrun '{"urls": [...], "dests": [...], ...}'``)."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from providers.fetch import Expected, Fetcher


def fetch_many(urls: list[str], dests: list[str], checksums: dict[str, str], size: int) -> None:
    expected = Expected(size, checksums)
    options = {"what": "bench", "expected": expected}
    threads = [
        threading.Thread(target=Fetcher().fetch, args=(url, Path(dest)), kwargs=options)
        for url, dest in zip(urls, dests, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    missing = [dest for dest in dests if not Path(dest).is_file()]
    if missing:
        raise SystemExit(f"not fetched: {', '.join(missing)}")


if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    fetch_many(job["urls"], job["dests"], job["checksums"], job["size"])
