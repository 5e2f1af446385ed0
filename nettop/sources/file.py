"""A capture (``--from-file``): text parsed in its detected or named format (``formats.registry``), with no
command and no local enrichment, since the pids in a capture may belong to another machine."""

from __future__ import annotations

import time

from nettop.formats import parse_text
from nettop.model import Snapshot
from nettop.text import skipped_text


class TextSource:
    """Parses captured text: each collection reads the same text again."""

    def __init__(self, text: str, name: str = "file", format: str = "auto") -> None:
        self._text = text
        self._format = format
        self.name = name

    async def collect(self) -> Snapshot:
        import asyncio

        return await asyncio.to_thread(self.collect_blocking)

    def collect_blocking(self) -> Snapshot:
        started, clock = time.time(), time.perf_counter()
        result = parse_text(self._text, self._format)
        notes = (skipped_text(result.skipped),) if result.skipped else ()
        duration = time.perf_counter() - clock
        return Snapshot(result.records, started, duration, f"{self.name} ({result.format})", result.issues, notes)
