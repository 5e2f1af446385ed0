"""A saved capture opened in the viewer (``nettop --from-file``): read once, shown read-only.

A capture does not change, so it is parsed once, before the viewer starts (an unreadable one is refused then,
with the reason, rather than shown as a stale empty screen), and every collection hands back that snapshot.
Its time is when it was taken, not when it was opened: nettop's JSON has no time of its own, so the file's
modification time stands for it (a capture read from stdin has none: it is the time it was read).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from nettop.model import Snapshot
from nettop.sources.file import TextSource

#: What the summary line calls a capture's source.
CAPTURE = "capture"


class CaptureSource:
    """One snapshot of a saved file, given again at every collection; ``read_only`` tells the viewer so."""

    read_only = True

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.name = snapshot.source

    @classmethod
    def read(cls, text: str, path: str, format: str = "auto") -> CaptureSource:
        """Parse the capture of ``path`` ('-' for stdin) now; raises ``NettopError`` when it cannot be read."""
        # The file's name without its folders: the summary line has 80 columns for all it says.
        name = "stdin" if path == "-" else os.path.basename(path)
        snapshot = TextSource(text, name, format).collect_blocking()
        return cls(replace(snapshot, taken_at=taken_at(path), source=f"{CAPTURE} {snapshot.source}"))

    async def collect(self) -> Snapshot:
        return self.snapshot


def taken_at(path: str) -> float:
    """When the capture at ``path`` was taken, as near as can be told: its file's modification time."""
    if path == "-":
        return time.time()
    try:
        return os.stat(path).st_mtime
    except OSError:
        return time.time()
