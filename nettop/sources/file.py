"""A capture (``--from-file``): text parsed in its detected or named format (``formats.registry``), with no
command and no local enrichment, since the pids in a capture may belong to another machine. A capture none of
whose rows can be read is refused, not listed as empty."""

from __future__ import annotations

import time

from nettop.errors import UnknownFormat
from nettop.formats import parse_text
from nettop.formats.common import quoted
from nettop.model import Snapshot
from nettop.text import cut, skipped_text


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
        if result.issues and not result.records:
            # Every socket row failed: an empty listing would be wrong data, said with exit 0.
            first = result.issues[0]
            count = len(result.issues)
            rows = f"none of the {count} rows could" if count > 1 else "the one row could not"
            raise UnknownFormat(
                f"{rows} be read as {result.format}; line {first.line_no}: {cut(first.reason, 200)}: "
                f"{quoted(first.text.strip(), 100)}"
            )
        notes = (skipped_text(result.skipped),) if result.skipped else ()
        duration = time.perf_counter() - clock
        return Snapshot(result.records, started, duration, f"{self.name} ({result.format})", result.issues, notes)
