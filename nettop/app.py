"""The live viewer: a Textual app fed by one long-lived poller, drawing rows from the rows model.

The poller collects a snapshot, posts it, then sleeps for the interval; collection never overlaps
itself and its CPU work runs in threads (see ``sources``), so keys stay responsive. A failed
collection keeps the last good rows on screen, marked stale, with the error in the status line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static

from nettop.errors import NettopError
from nettop.filterquery import Query, QuickFilters, parse_query
from nettop.kill import KillRefused, terminate_owner
from nettop.model import Connection, OwnerStatus, Snapshot
from nettop.screens.confirm import ConfirmScreen
from nettop.screens.details import DetailsScreen
from nettop.screens.help import HelpScreen
from nettop.sources import Source
from nettop.view import COLUMN_KEYS, PROTO_CYCLE, RowsModel, counts
from nettop.widgets.conn_table import ConnectionTable
from nettop.widgets.filter_bar import FilterBar

MIN_INTERVAL, MAX_INTERVAL = 0.5, 60.0


class SnapshotReady(Message):
    """The poller has a new snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        super().__init__()


class CollectionFailed(Message):
    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__()


class NettopApp(App[None]):
    """nettop's live view of the machine's sockets."""

    CSS_PATH = Path(__file__).parent / "styles" / "app.tcss"
    TITLE = "nettop"

    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("slash", "filter", "Filter", key_display="/", id="filter"),
        Binding("s", "cycle_sort", "Sort", id="sort"),
        Binding("r", "reverse_sort", "Reverse", id="reverse"),
        Binding("l", "toggle_listening", "Listening", id="listening"),
        Binding("t", "cycle_proto", "TCP/UDP", id="proto"),
        Binding("4", "family(4)", "IPv4", show=False, id="ipv4"),
        Binding("6", "family(6)", "IPv6", show=False, id="ipv6"),
        Binding("space", "toggle_pause", "Pause", id="pause"),
        Binding("plus,equals_sign", "slower", "Slower", key_display="+", show=False, id="slower"),
        Binding("minus", "faster", "Faster", key_display="-", show=False, id="faster"),
        Binding("k", "kill", "Kill owner", id="kill"),
    ]

    #: Seconds between collections.
    interval: reactive[float] = reactive(2.0)
    #: When paused, nothing is collected and the screen holds still.
    paused: reactive[bool] = reactive(False)
    #: The column the table is sorted by, and whether the order is reversed.
    sort_column: reactive[str] = reactive("proto")
    sort_reverse: reactive[bool] = reactive(False)
    #: The quick toggles (listening only, protocol, family).
    quick: reactive[QuickFilters] = reactive(QuickFilters())

    def __init__(
        self,
        source: Source,
        interval: float = 2.0,
        filter_text: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.source = source
        self._clock = clock
        self.model = RowsModel()
        self.query_filter: Query = parse_query(filter_text)
        self._initial_filter = filter_text
        self.snapshot: Snapshot | None = None
        self.error: str | None = None
        self.slow = False
        self._wake = asyncio.Event()
        self.set_reactive(NettopApp.interval, interval)

    # --- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("nettop: collecting…", id="summary")
        yield ConnectionTable(clock=self._clock, id="table")
        yield FilterBar(id="filter-bar")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        bar = self.query_one(FilterBar)
        bar.display = bool(self._initial_filter)
        if self._initial_filter:
            bar.set_text(self._initial_filter)
        self.query_one(ConnectionTable).focus()
        self.poll()
        # Fading highlights and lingering closed rows change with time, not only with snapshots.
        self.set_interval(1.0, self._tick)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action != "quit":
                key = binding.key_display or binding.key
                yield SystemCommand(binding.description, f"key: {key}", partial(self.run_action, binding.action))

    # --- collection ---------------------------------------------------------------------------

    @work(exclusive=True, group="poller")
    async def poll(self) -> None:
        """Collect, post, sleep; forever. One collection at a time, never on the UI's time."""
        while True:
            started = time.monotonic()
            try:
                snapshot = await self.source.collect()
            except NettopError as error:
                self.post_message(CollectionFailed(str(error)))
            except Exception as error:  # a bug must not stop the viewer: say it and keep polling
                self.post_message(CollectionFailed(f"{type(error).__name__}: {error}"))
            else:
                self.post_message(SnapshotReady(snapshot))
            elapsed = time.monotonic() - started
            self.slow = elapsed > self.interval
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(self.interval - elapsed, 0.05))
            while self.paused:
                self._wake.clear()
                await self._wake.wait()

    def refresh_now(self) -> None:
        """Collect now instead of at the end of the interval."""
        self._wake.set()

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        if self.paused:
            return
        self.snapshot = message.snapshot
        self.error = None
        self.model.apply(message.snapshot.records, self._clock())
        self.refresh_table()

    def on_collection_failed(self, message: CollectionFailed) -> None:
        self.error = message.error
        self.update_status()

    def _tick(self) -> None:
        if not self.paused and self.model.expire(self._clock()):
            self.refresh_table()
        else:
            self.query_one(ConnectionTable).refresh()

    # --- the table ------------------------------------------------------------------------------

    def keep(self, record: Connection) -> bool:
        return self.quick.matches(record) and self.query_filter.matches(record)

    def refresh_table(self) -> None:
        table = self.query_one(ConnectionTable)
        table.sort_column, table.sort_reverse = self.sort_column, self.sort_reverse
        rows = self.model.ordered(self.keep, self.sort_column, self.sort_reverse)
        table.set_rows(rows)
        closing = sum(1 for _, row in rows if row.closed_at is not None)
        self.update_summary(len(rows) - closing, closing)
        self.update_status()

    def update_summary(self, shown: int, closing: int = 0) -> None:
        """Counts first, then when and how the data was read: what must fit at 80 columns comes first."""
        c = counts(self.model.current.values(), shown)
        states = " ".join(f"{state}:{n}" for state, n in sorted(c.by_state.items(), key=lambda kv: -kv[1])[:5])
        protos = " ".join(f"{proto}:{n}" for proto, n in sorted(c.by_proto.items()))
        parts = [f"[b]{c.shown}[/b]/{c.total} shown" + (f" +{closing} closed" if closing else "")]
        parts.append(f"listen {c.listeners}")
        if self.snapshot is not None:
            taken = time.strftime("%H:%M:%S", time.localtime(self.snapshot.taken_at))
            parts.append(f"{self.snapshot.source} {taken} in {self.snapshot.duration * 1000:.0f}ms")
        parts += [f"every {self.interval:g}s", protos, states]
        self.query_one("#summary", Static).update(" │ ".join(p for p in parts if p))

    def update_status(self) -> None:
        """The status line: never claims fresh data it does not have."""
        notes: list[str] = []
        status = self.query_one("#status", Static)
        status.set_class(self.error is not None, "-error")
        if self.paused:
            notes.append("[b]PAUSED[/b] (space to resume)")
        if self.error is not None:
            since = ""
            if self.snapshot is not None:
                since = f" since {time.strftime('%H:%M:%S', time.localtime(self.snapshot.taken_at))}"
            notes.append(f"[b]STALE[/b]{since}: {self.error}")
        if self.slow:
            notes.append(f"collection is slow: it takes longer than the {self.interval:g}s interval")
        if self.snapshot is not None:
            if self.snapshot.issues:
                notes.append(f"{len(self.snapshot.issues)} unreadable lines skipped")
            hidden = sum(1 for r in self.model.current.values() if r.owner_status is OwnerStatus.NOT_PERMITTED)
            if hidden and os.geteuid() != 0:
                notes.append(f"{hidden} sockets without owners: not root (sudo nettop shows them)")
        status.update("  ·  ".join(notes) if notes else "")

    # --- messages from widgets ------------------------------------------------------------------

    def on_connection_table_header_clicked(self, message: ConnectionTable.HeaderClicked) -> None:
        if message.column_key == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = message.column_key, False

    def on_connection_table_selected(self, message: ConnectionTable.Selected) -> None:
        row = self.model.rows.get(message.key)
        if row is None:
            return
        pids = {owner.pid for owner in row.record.owners}
        others = [r for k, r in self.model.current.items() if k != message.key and any(o.pid in pids for o in r.owners)]
        self.push_screen(DetailsScreen(row.record, others))

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        self.query_filter = message.query
        self.refresh_table()

    def on_filter_bar_closed(self) -> None:
        bar = self.query_one(FilterBar)
        bar.display = not self.query_filter.is_empty
        self.query_one(ConnectionTable).focus()

    # --- reactives ------------------------------------------------------------------------------

    def watch_sort_column(self) -> None:
        self.refresh_table()

    def watch_sort_reverse(self) -> None:
        self.refresh_table()

    def watch_quick(self) -> None:
        self.refresh_table()

    def watch_paused(self, paused: bool) -> None:
        self._wake.set()
        if not paused:
            self.refresh_table()
        self.update_status()

    def watch_interval(self) -> None:
        self._wake.set()
        if self.is_mounted:
            self.refresh_table()

    # --- actions ------------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.display = True
        bar.query_one("#filter-input").focus()

    def action_cycle_sort(self) -> None:
        index = COLUMN_KEYS.index(self.sort_column) if self.sort_column in COLUMN_KEYS else -1
        self.sort_column = COLUMN_KEYS[(index + 1) % len(COLUMN_KEYS)]

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse

    def action_toggle_listening(self) -> None:
        self.quick = replace(self.quick, listening_only=not self.quick.listening_only)

    def action_cycle_proto(self) -> None:
        index = PROTO_CYCLE.index(self.quick.proto)
        self.quick = replace(self.quick, proto=PROTO_CYCLE[(index + 1) % len(PROTO_CYCLE)])

    def action_family(self, family: int) -> None:
        self.quick = replace(self.quick, family=None if self.quick.family == family else family)

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused

    def action_slower(self) -> None:
        self.interval = min(self.interval * 2, MAX_INTERVAL)

    def action_faster(self) -> None:
        self.interval = max(self.interval / 2, MIN_INTERVAL)

    def action_kill(self) -> None:
        row = self.query_one(ConnectionTable).cursor_record_row
        if row is None or not row.record.owners:
            self.notify("No owner to terminate for this connection.", severity="warning")
            return
        owner = row.record.owners[0]

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.notify(terminate_owner(owner))
            except KillRefused as refusal:
                self.notify(str(refusal), severity="error")

        self.push_screen(ConfirmScreen(f"Terminate pid {owner.pid} ({owner.name})?"), answered)
