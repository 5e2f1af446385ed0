"""A table of connections that draws only the rows on screen (Textual's Line API).

DataTable keeps a widget-side copy of every row and some of its operations are O(rows) per call
(``remove_row`` rebuilds its index each time: 1.4 s for 1 % churn at 10,000 rows, see
performance.md). Here the rows live in ``RowsModel``; this widget holds one ordered list of keys and
draws the visible slice, so a refresh costs O(visible rows). It keeps DataTable's interaction model:
a row cursor that follows its connection (not its index), header clicks to sort, arrows and paging.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from nettop.changes import RowKey
from nettop.view import NEW_HIGHLIGHT_SECONDS, Column, Row, column_widths, visible_columns


def fit(text: str, width: int, right: bool = False) -> str:
    """Pad or cut ``text`` to exactly ``width`` cells, marking a cut with an ellipsis."""
    if len(text) > width:
        return text[: max(width - 1, 0)] + "…" if width > 0 else ""
    return text.rjust(width) if right else text.ljust(width)


class ConnectionTable(ScrollView, can_focus=True):
    """Rows of connections with a fixed header line, a cursor and sortable columns."""

    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First row", show=False),
        Binding("end", "last", "Last row", show=False),
        Binding("enter", "select", "Details", show=True),
    ]

    COMPONENT_CLASSES = {
        "conn-table--header",
        "conn-table--cursor",
        "conn-table--new",
        "conn-table--closed",
        "conn-table--listen",
    }

    class Selected(Message):
        """Enter was pressed on a row."""

        def __init__(self, key: RowKey) -> None:
            self.key = key
            super().__init__()

    class HeaderClicked(Message):
        """A column title was clicked: sort by it."""

        def __init__(self, column_key: str) -> None:
            self.column_key = column_key
            super().__init__()

    def __init__(self, *, clock: Callable[[], float] = time.time, id: str | None = None) -> None:
        super().__init__(id=id)
        self._clock = clock
        self._rows: list[tuple[RowKey, Row]] = []
        self._index: dict[RowKey, int] = {}
        self.cursor_row = 0
        self.cursor_key: RowKey | None = None
        self.sort_column = "proto"
        self.sort_reverse = False

    # --- data -------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_record_row(self) -> Row | None:
        return self._rows[self.cursor_row][1] if self._rows else None

    def set_rows(self, rows: Sequence[tuple[RowKey, Row]]) -> None:
        """Show these rows in this order; the cursor stays on its connection if it is still shown."""
        self._rows = list(rows)
        self._index = {key: i for i, (key, _) in enumerate(self._rows)}
        if self.cursor_key is not None and self.cursor_key in self._index:
            self.cursor_row = self._index[self.cursor_key]
        else:
            self.cursor_row = min(self.cursor_row, max(len(self._rows) - 1, 0))
            self.cursor_key = self._rows[self.cursor_row][0] if self._rows else None
        self.virtual_size = Size(self._width, len(self._rows) + 1)
        self._keep_cursor_visible()
        self.refresh()

    def move_cursor_to(self, key: RowKey) -> None:
        if key in self._index:
            self._set_cursor(self._index[key])

    # --- drawing ----------------------------------------------------------------------------

    @property
    def _width(self) -> int:
        # The width left of the vertical scrollbar: rows never scroll sideways, they fit.
        return self.scrollable_content_region.width

    def render_line(self, y: int) -> Strip:
        width = self._width
        columns = visible_columns(width)
        widths = column_widths(columns, width)
        if y == 0:
            return self._header(columns, widths, width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        row = self._rows[index][1]
        style = self.rich_style
        now = self._clock()
        if row.closed_at is not None:
            style += self.get_component_rich_style("conn-table--closed")
        elif now - row.first_seen < NEW_HIGHLIGHT_SECONDS:
            style += self.get_component_rich_style("conn-table--new")
        elif row.record.is_listener:
            style += self.get_component_rich_style("conn-table--listen")
        if index == self.cursor_row and self.has_focus:
            style += self.get_component_rich_style("conn-table--cursor")
        elif index == self.cursor_row:
            style += self.get_component_rich_style("conn-table--cursor") + Style(bold=False, dim=True)
        text = " ".join(fit(c.cell(row.record), w, c.align_right) for c, w in zip(columns, widths, strict=True))
        return Strip([Segment(fit(text, width), style)], width)

    def _header(self, columns: list[Column], widths: list[int], width: int) -> Strip:
        arrow = "▼" if self.sort_reverse else "▲"
        cells = []
        for column, cell_width in zip(columns, widths, strict=True):
            title = column.title + (arrow if column.key == self.sort_column else "")
            cells.append(fit(title, cell_width, column.align_right))
        style = self.rich_style + self.get_component_rich_style("conn-table--header")
        return Strip([Segment(fit(" ".join(cells), width), style)], width)

    def on_resize(self) -> None:
        self.virtual_size = Size(self._width, len(self._rows) + 1)
        self._keep_cursor_visible()

    def on_click(self, event: Click) -> None:
        if event.y == 0:
            columns = visible_columns(self._width)
            x = 0
            for column, width in zip(columns, column_widths(columns, self._width), strict=True):
                if x <= event.x < x + width + 1:
                    self.post_message(self.HeaderClicked(column.key))
                    return
                x += width + 1
        elif self._rows:
            self._set_cursor(int(self.scroll_offset.y) + event.y - 1)

    # --- cursor -----------------------------------------------------------------------------

    def _set_cursor(self, index: int) -> None:
        if not self._rows:
            return
        self.cursor_row = max(0, min(index, len(self._rows) - 1))
        self.cursor_key = self._rows[self.cursor_row][0]
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
        self._set_cursor(len(self._rows) - 1)

    def action_select(self) -> None:
        if self.cursor_key is not None:
            self.post_message(self.Selected(self.cursor_key))
