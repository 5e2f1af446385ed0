"""A table of connections that draws only the rows on screen (Textual's Line API).

DataTable keeps a widget-side copy of every row and some of its operations are O(rows) per call
(``remove_row`` rebuilds its index each time: 1.4 s for 1 % churn at 10,000 rows, see
performance.md). Here the rows and their order live in ``RowsModel``, updated from diffs; this widget
draws the visible slice of that order, so a repaint costs O(visible rows). It keeps DataTable's interaction model:
a row cursor that follows its connection (not its index), header clicks to sort, arrows and paging.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from nettop.snapshots import RowKey
from nettop.text import safe
from nettop.view import (
    COMMAND,
    END,
    MIDDLE,
    NEW_HIGHLIGHT_SECONDS,
    Column,
    Row,
    RowsModel,
    column_widths,
    owner_hidden,
    visible_columns,
)
from nettop.widgets.cursor_view import CursorView


def fit(text: str, width: int, right: bool = False, elide: str = END) -> str:
    """Pad or cut ``text`` to exactly ``width`` cells, marking a cut with an ellipsis: at the end, in the middle
    (``MIDDLE``), or in a command's directory (``COMMAND``)."""
    if len(text) > width:
        if width <= 0:
            return ""
        if elide == MIDDLE:
            return elide_middle(text, width)
        if elide == COMMAND:
            return elide_command(text, width)
        return text[: width - 1] + "…"
    return text.rjust(width) if right else text.ljust(width)


