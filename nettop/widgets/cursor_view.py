"""A scrolled list of lines under a one-line header, with a cursor: the table's and the process view's."""

from __future__ import annotations

from textual.scroll_view import ScrollView


class CursorView(ScrollView):
    """Moves a cursor over ``line_count()`` lines (the header is line 0 of the screen, never scrolled under) and
    keeps it in sight. A subclass says how many lines it has and notes which line the cursor landed on
    (``cursor_landed``: the table keeps its row key, the process view its line's identity)."""

    cursor_row: int

    def line_count(self) -> int:
        raise NotImplementedError

    def cursor_landed(self) -> None:
        raise NotImplementedError

    def _set_cursor(self, index: int) -> None:
        count = self.line_count()
        if not count:
            return
        self.cursor_row = max(0, min(index, count - 1))
        self.cursor_landed()
        self._keep_cursor_visible()
        self.refresh()

    def _keep_cursor_visible(self) -> None:
        page = max(self.size.height - 1, 1)
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + page:
            self.scroll_to(y=self.cursor_row - page + 1, animate=False, immediate=True)

    def _page(self) -> int:
        return max(self.size.height - 2, 1)

    def action_cursor_up(self) -> None:
        self._set_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._set_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self._set_cursor(self.cursor_row - self._page())

    def action_page_down(self) -> None:
        self._set_cursor(self.cursor_row + self._page())

    def action_first(self) -> None:
        self._set_cursor(0)

    def action_last(self) -> None:
        self._set_cursor(self.line_count() - 1)
