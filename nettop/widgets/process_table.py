"""The process view (``p``, F5): one row per process, or (``h``) per remote host, in place of the table.

It draws only the lines on screen (Textual's Line API, like ``ConnectionTable``) from ``nettop.process_view``,
whose groups follow each snapshot's diff while the view is open and are dropped when it closes. Enter expands a
group to its sockets, and on a socket opens its details, as the table's Enter does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.strip import Strip

from nettop.model import Connection, Owner
from nettop.process_view import (
    DEFAULT_SORT,
    HOSTS,
    PROCESSES,
    GroupColumn,
    Groups,
    Keep,
    ProcessGroup,
    ViewRow,
    ViewRows,
    socket_text,
    view_rows,
    visible_group_columns,
)
from nettop.snapshots import RowKey, SnapshotDiff
from nettop.text import safe
from nettop.view import column_widths
from nettop.widgets.conn_table import MOVE, ConnectionTable, fit
from nettop.widgets.cursor_view import CursorView

Names = Callable[[str | None], str | None]


class ProcessTable(CursorView, can_focus=True):
    """Groups of sockets, by process or by remote host, with a cursor that stays on its group."""

    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False, tooltip=MOVE),
        Binding("down", "cursor_down", "Down", show=False, tooltip=MOVE),
        Binding("pageup", "page_up", "Page up", show=False, tooltip=MOVE),
        Binding("pagedown", "page_down", "Page down", show=False, tooltip=MOVE),
        Binding("home", "first", "First row", show=False, tooltip=MOVE),
        Binding("end", "last", "Last row", show=False, tooltip=MOVE),
        Binding("enter", "select", "Expand", tooltip="process view: expand / collapse the group's sockets; on a "
                "socket, its details", id="process-expand"),
        Binding("h", "toggle_mode", "By host", tooltip="process view: by process / by remote host", id="hosts"),
        Binding("s", "cycle_sort", "Sort", show=False, tooltip="process view: sort by the next column",
                id="group-sort"),
        Binding("r", "reverse_sort", "Reverse", show=False, tooltip="process view: reverse the sort",
                id="group-reverse"),
        Binding("k", "kill", "Kill", tooltip="process view: terminate the selected process (asks first)",
                id="group-kill"),
        Binding("escape", "close", "Back", show=False, id="process-close"),
    ]  # fmt: skip

    #: What the help lists: the keys the view adds (the cursor keys are the table's).
    HELP_BINDINGS = [binding for binding in BINDINGS if binding.tooltip and binding.tooltip != MOVE]

    COMPONENT_CLASSES = {
        "process-table--header",
        "process-table--cursor",
        "process-table--socket",
        "process-table--hidden",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: The sockets grouped by process or by host (``mode``, which ``h`` switches).
        self.groups = Groups()
        #: Each mode's sort column and direction, and its expanded groups: kept while switching modes.
        self.sorts: dict[str, tuple[str, bool]] = {PROCESSES: (DEFAULT_SORT, False), HOSTS: (DEFAULT_SORT, False)}
        self.expanded: dict[str, set[Hashable]] = {PROCESSES: set(), HOSTS: set()}
        self.rows = ViewRows([], PROCESSES, set())
        #: The widest cell of each flexible column (``_measure``).
        self._widest: dict[str, int] = {}
        self.cursor_row = 0
        self.cursor_ident: tuple[Hashable, ...] | None = None
        #: ``view.TRAFFIC`` when the rows carry traffic (``ConnectionTable.available``).
        self.available: frozenset[str] = frozenset()
        #: Peers' host names (``ConnectionTable.names``); None shows numbers.
        self.names: Names | None = None
        self._made: tuple[object, ...] = ()
        self._styles: dict[str, Style] = {}

    # --- opening, and following the rows model ------------------------------------------------

    @property
    def mode(self) -> str:
        return self.groups.mode

    @property
    def is_open(self) -> bool:
        return bool(self.display)

    def open(self, current: Mapping[RowKey, Connection], keep: Keep) -> None:
        """Group the records the viewer keeps, and follow them from now on."""
        self.groups.rebuild(current, keep)
        self.display = True
        self.sync()

    def close(self) -> None:
        self.display = False
        self.groups.clear()
        self.rows = ViewRows([], PROCESSES, set())

    def take(self, change: SnapshotDiff) -> None:
        """A snapshot was applied to the rows model: follow its diff (only while open)."""
        if self.is_open:
            self.groups.apply(change)

    def regroup(self, current: Mapping[RowKey, Connection], keep: Keep) -> None:
        """The viewer's filter changed (a typed filter, a quick toggle, a baseline): group anew."""
        if self.is_open:
            self.groups.rebuild(current, keep)
            self.sync()

    def sync(self) -> None:
        """Re-make the lines if anything they show changed, keep the cursor on its group, repaint."""
        if not self.is_open:
            return
        sort_column, reverse = self.sorts[self.mode]
        made = (self.groups.version, self.mode, sort_column, reverse, frozenset(self.expanded[self.mode]))
        if made != self._made:
            self._made = made
            self.rows = view_rows(self.groups, self.mode, sort_column, reverse, self.expanded[self.mode])
            self._widest = self._measure()
            self._follow_cursor()
        self._resize_virtual(len(self.rows))
        self._keep_cursor_visible()
        self.refresh()

    def _follow_cursor(self) -> None:
        ident = self.cursor_ident
        if ident is not None:
            at = self.rows.index(ident)
            if at is not None:
                self.cursor_row = at
                return
            at = self.rows.index(ident[:2])  # its socket went: stay on its group
            if at is not None:
                self.cursor_row, self.cursor_ident = at, ident[:2]
                return
        self.cursor_row = min(self.cursor_row, max(len(self.rows) - 1, 0))
        self.cursor_ident = self.rows[self.cursor_row].ident if self.rows else None

    def _resize_virtual(self, count: int) -> None:
        size = Size(self._width, count + 1)
        if size != self.virtual_size:
            self.virtual_size = size

    # --- drawing ----------------------------------------------------------------------------

    @property
    def _width(self) -> int:
        return self.scrollable_content_region.width

    def notify_style_update(self) -> None:
        self._styles = {}
        super().notify_style_update()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            base = self.rich_style
            style = self._styles[name] = base if name == "base" else base + self.get_component_rich_style(name)
        return style

    def _measure(self) -> dict[str, int]:
        """The widest cell of each flexible column among the groups (once per regroup, not per line): columns
        are as wide as what they hold, as in the table."""
        flexible = [c for c in visible_group_columns(self.mode, 10_000, self.available) if c.flex]
        return {c.key: max((len(safe(c.cell(group))) for group in self.rows.ranked), default=0) for c in flexible}

    def columns(self) -> tuple[list[GroupColumn], list[int]]:
        width = self._width
        columns = visible_group_columns(self.mode, width, self.available)
        widest = self._widest
        if self.mode == HOSTS and self.names is not None:  # names arrive after the grouping: give them the limit
            widest = {**widest, "remote": 255}
        # ``column_widths`` reads only a column's key, width, flex and max_width, which GroupColumn has.
        return columns, column_widths(columns, width, widest)  # type: ignore[arg-type]

    def render_line(self, y: int) -> Strip:
        width = self._width
        columns, widths = self.columns()
        if y == 0:
            return self._header(columns, widths, width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self.rows):
            return Strip.blank(width, self._style("base"))
        row = self.rows[index]
        if row.record is not None:
            text = socket_text(row, self.mode, self.names)
            kind = "process-table--socket"
        else:
            texts = [column.cell(row.group) for column in columns]
            if self.mode == HOSTS and self.names is not None:
                name = self.names(row.group.ip)  # type: ignore[union-attr]
                texts[0] = name if name is not None else texts[0]
            cells = zip(columns, widths, texts, strict=True)
            text = " ".join(fit(safe(cell), w, c.align_right, c.elide) for c, w, cell in cells)
            hidden = isinstance(row.group, ProcessGroup) and row.group.owner is None
            kind = "process-table--hidden" if hidden else "base"
        style = self._style(kind)
        if index == self.cursor_row:
            cursor = self._style("process-table--cursor")
            style = style + (cursor if self.has_focus else cursor + Style(bold=False, dim=True))
        return Strip([Segment(fit(safe(text), width), style)], width)

    def _header(self, columns: list[GroupColumn], widths: list[int], width: int) -> Strip:
        sort_column, reverse = self.sorts[self.mode]
        cells = []
        for column, cell_width in zip(columns, widths, strict=True):
            # As the table's: ▲ ascending, ▼ descending; counts and rates sort most first.
            arrow = "▼" if column.most_first != reverse else "▲"
            title = column.title + (arrow if column.key == sort_column else "")
            cells.append(fit(title, cell_width, column.align_right))
        return Strip([Segment(fit(" ".join(cells), width), self._style("process-table--header"))], width)

    def on_resize(self) -> None:
        self._resize_virtual(len(self.rows))
        self._keep_cursor_visible()

    def on_click(self, event: Click) -> None:
        if event.y == 0:
            x = 0
            for column, width in zip(*self.columns(), strict=True):
                if x <= event.x < x + width + 1:
                    self._sort_by(column.key)
                    return
                x += width + 1
        elif self.rows:
            self._set_cursor(int(self.scroll_offset.y) + event.y - 1)

    # --- cursor -----------------------------------------------------------------------------

    @property
    def cursor(self) -> ViewRow | None:
        return self.rows[self.cursor_row] if self.rows else None

    def line_count(self) -> int:
        return len(self.rows)

    def cursor_landed(self) -> None:
        self.cursor_ident = self.rows[self.cursor_row].ident

    # --- actions ------------------------------------------------------------------------------

    def action_select(self) -> None:
        """On a group: expand or collapse it. On a socket: its details (the table's Enter, by its row key)."""
        row = self.cursor
        if row is None:
            return
        if row.row_key is not None:
            self.post_message(ConnectionTable.Selected(row.row_key))
            return
        expanded = self.expanded[self.mode]
        key = row.ident[1]
        expanded.symmetric_difference_update({key})
        self.sync()

    def action_toggle_mode(self) -> None:
        self.groups.switch(HOSTS if self.mode == PROCESSES else PROCESSES)
        self.cursor_row, self.cursor_ident = 0, None
        self.scroll_to(y=0, animate=False, immediate=True)
        self.sync()

    def _sort_by(self, column: str) -> None:
        current, reverse = self.sorts[self.mode]
        self.sorts[self.mode] = (column, not reverse) if column == current else (column, False)
        self.sync()

    def action_cycle_sort(self) -> None:
        """Sort by the next column on screen, as the table's ``s`` does."""
        shown = [column.key for column in self.columns()[0]]
        current = self.sorts[self.mode][0]
        index = shown.index(current) if current in shown else -1
        self.sorts[self.mode] = (shown[(index + 1) % len(shown)], False)
        self.sync()

    def action_reverse_sort(self) -> None:
        column, reverse = self.sorts[self.mode]
        self.sorts[self.mode] = (column, not reverse)
        self.sync()

    async def action_close(self) -> None:
        await self.app.run_action("processes")

    def action_kill(self) -> None:
        """Signal the selected process (or the selected socket's owner): the table's dialog and its checks."""
        owner = _owner_to_kill(self.cursor)
        if owner is None or owner.pid is None:
            self.app.notify("No process to terminate here.", severity="warning", markup=False)
            return
        ask = getattr(self.app, "ask_to_signal", None)
        if ask is not None:
            ask(owner)


def _owner_to_kill(row: ViewRow | None) -> Owner | None:
    if row is None:
        return None
    if isinstance(row.group, ProcessGroup):
        owner = row.group.owner
    elif row.record is not None and row.record.owners:
        owner = row.record.owners[0]
    else:
        return None  # a peer is many processes: pick one of its sockets
    return owner if owner is not None and owner.pid is not None else None