def elide_middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells in its middle (``2001:db8:…:7334``): both ends of an address or a name
    say which it is."""
    if len(text) <= width:
        return text
    keep = max(width - 1, 0)
    head = (keep + 1) // 2
    return text[:head] + "…" + text[len(text) - (keep - head) :]


def elide_command(text: str, width: int) -> str:
    """A command line cut to ``width`` cells where it says least: whole directories from the middle of the
    program's path first (``/root/.pyenv/…/bin/python app.py --port 80``), then the whole path (``…/python
    app.py``), and only then the end of the arguments (``python app.py --p…``)."""
    if len(text) <= width:
        return text
    program = text.partition(" ")[0]
    directory = program[: program.rfind("/")] if "/" in program else ""
    rest = text[len(directory) :]  # "/python app.py --port 80"
    if directory:
        parts = directory.split("/")
        lead = 1 if parts[0] == "" else 0  # an absolute path's empty first part holds no name
        # Most directories kept first; of as many, the most even split, then more of the head.
        choices = sorted(
            ((head, tail) for head in range(1, len(parts)) for tail in range(0, len(parts) - head)),
            key=lambda ht: (-(ht[0] + ht[1]), abs(ht[0] - lead - ht[1]), -ht[0]),
        )
        for head, tail in choices:
            kept = "/".join(parts[:head]) + "/…" + "".join("/" + part for part in parts[len(parts) - tail :]) + rest
            if len(kept) <= width:
                return kept
    bare = rest.lstrip("/")
    return bare if len(bare) <= width else bare[: max(width - 1, 0)] + "…"


#: The mark cell, shown while a policy judges the rows: what colour alone would say (``NO_COLOR``, monochrome).
VIOLATION_MARK, MISSING_MARK = "✗", "?"
_MARK_CELLS = 2  # the mark and a space


#: What the cursor keys do, as the help screen says it.
MOVE = "move the cursor (it stays on its connection)"


class ConnectionTable(CursorView, can_focus=True):
    """Rows of connections with a fixed header line, a cursor and sortable columns."""

    BINDINGS = [
        # One tooltip for the cursor keys: the help screen gives them one line.
        Binding("up", "cursor_up", "Up", show=False, tooltip=MOVE),
        Binding("down", "cursor_down", "Down", show=False, tooltip=MOVE),
        Binding("pageup", "page_up", "Page up", show=False, tooltip=MOVE),
        Binding("pagedown", "page_down", "Page down", show=False, tooltip=MOVE),
        Binding("home", "first", "First row", show=False, tooltip=MOVE),
        Binding("end", "last", "Last row", show=False, tooltip=MOVE),
        Binding("enter", "select", "Details", show=True, tooltip="details of the selected connection"),
    ]

    COMPONENT_CLASSES = {
        "conn-table--header",
        "conn-table--cursor",
        "conn-table--new",
        "conn-table--closed",
        "conn-table--listen",
        "conn-table--missing",
        "conn-table--violation",
        "conn-table--stale",
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

    def __init__(self, model: RowsModel, *, clock: Callable[[], float] = time.time, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self._clock = clock
        self.cursor_row = 0
        self.cursor_key: RowKey | None = None
        #: Reversing reads the model's ascending order backwards: no re-sort.
        self.sort_reverse = False
        # What every line needs and only CSS or a resize changes: resolving styles walks the DOM
        # (~150 µs a call), so a repaint of 50 lines would spend most of its time there.
        self._styles: dict[str, Style] = {}
        self._layout: tuple[tuple[object, ...], list[Column], list[int]] = ((), [], [])
        #: What the rows carry beyond the sockets (``view.TRAFFIC``, ``view.NETNS``): the columns that show it are
        #: shown where they fit.
        self.available: frozenset[str] = frozenset()
        #: How the Remote address column names a peer (reverse DNS, ``n``); None shows numbers. Asked for every
        #: visible row of every repaint, so it must answer at once (``nettop.resolve.Resolver.name``).
        self.names: Callable[[str | None], str | None] | None = None
        #: The columns the user chose not to see (``c``, the config file): never shown, whatever the width.
        self.hidden_columns: frozenset[str] = frozenset()

    # --- data -------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.model.order)

    def entry(self, index: int) -> tuple[RowKey, Row]:
        """The row shown at ``index`` (0 is the top row under the header)."""
        order = self.model.order
        key = self.model.at_place[order[len(order) - 1 - index if self.sort_reverse else index]]
        return key, self.model.rows[key]

    @property
    def cursor_record_row(self) -> Row | None:
        return self.entry(self.cursor_row)[1] if self.row_count else None

    def sync(self) -> None:
        """The model changed: keep the cursor on its connection if it is still shown, then repaint."""
        count = self.row_count
        position = self.model.position(self.cursor_key) if self.cursor_key is not None else None
        if position is not None:
            self.cursor_row = count - 1 - position if self.sort_reverse else position
        else:
            self.cursor_row = min(self.cursor_row, max(count - 1, 0))
            self.cursor_key = self.entry(self.cursor_row)[0] if count else None
        self._resize_virtual(count)
        self._keep_cursor_visible()
        self.refresh()

    def _resize_virtual(self, count: int) -> None:
        size = Size(self._width, count + 1)
        if size == self.virtual_size:
            return
        height = self.size.height
        if size.width == self.virtual_size.width and (size.height > height) == (self.virtual_size.height > height):
            # The scrollbar neither appears nor goes: skip the layout pass of the whole screen that setting
            # the reactive costs (30 ms a tick at 200x50 when churn changes the count every second).
            self.set_reactive(ConnectionTable.virtual_size, size)
            self._scroll_update(size)
        else:
            self.virtual_size = size

    def refresh_peers(self, ips: set[str]) -> None:
        """Names arrived for ``ips``: repaint the visible rows whose peer is one of them, and only those."""
        top = int(self.scroll_offset.y)
        for index in range(top, min(top + max(self.size.height - 1, 0), self.row_count)):
            if self.entry(index)[1].record.remote_ip in ips:
                self.refresh_line(index + 1)  # the header is line 0

    def move_cursor_to(self, key: RowKey) -> None:
        position = self.model.position(key)
        if position is not None:
            self._set_cursor(self.row_count - 1 - position if self.sort_reverse else position)

    # --- drawing ----------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        self._styles = {}
        super().notify_style_update()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            base = self.rich_style
            style = self._styles[name] = base if name == "base" else base + self.get_component_rich_style(name)
        return style

    def _columns(self, width: int) -> tuple[list[Column], list[int]]:
        model = self.model
        named = self.names is not None
        layout = (width, self.available, self.hidden_columns, model.widths_version, named, model.judged)
        if self._layout[0] != layout:
            columns = [c for c in visible_columns(width, self.available) if c.key not in self.hidden_columns]
            widest = model.widest
            if named:  # host names are not measured (they arrive later): give them the column's limit
                widest = {**widest, "remote": 255}
            cells = width - (_MARK_CELLS if model.judged else 0)
            self._layout = (layout, columns, column_widths(columns, cells, widest))
        return self._layout[1], self._layout[2]

    def _mark(self, row: Row) -> str:
        """The row's mark cell and its space, while a policy judges the rows; else nothing."""
        if not self.model.judged:
            return ""
        if row.missing:
            return MISSING_MARK + " "
        if row.closed_at is None and row.record.key in self.model.offending:
            return VIOLATION_MARK + " "
        return "  "

    def shown_column_keys(self) -> list[str]:
        """The keys of the columns on screen now, left to right."""
        return [column.key for column in self._columns(self._width)[0]]

    @property
    def _width(self) -> int:
        # The width left of the vertical scrollbar: rows never scroll sideways, they fit.
        return self.scrollable_content_region.width

    def render_line(self, y: int) -> Strip:
        width = self._width
        columns, widths = self._columns(width)
        if y == 0:
            return self._header(columns, widths, width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= self.row_count:
            return Strip.blank(width, self._style("base"))
        row = self.entry(index)[1]
        if row.closed_at is not None:
            kind = "conn-table--closed"
        elif row.missing:
            kind = "conn-table--missing"
        elif self.model.stale_hosts and row.record.host in self.model.stale_hosts:
            kind = "conn-table--stale"  # a remote host that did not answer: its rows are from an earlier refresh
        elif self.model.offending and row.record.key in self.model.offending:
            kind = "conn-table--violation"
        elif self._clock() - row.first_seen < NEW_HIGHLIGHT_SECONDS:
            kind = "conn-table--new"
        elif row.record.is_listener:
            kind = "conn-table--listen"
        else:
            kind = "base"
        style = self._style(kind)
        if index == self.cursor_row:
            cursor = self._style("conn-table--cursor")
            style = style + (cursor if self.has_focus else cursor + Style(bold=False, dim=True))
        # Cells hold other users' text (process names, command lines): control characters are shown escaped.
        texts = row.cells(columns)
        if self.names is not None:
            self._name_peer(columns, texts, row.record.remote_ip)
        cells = [fit(safe(cell), w, c.align_right, c.elide) for c, w, cell in zip(columns, widths, texts, strict=True)]
        mark = self._mark(row)
        if not owner_hidden(row.record):
            return Strip([Segment(fit(mark + " ".join(cells), width), style)], width)
        # Another user's socket: its PID and Program say they are hidden, dimmed, unlike a socket nobody holds.
        dim = style + Style(dim=True, italic=True)
        segments = [Segment(mark, style)] if mark else []
        for at, (column, cell) in enumerate(zip(columns, cells, strict=True)):
            segments.append(Segment(cell, dim if column.key in ("pid", "program") else style))
            if at < len(cells) - 1:
                segments.append(Segment(" ", style))
        used = sum(len(segment.text) for segment in segments)
        if used < width:
            segments.append(Segment(" " * (width - used), style))
        return Strip(segments, width).crop(0, width)

    def _name_peer(self, columns: list[Column], texts: list[str], ip: str | None) -> None:
        """The peer's host name in place of its number, once known (made safe with the other cells: a PTR
        record is anyone's text). Sorting stays by number: names arriving must not reorder the rows."""
        assert self.names is not None
        name = self.names(ip)
        if name is not None:
            for at, column in enumerate(columns):
                if column.key == "remote":
                    texts[at] = name

    def _header(self, columns: list[Column], widths: list[int], width: int) -> Strip:
        arrow = "▼" if self.sort_reverse else "▲"
        cells = []
        for column, cell_width in zip(columns, widths, strict=True):
            title = column.title + (arrow if column.key == self.model.sort_column else "")
            cells.append(fit(title, cell_width, column.align_right))
        mark = " " * _MARK_CELLS if self.model.judged else ""
        return Strip([Segment(fit(mark + " ".join(cells), width), self._style("conn-table--header"))], width)

    def on_resize(self) -> None:
        self._resize_virtual(self.row_count)
        self._keep_cursor_visible()

    def on_click(self, event: Click) -> None:
        """A header sorts by its column (the app reverses on a second click); a row takes the cursor, and a
        double click on it opens its details, as Enter does."""
        if event.y == 0:
            x = _MARK_CELLS if self.model.judged else 0
            for column, width in zip(*self._columns(self._width), strict=True):
                if x <= event.x < x + width + 1:
                    self.post_message(self.HeaderClicked(column.key))
                    return
                x += width + 1
        elif self.row_count:
            index = int(self.scroll_offset.y) + event.y - 1
            if index >= self.row_count:
                return  # below the last row
            self._set_cursor(index)
            if event.chain >= 2:
                self.action_select()

    # --- cursor -----------------------------------------------------------------------------

    def line_count(self) -> int:
        return self.row_count

    def cursor_landed(self) -> None:
        self.cursor_key = self.entry(self.cursor_row)[0]

    def action_select(self) -> None:
        if self.cursor_key is not None:
            self.post_message(self.Selected(self.cursor_key))
