"""The event log: Textual's ``Log`` that keeps repainting once it is full, and costs nothing while hidden."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from textual.widgets import Log


class EventLog(Log):
    """A ``Log`` whose newest lines show even once ``max_lines`` is reached, and which holds the lines written
    while it is hidden instead of laying them out.

    Textual's ``Log.write_lines`` repaints only the rows of the lines it added, counted from the end of the log
    before old lines were pruned: once the log is full those rows lie past its end, the virtual size does not
    change, so scrolling to the end is no change either, and nothing is repainted until a resize. A full log
    shifts every line it shows: repaint it whole.

    Hidden (the viewer starts with it hidden), a write would still measure every line in a worker thread and hop
    back to the UI: at 30,000 connections with 1 % churn that was 3 % of the viewer's CPU for a log nobody saw.
    The lines are held (the newest ``max_lines``) and written when it is shown.
    """

    def __init__(self, *, id: str, max_lines: int) -> None:
        super().__init__(id=id, max_lines=max_lines)
        self._held: deque[str] = deque(maxlen=max_lines)

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> EventLog:
        if not self.display:
            self._held.extend(lines)
            return self
        super().write_lines(lines, scroll_end)
        if self.max_lines is not None and len(self.lines) >= self.max_lines:
            self.refresh()
        return self

    def toggle(self) -> None:
        """Show it (with what was written meanwhile) or hide it."""
        self.display = not self.display
        if self.display and self._held:
            held = list(self._held)
            self._held.clear()
            self.write_lines(held)

    def logged(self) -> list[str]:
        """Every line it keeps, shown or held."""
        return [*self.lines, *self._held]
