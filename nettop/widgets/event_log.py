"""The event log: Textual's ``Log`` that keeps repainting once it is full."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import Log


class EventLog(Log):
    """A ``Log`` whose newest lines show even once ``max_lines`` is reached.

    Textual's ``Log.write_lines`` repaints only the rows of the lines it added, counted from the end of the log
    before old lines were pruned: once the log is full those rows lie past its end, the virtual size does not
    change, so scrolling to the end is no change either, and nothing is repainted until a resize. A full log
    shifts every line it shows: repaint it whole.
    """

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> EventLog:
        super().write_lines(lines, scroll_end)
        if self.max_lines is not None and len(self.lines) >= self.max_lines:
            self.refresh()
        return self
