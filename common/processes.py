"""Who runs where: this machine's name and whether a process still lives, for the files that record
their owner (scratch folders' owner files, storage's temporary files) so that the next job can tell a
dead owner's leftovers from a live one's."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def host_name() -> str:
    """This machine's name as owner files and temporary file names carry it (no dots or spaces)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())[:64] or "host"


def is_pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie, killed but not reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]
