"""The live viewer: a Textual app fed by one long-lived poller, drawing rows from the rows model.

The poller collects a snapshot, posts it, then sleeps for the interval; collection never overlaps
itself and its CPU work runs in threads (see ``sources``), so keys stay responsive. A failed
collection keeps the last good rows on screen, marked stale, with the error in the status line.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from nettop import config, pace, summary
from nettop.errors import NettopError
from nettop.events import ended_event, events_of
from nettop.gcpause import paused_gc, tune_for_long_runs
from nettop.keys import FUNCTION_KEYS, aliases, quit_on_ctrl_c
from nettop.model import Connection, Owner, Snapshot
from nettop.owners.kill import KillRefused, signal_owner
from nettop.policy.overlay import PolicyState, judge
from nettop.policy.rules import Policy
from nettop.query import Predicate, Query, all_of, parse_query
from nettop.resolve import Resolver
from nettop.savefile import write_export
from nettop.screens.columns import ColumnsScreen
from nettop.screens.confirm import ConfirmScreen
from nettop.screens.details import DetailsScreen
from nettop.screens.export import ExportScreen
from nettop.screens.help import HelpScreen
from nettop.screens.kill import KillScreen, connections_of
from nettop.screens.settings import SettingsScreen, save_settings
from nettop.snapshots import Counts, RowKey, SnapshotDiff, SnapshotStep, SnapshotTracker, diff, socket_key
from nettop.sources import Source, sockdiag
from nettop.text import safe
from nettop.view import COLUMN_KEYS, HOSTS, NETNS, NEW_HIGHLIGHT_SECONDS, TRAFFIC, TRAFFIC_MIN_SCREEN, RowsModel
from nettop.widgets.conn_table import ConnectionTable
from nettop.widgets.event_log import EventLog
from nettop.widgets.filter_bar import FilterBar
from nettop.widgets.process_table import ProcessTable
from nettop.writers.events import event_text

if TYPE_CHECKING:
    from nettop.sources.destroyed import ClosedSocket

#: A collection running this long is said to be under way in the status line (a hung command, a huge table).
SLOW_COLLECTION_NOTICE = 2.0
#: Seconds the source has to close (remote hosts' sessions) when the viewer quits.
SOURCE_CLOSE_WITHIN = 3.0

RecordIndex = dict[RowKey, Connection]
#: Help for key pairs, one line each on the help screen.
FAMILY = "IPv4 only / IPv6 only (press again for both)"
PACE = f"refresh slower / faster (steps of {', '.join(f'{step:g}' for step in pace.STEPS)} s)"
#: ``t`` cycles the quick toggles' ``proto:`` term through these values (None: no such term).
PROTO_CYCLE = (None, "tcp", "udp")
#: The event log keeps this many lines, and shows at most this many events of one refresh.
EVENT_LOG_LINES, EVENTS_PER_TICK = 1000, 200
#: Ended connections arrive in batches, twice a second at most: at most this many lines a batch.
ENDS_PER_BATCH = 50


def _look(record: Connection) -> tuple[object, ...]:
    """What a baseline compares: the state and the owners' pids."""
    return (record.state, tuple(owner.pid for owner in record.owners))


def _changed_since(baseline: dict[tuple[object, ...], tuple[object, ...]]) -> Predicate:
    """Keeps the connections that are not as they were when the baseline was marked."""
    marked = baseline.get
    return lambda record: marked(record.key) != _look(record)


def _event_lines(change: SnapshotDiff, taken_at: float) -> list[str]:
    """The event log's lines for one refresh: made in the poller's thread (hundreds a tick on a busy server)."""
    events = events_of(change, taken_at)
    lines = [event_text(event) for event in events[:EVENTS_PER_TICK]]
    if len(events) > EVENTS_PER_TICK:
        lines.append(f"… and {len(events) - EVENTS_PER_TICK} more in this refresh")
    return lines


def _followed(tracker: SnapshotTracker[PolicyState], snapshot: Snapshot) -> tuple[SnapshotStep, list[str]]:
    with paused_gc():
        step = tracker.follow(snapshot)
        return step, _event_lines(step.change, snapshot.taken_at)


class TextLine(Static):
    """A line of text that repaints only when its text changes (a layout pass costs the whole screen).

    It takes ``Content``, never markup: the lines quote commands' errors and file names, which may hold ``[/]``.
    """

    def __init__(self, text: Content, *, id: str, fixed_height: bool) -> None:
        super().__init__(text, id=id)
        self._text = text
        self._fixed_height = fixed_height

    class Resized(Message):
        """The line's width changed (after the layout: the table's columns are those of the new width)."""

    def on_resize(self) -> None:
        self.post_message(self.Resized())

    def show(self, text: Content) -> None:
        # Content's == compares the text alone; a change of style alone (a policy turning red) repaints too.
        if text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self.update(text, layout=not self._fixed_height)


class SnapshotReady(Message):
    """The poller has a new snapshot, indexed, diffed against the one before it, and counted.

    Snapshots are numbered; ``change`` is against snapshot ``since``. A newer message replaces a queued older
    one (``can_replace``): it takes the older one's event lines, and the viewer, finding that ``since`` is not
    the snapshot it shows, diffs against what it shows instead. So a viewer that falls behind, or is paused,
    applies only the newest snapshot and loses no event.
    """

    def __init__(
        self,
        snapshot: Snapshot,
        step: SnapshotStep[PolicyState],
        event_lines: list[str],
        number: int,
        since: int,
    ) -> None:
        self.snapshot = snapshot
        self.index = step.index
        self.change = step.change
        self.tally = step.counts
        self.verdict = step.verdict
        self.event_lines = event_lines
        self.number = number
        self.since = since
        super().__init__()

    def absorb(self, older: SnapshotReady) -> SnapshotReady:
        """Stand for ``older`` too: its events come first in the log."""
        self.event_lines = older.event_lines + self.event_lines
        return self

    def can_replace(self, message: Message) -> bool:
        # Textual asks this of the message it is about to handle, with the next one queued: when that one is a
        # newer snapshot, it is handled instead, and must carry this one's events.
        if isinstance(message, SnapshotReady):
            message.absorb(self)
            return True
        return False


class NamesResolved(Message):
    """Host names arrived (posted from a resolver thread: ``post_message`` is thread-safe and, unlike
    ``call_from_thread``, does not hold the lookup thread until the UI has run)."""


class CollectionFailed(Message):
    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__()


class ConnectionsEnded(Message):
    """TCP connections the kernel destroyed, with their final counts, as they went (``sources.destroyed``)."""

    def __init__(self, closed: list[ClosedSocket]) -> None:
        self.closed = closed
        super().__init__()


class NettopApp(App[None]):
    """nettop's live view of the machine's sockets."""

    CSS_PATH = Path(__file__).parent / "styles" / "app.tcss"
    TITLE = "nettop"

    #: The help screen lists these (and the table's) with their tooltips: say there what a key does.
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="quit", id="quit"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this help", id="help"),
        Binding("slash", "filter", "Filter", key_display="/", tooltip="filter (Enter or Esc returns to the table)",
                id="filter"),
        Binding("s", "cycle_sort", "Sort", tooltip="sort by the next column (or click a header)", id="sort"),
        Binding("r", "reverse_sort", "Reverse", tooltip="reverse the sort", id="reverse"),
        Binding("l", "toggle_listening", "Listening", tooltip="listening sockets only (is:listening)",
                id="listening"),
        Binding("w", "toggle_closing", "Closing", tooltip="hide / show TIME_WAIT and other closing states "
                "(-is:closing)", id="closing"),
        Binding("t", "cycle_proto", "TCP/UDP", tooltip="cycle TCP / UDP / both (proto:)", id="proto"),
        Binding("4", "family(4)", "IPv4", show=False, tooltip=FAMILY, id="ipv4"),
        Binding("6", "family(6)", "IPv6", show=False, tooltip=FAMILY, id="ipv6"),
        Binding("space", "toggle_pause", "Pause", tooltip="pause / resume the display", id="pause"),
        Binding("plus,equals_sign", "slower", "Slower", key_display="+", show=False, tooltip=PACE,
                id="slower"),
        Binding("minus", "faster", "Faster", key_display="-", show=False, tooltip=PACE, id="faster"),
        Binding("k", "kill", "Kill owner", tooltip="terminate the owner of the selected connection (asks first)",
                id="kill"),
        Binding("e", "toggle_events", "Events", tooltip="show / hide the event log (what opened, closed, changed)",
                id="events"),
        Binding("b", "baseline", "Baseline", tooltip="baseline: from now on show only what changed (b again clears)",
                id="baseline"),
        Binding("x", "export", "Export", tooltip="export the connections on screen to a .json or .csv file",
                id="export"),
        Binding("n", "toggle_names", "Names", tooltip="peers by host name (reverse DNS, looked up in the background; "
                "n again for numbers)", id="names"),
        Binding("c", "columns", "Columns", show=False, tooltip="choose the columns shown", id="columns"),
        Binding("S", "settings", "Settings", key_display="S", show=False,
                tooltip="settings: where each comes from; save them to the config file", id="settings"),
        Binding("p,f5", "processes", "Processes", show=False, key_display="p F5",
                tooltip="process view: one row per process (h: by remote host; p, F5 or Esc: back)", id="processes"),
    ]  # fmt: skip
    BINDINGS += [quit_on_ctrl_c(BINDINGS), *aliases(BINDINGS, FUNCTION_KEYS)]

    #: Seconds between collections.
    interval: reactive[float] = reactive(2.0)
    #: When paused, nothing is collected and the screen holds still.
    paused: reactive[bool] = reactive(False)
    #: The column the table is sorted by, and whether the order is reversed.
    sort_column: reactive[str] = reactive("state")
    sort_reverse: reactive[bool] = reactive(False)
    #: The quick toggles (l, t, 4, 6) as terms of the filter language: ``is:listening proto:tcp fam:4``.
    quick: reactive[Query] = reactive(Query())
    #: ``n``, ``--resolve``: the Remote address column shows peers' host names once looked up.
    show_names: reactive[bool] = reactive(False)
    #: The columns the user wants shown (``c``, the config file); the screen's width may still hide some.
    columns: reactive[frozenset[str]] = reactive(frozenset(COLUMN_KEYS))

    def __init__(
        self,
        source: Source,
        interval: float = 2.0,
        filter_text: str | Query = "",
        clock: Callable[[], float] = time.time,
        policy: Policy | None = None,
        names: bool = False,
        resolver: Resolver | None = None,
        settings: config.Loaded | None = None,
        actions: bool = True,
    ) -> None:
        super().__init__()
        #: False in a browser (``nettop web`` without ``--allow-actions``): kill and export act on the server's
        #: machine, for whoever reaches the page.
        self.actions = actions
        #: The settings as the viewer started with them, and where each came from (the config file, a flag);
        #: ``settings.path`` None: nothing is saved (``--no-config``, tests). Interval and filter come as given.
        self.settings = settings if settings is not None else config.Loaded(None)
        start = self.settings.settings
        self.set_reactive(NettopApp.sort_column, start.sort)
        self.set_reactive(NettopApp.sort_reverse, start.sort_reverse)
        self.set_reactive(NettopApp.columns, start.columns)
        #: A saved capture (``--from-file``): read once, nothing to kill.
        self.read_only: bool = getattr(source, "read_only", False)
        #: Made when names are first shown (``resolver``), or given (tests inject a scripted lookup).
        self._resolver = resolver
        if resolver is not None:
            resolver.on_resolved = self._names_arrived
        self.set_reactive(NettopApp.show_names, names)
        self.source = source
        #: ``--policy``: rows that break it are marked, missing listeners shown, new failures notified.
        self.policy = policy
        self.verdict: PolicyState | None = None
        self._clock = clock
        self.model = RowsModel()
        #: The typed filter (``--filter`` or the filter bar); text is parsed here, a Query (the CLI's) taken as is.
        self.query_filter: Query = parse_query(filter_text) if isinstance(filter_text, str) else filter_text
        self.snapshot: Snapshot | None = None
        self.counts = Counts()
        #: The newest snapshot that arrived while paused (standing for any before it), applied on resume.
        self._held: SnapshotReady | None = None
        #: The number of the snapshot on screen (``SnapshotReady.number``), 0 before the first.
        self.shown_number = 0
        #: ``b``: each connection as it was when the baseline was marked; rows equal to it are hidden.
        self.baseline: dict[tuple[object, ...], tuple[object, ...]] | None = None
        self.baseline_at = 0.0
        self.error: str | None = None
        self.slow = False
        #: When the collection under way started (``time.monotonic``), None between collections.
        self.collecting_since: float | None = None
        #: The rows on screen and the closed ones among them, as the top line last counted them.
        self._rows_shown = (0, 0)
        self._wake = asyncio.Event()
        self.set_reactive(NettopApp.interval, interval)

    # --- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TextLine(Content("nettop: collecting…"), id="summary", fixed_height=True)
        yield ConnectionTable(self.model, clock=self._clock, id="table")
        yield ProcessTable(id="processes")
        yield EventLog(id="events", max_lines=EVENT_LOG_LINES)
        yield FilterBar(id="filter-bar")
        yield TextLine(Content(), id="status", fixed_height=False)
        yield Footer()

    def on_mount(self) -> None:
        tune_for_long_runs()  # a viewer holds its records for hours: see gcpause
        self.query_one("#events", EventLog).display = False
        bar = self.query_one(FilterBar)
        bar.display = not self.query_filter.is_empty
        if not self.query_filter.is_empty:
            bar.show_query(self.query_filter)
        self.query_one(ConnectionTable).focus()
        self.watch_columns()
        self.theme = self.settings.settings.theme
        self.watch(self, "theme", self._theme_chosen, init=False)  # from now on, a theme is the user's choice
        for problem in self.settings.problems:
            self.notify(safe(problem), title="config", severity="warning", timeout=15, markup=False)
        wants = getattr(self.source, "wants", None)
        if wants is not None:  # the first snapshot already has traffic where its columns fit
            wants.traffic = self.size.width >= TRAFFIC_MIN_SCREEN
        self.resort(show=False)  # the --filter applies from the first snapshot
        self.watch_show_names()  # --resolve
        self.poll()
        self.follow_ends()
        # Fading highlights and lingering closed rows change with time, not only with snapshots.
        self.set_interval(1.0, self._tick)
        from nettop.web import in_browser

        if in_browser():  # a page's viewer ends when its server does, even one that died without a word
            parent = os.getppid()
            self.set_interval(1.0, lambda: self.exit() if os.getppid() != parent else None)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        actions = {"quit"}  # each action once: its other keys (F-keys) would repeat it
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action not in actions:
                actions.add(binding.action)
                key = binding.key_display or binding.key
                yield SystemCommand(binding.description, f"key: {key}", partial(self.run_action, binding.action))

    # --- collection ---------------------------------------------------------------------------

    @work(exclusive=True, group="poller")
    async def poll(self) -> None:
        """Collect, post, sleep; forever. One collection at a time, never on the UI's time."""
        tracker = SnapshotTracker(partial(judge, self.policy) if self.policy is not None else None)
        numbers = itertools.count(1)
        followed = 0  # the snapshot the tracker's last diff was against: 0, none
        while True:
            started = self.collecting_since = time.monotonic()
            message: Message
            try:
                snapshot = await self.source.collect()
                step, lines = await asyncio.to_thread(_followed, tracker, snapshot)
            except NettopError as error:
                message = CollectionFailed(str(error))
            except Exception as error:  # a bug must not stop the viewer: say it and keep polling
                message = CollectionFailed(f"{type(error).__name__}: {error}")
            else:
                number = next(numbers)
                message = SnapshotReady(snapshot, step, lines, number, since=followed)
                followed = number
            elapsed = time.monotonic() - started
            self.collecting_since = None
            # Said with this very snapshot: the next one may be a long interval away.
            self.slow = elapsed > self.interval
            self.post_message(message)
            if self.read_only and isinstance(message, SnapshotReady):
                return  # a capture does not change: one reading is all there is
            self._wake.clear()
            # asyncio.timeout, not wait_for: wait_for (3.11) loses a cancellation that comes as the wait ends.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(self.interval - elapsed, 0.05)):
                    await self._wake.wait()
            while self.paused:
                self._wake.clear()
                await self._wake.wait()

    @work(thread=True, exclusive=True, group="ends")
    def follow_ends(self) -> None:
        """Post the TCP connections the kernel destroys as they go (Linux, this namespace read over netlink), so
        that the event log says what even a connection that lived between two refreshes did."""
        wants = getattr(self.source, "wants", None)
        reads_netlink = getattr(self.source, "name", None) == sockdiag.FORMAT  # auto's first, or --source netlink
        if wants is None or wants.all_netns or not reads_netlink or not sys.platform.startswith("linux"):
            return
        from nettop.sources.destroyed import DestroyListener, DestroyUnavailable

        try:
            listener = DestroyListener()
        except DestroyUnavailable as error:
            self.call_from_thread(self.log_lines, [f"nettop: {safe(str(error))}"])
            return
        worker = get_current_worker()
        with listener:
            while not worker.is_cancelled:
                try:
                    closed = listener.read(0.5)
                except DestroyUnavailable as error:
                    self.call_from_thread(self.log_lines, [f"nettop: {safe(str(error))}"])
                    return
                if closed and not self.paused:
                    self.post_message(ConnectionsEnded(closed))

    def on_connections_ended(self, message: ConnectionsEnded) -> None:
        """Each ended connection a line of the event log, its owners (and when it opened, if nettop saw that) from
        the row it had; filtered like the rows."""
        if self.snapshot is None or self.snapshot.source != sockdiag.FORMAT:
            return  # another source stands in: what the kernel says of its own table would not match the rows
        keep, model = self.row_filter(), self.model
        lines: list[str] = []
        more = 0
        for closed in message.closed:
            if len(lines) >= ENDS_PER_BATCH:  # a burst of closes (a server's churn): counted, not each written
                more += keep is None or keep(closed.record)
                continue
            row = model.rows.get(socket_key(closed.record))
            opened_at = row.first_seen if row is not None and row.first_seen > model.started_at else None
            event = ended_event(closed, row.record if row is not None else None, opened_at)
            if event.connection is not None and (keep is None or keep(event.connection)):
                lines.append(event_text(event))
        if more:
            lines.append(f"… and {more} more connections ended")
        self.log_lines(lines)

    def refresh_now(self) -> None:
        """Collect now instead of at the end of the interval."""
        self._wake.set()

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        if self.paused:
            self._held = message if self._held is None else message.absorb(self._held)
            return
        self._apply(message)
        self.show_rows()

    def _apply(self, message: SnapshotReady) -> None:
        if self.model.started:  # the first snapshot is what was there, not what happened
            self.log_lines(message.event_lines)
        self.snapshot = message.snapshot
        self.counts = message.tally
        self.error = None
        self._follow_traffic(message.snapshot)
        missing = None
        if message.verdict is not None:
            self.take_verdict(message.verdict)
            missing = message.verdict.missing
        change = message.change
        if message.since != self.shown_number:  # it stands for snapshots never shown: compare with what is
            change = diff(self.model.current, message.index)
        self.model.apply(message.index, change, self._clock(), missing)
        self.query_one(ProcessTable).take(change)
        self.shown_number = message.number
        self._refresh_details()

    def _refresh_details(self) -> None:
        """An open details screen follows its connection (a missing listener's is not a socket: it holds still)."""
        for screen in self.screen_stack:
            if isinstance(screen, DetailsScreen):
                row = self.model.rows.get(screen.key)
                if row is None or not row.missing:
                    closed_at = row.closed_at if row is not None else None
                    screen.refresh_from(self.model.current, closed_at, self._clock())

    def _follow_traffic(self, snapshot: Snapshot) -> None:
        """Ask the source for traffic while a traffic column fits the screen (a resize is taken at the next tick),
        and show the columns while the snapshots come from a source that reads it."""
        wants = getattr(self.source, "wants", None)
        if wants is not None:
            wants.traffic = self.size.width >= TRAFFIC_MIN_SCREEN
        table = self.query_one(ConnectionTable)
        available = frozenset(
            [*([TRAFFIC] if snapshot.source == sockdiag.FORMAT else []),
             *([NETNS] if wants is not None and wants.all_netns else []),
             *([HOSTS] if snapshot.source.startswith("ssh:") else [])]
        )  # fmt: skip
        self.model.stale_hosts = frozenset(snapshot.stale)
        if table.available != available:
            table.available = available
            table.refresh()

    def take_verdict(self, verdict: PolicyState) -> None:
        before = self.verdict.failing if self.verdict is not None else frozenset()
        for description in sorted(verdict.failing - before):
            self.notify(safe(f"policy: {description}: FAILS"), severity="error", timeout=10, markup=False)
        self.verdict = verdict
        self.model.offending = verdict.offending

    def log_lines(self, lines: list[str]) -> None:
        # A thread's message may arrive as the app closes, its widgets gone.
        if lines and self.is_running:
            with contextlib.suppress(NoMatches):
                self.query_one("#events", EventLog).write_lines(lines)

    def on_collection_failed(self, message: CollectionFailed) -> None:
        self.error = message.error
        self.update_status()

    def _tick(self) -> None:
        if self.paused:
            return
        if self.collecting_for() is not None:
            self.update_status()  # the count of seconds goes on while a command hangs
        if self.snapshot is not None:
            with contextlib.suppress(NoMatches):  # a tick may come as the app closes, its widgets gone
                self.update_summary()  # the data's age, once it is old
        now = self._clock()
        if self.model.expire(now):
            self.show_rows()
        elif now - self.model.last_opened <= NEW_HIGHLIGHT_SECONDS + 1:
            self.query_one(ConnectionTable).refresh()  # a highlight is fading

    # --- the table ------------------------------------------------------------------------------

    def row_filter(self) -> Predicate | None:
        """What the rows model keeps: the quick toggles, the typed filter and the baseline, as one predicate
        built once per change of any of them (None: every row)."""
        since = _changed_since(self.baseline) if self.baseline is not None else None
        return all_of((self.quick.predicate, self.query_filter.predicate, since))

    def resort(self, show: bool = True, same_rows: bool = False) -> None:
        """The sort column or a filter changed: order the rows anew (once, not per tick). ``same_rows``: only the
        order changed (a sort), so the columns' widths and the process view's groups stand."""
        self.model.resort(self.sort_column, self.row_filter(), measure=not same_rows)
        if not same_rows:
            self.query_one(ProcessTable).regroup(self.model.current, self.model.keep)
        if show:
            self.show_rows()

    def show_rows(self) -> None:
        table = self.query_one(ConnectionTable)
        table.sort_reverse = self.sort_reverse
        table.sync()
        processes = self.query_one(ProcessTable)
        processes.available = table.available
        processes.sync()
        closing = self.model.shown_closing
        # Missing listeners are rows, not sockets: they are not counted as shown.
        self.update_summary(table.row_count - closing - self.model.shown_missing, closing)
        self.update_status()

    def update_summary(self, shown: int | None = None, closing: int | None = None) -> None:
        """Counts first, then what is shown and when and how the data was read: parts that do not fit the width
        are left out whole, the least important first (``nettop.summary``). Called without counts (each tick, a
        resize), the last ones."""
        if shown is not None:
            self._rows_shown = (shown, closing or 0)
        shown, closing = self._rows_shown
        c = self.counts
        closed = f" +{closing} closed" if closing else ""
        parts: list[summary.Part] = [[Content.assemble((str(shown), "bold"), f"/{c.total} shown{closed}")]]
        if self.verdict is not None:
            v = self.verdict
            colour = "$text-success" if v.passed == v.tested else "$text-error"
            parts.append([Content.styled(f"policy {v.passed}/{v.tested} pass", colour)])
        # The quick toggles (l t 4 6, and any added later) and a sort by a column off screen show nowhere else.
        parts.append([Content.styled(self.quick.text, "bold $text-accent")])
        if self.sort_column not in self.query_one(ConnectionTable).shown_column_keys():
            parts.append([summary.sort_part(self.sort_column, self.sort_reverse)])
        if self.snapshot is not None:
            snapshot = self.snapshot
            if self.read_only:  # a capture: when it was taken (it may be days old), never "stale"
                taken = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snapshot.taken_at))
                parts.append([Content(f"{safe(snapshot.source)} {taken}")])  # which capture: never cut to the time
            else:
                taken = time.strftime("%H:%M:%S", time.localtime(snapshot.taken_at))
                # The source's name holds a --from-file path: text, not markup, and made safe.
                age = self._clock() - snapshot.taken_at
                parts.append(summary.data_part(safe(snapshot.source), taken, snapshot.duration, age, self.interval))
        protos = " ".join(f"{proto}:{n}" for proto, n in sorted(c.by_proto.items()))
        pace_part = Content("read-only") if self.read_only else Content(f"every {self.interval:g}s")
        parts += [summary.listening_part(c), [pace_part], summary.states_part(c)]
        parts.append([Content(protos)])
        line = self.query_one("#summary", TextLine)
        line.show(summary.fit(parts, self.size.width - line.styles.gutter.width, summary.SUMMARY_SEPARATOR))

    def collecting_for(self) -> float | None:
        """Seconds the collection under way has taken, once that is long enough to say; else None."""
        since = self.collecting_since
        if since is None:
            return None
        elapsed = time.monotonic() - since
        return elapsed if elapsed >= SLOW_COLLECTION_NOTICE else None

    def update_status(self) -> None:
        """The status line: never claims fresh data it does not have."""
        notes: list[Content] = []
        status = self.query_one("#status", TextLine)
        status.set_class(self.error is not None, "-error")
        if self.paused:
            notes.append(Content.assemble(("PAUSED", "bold"), " (space to resume)"))
        if self.baseline is not None:
            since = time.strftime("%H:%M:%S", time.localtime(self.baseline_at))
            notes.append(Content.assemble(("BASELINE", "bold"), f" {since}: changes only (b clears)"))
        if self.error is not None:
            since = ""
            if self.snapshot is not None:
                since = f" since {time.strftime('%H:%M:%S', time.localtime(self.snapshot.taken_at))}"
            # The error quotes a command's stderr: text, never markup, and made safe.
            notes.append(Content.assemble(("STALE", "bold"), f"{since}: {safe(self.error)}"))
        collecting = self.collecting_for()
        if collecting is not None:
            notes.append(Content(f"collecting for {collecting:.0f} s"))
        elif self.slow:
            notes.append(Content(f"collection is slow: over the {self.interval:g}s interval"))
        if self.snapshot is not None:
            for host in self.snapshot.stale:  # a remote host that did not answer; the others go on
                said = next((n for n in self.snapshot.notes if n.startswith(f"{host}: ")), f"{host}: no answer")
                notes.append(Content.assemble((f"{safe(host)}:", "bold"), safe(said.removeprefix(f"{host}:"))))
            if self.snapshot.issues:
                notes.append(Content(f"{len(self.snapshot.issues)} unreadable lines skipped"))
            hidden = self.counts.not_permitted
            if hidden:
                sockets = f"{hidden} socket{'s' * (hidden != 1)} without owner"
                if os.geteuid() != 0:
                    notes.append(Content(f"{sockets}: not root (sudo nettop shows them)"))
                else:  # a process the kernel's ptrace rules hide (a sandbox's init, an undumpable one)
                    notes.append(Content(f"{sockets}: hidden even from root"))
        # The notes most worth saying first: those that do not fit are left out whole, so the line never wraps
        # (but for an error too long alone: it may take a second line).
        width = self.size.width - status.styles.gutter.width
        status.show(summary.fit([[note] for note in notes], width, summary.STATUS_SEPARATOR))

    # --- host names -----------------------------------------------------------------------------

    @property
    def resolver(self) -> Resolver:
        if self._resolver is None:
            self._resolver = Resolver(on_resolved=self._names_arrived)
        return self._resolver

    def _names_arrived(self) -> None:
        self.post_message(NamesResolved())  # in a resolver thread

    def on_names_resolved(self) -> None:
        arrived = self.resolver.take_arrived()
        if self.show_names and arrived:
            self.query_one(ConnectionTable).refresh_peers(arrived)
            self.query_one(ProcessTable).refresh()

    def watch_show_names(self) -> None:
        if self.is_mounted:
            table = self.query_one(ConnectionTable)
            table.names = self.resolver.name if self.show_names else None
            table.refresh()
            self.query_one(ProcessTable).names = table.names
            self.query_one(ProcessTable).refresh()

    def on_text_line_resized(self) -> None:
        """Fit the top and status lines to the new width (and say a sort by a column the table no longer shows)."""
        if self.snapshot is not None:
            self.update_summary()
            self.update_status()

    async def on_unmount(self) -> None:
        if self._resolver is not None:
            self._resolver.close()  # without waiting for a hung lookup: its thread is a daemon
        # Remote hosts' sessions are closed here, in the loop that made them: killed after it is gone (the caller's
        # ``shutdown``, which stays for what does not close in time), each pipe complained at its collection.
        close = getattr(self.source, "close", None)
        if close is not None:
            with contextlib.suppress(Exception, TimeoutError):
                async with asyncio.timeout(SOURCE_CLOSE_WITHIN):
                    await close()

    # --- messages from widgets ------------------------------------------------------------------

    def on_connection_table_header_clicked(self, message: ConnectionTable.HeaderClicked) -> None:
        if message.column_key == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = message.column_key, False

    def on_connection_table_selected(self, message: ConnectionTable.Selected) -> None:
        record, row = self.model.latest(message.key), self.model.rows.get(message.key)
        if record is None:
            return
        closed_at = row.closed_at if row is not None else None
        name_of = self.resolver.name if self.show_names else None
        self.push_screen(DetailsScreen(message.key, record, self.model.current, closed_at, name_of))

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        self.query_filter = message.query
        self.resort()

    def on_filter_bar_closed(self) -> None:
        bar = self.query_one(FilterBar)
        bar.display = not self.query_filter.is_empty or bar.invalid  # a typo stays in sight with what holds instead
        processes = self.query_one(ProcessTable)
        (processes if processes.is_open else self.query_one(ConnectionTable)).focus()

    # --- reactives ------------------------------------------------------------------------------

    def watch_sort_column(self) -> None:
        self.resort(same_rows=True)

    def watch_sort_reverse(self) -> None:
        self.show_rows()

    def watch_quick(self) -> None:
        self.resort()

    def watch_paused(self, paused: bool) -> None:
        self._wake.set()
        if not paused:
            held, self._held = self._held, None
            if held is not None:
                self._apply(held)
            self.show_rows()
        self.update_status()

    def watch_columns(self) -> None:
        if self.is_mounted:
            table = self.query_one(ConnectionTable)
            table.hidden_columns = frozenset(COLUMN_KEYS) - self.columns
            table.refresh()

    def watch_interval(self) -> None:
        self._wake.set()
        if self.is_mounted:
            self.show_rows()

    # --- actions ------------------------------------------------------------------------------

    def action_help(self) -> None:
        palette = Binding(self.COMMAND_PALETTE_BINDING, "command_palette", "command palette (every action, and themes)")
        self.push_screen(HelpScreen([*ConnectionTable.BINDINGS, *self.BINDINGS, *ProcessTable.HELP_BINDINGS, palette]))

    def action_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.display = True
        bar.query_one("#filter-input").focus()

    def action_cycle_sort(self) -> None:
        """Sort by the next column on screen: a hidden one would sort by what nobody can see."""
        shown = self.query_one(ConnectionTable).shown_column_keys() or list(COLUMN_KEYS)
        index = shown.index(self.sort_column) if self.sort_column in shown else -1
        self.sort_column = shown[(index + 1) % len(shown)]

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse

    def action_processes(self) -> None:
        """Show the process view in place of the table, or the table again."""
        processes, table = self.query_one(ProcessTable), self.query_one(ConnectionTable)
        if processes.is_open:
            processes.close()
            table.display = True
            table.focus()
        else:
            table.display = False
            processes.open(self.model.current, self.model.keep)
            processes.focus()

    def action_toggle_listening(self) -> None:
        self.quick = self.quick.replaced("is", None if self.quick.value_of("is") else "listening")

    def action_toggle_closing(self) -> None:
        self.quick = self.quick.toggled("is", "closing", negated=True)

    def action_cycle_proto(self) -> None:
        index = PROTO_CYCLE.index(self.quick.value_of("proto"))
        self.quick = self.quick.replaced("proto", PROTO_CYCLE[(index + 1) % len(PROTO_CYCLE)])

    def action_family(self, family: int) -> None:
        self.quick = self.quick.replaced("fam", None if self.quick.value_of("fam") == str(family) else str(family))

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused

    def action_slower(self) -> None:
        self.interval = pace.slower(self.interval)

    def action_faster(self) -> None:
        self.interval = pace.faster(self.interval)

    def action_toggle_names(self) -> None:
        self.show_names = not self.show_names

    def action_toggle_events(self) -> None:
        self.query_one("#events", EventLog).toggle()

    def action_baseline(self) -> None:
        if self.baseline is None:
            records = (*self.model.current.values(), *self.model.missing.values())
            self.baseline = {r.key: _look(r) for r in records}
            self.baseline_at = self._clock()
        else:
            self.baseline = None
        self.resort()
        self.update_status()

    def _refused_in_browser(self) -> bool:
        if not self.actions:
            self.notify("Kill and export are off in the browser (nettop web --allow-actions turns them on).",
                        severity="warning", markup=False)  # fmt: skip
        return not self.actions

    def action_export(self) -> None:
        if self._refused_in_browser():
            return
        table = self.query_one(ConnectionTable)
        rows = (table.entry(i)[1] for i in range(table.row_count))
        # Missing listeners are not connections: an export holds sockets only.
        records = [row.record for row in rows if row.closed_at is None and not row.missing]
        default = time.strftime("nettop-%Y%m%d-%H%M%S.json", time.localtime(self._clock()))

        def chosen(path: str | None) -> None:
            if path:
                self._export(path, records)

        self.push_screen(ExportScreen(default, len(records)), chosen)

    def _export(self, path: str, records: list[Connection], overwrite: bool = False) -> None:
        """Write the export; an existing file is replaced only after a yes."""
        try:
            written = write_export(path, records, overwrite=overwrite)
        except FileExistsError:

            def answered(yes: bool | None) -> None:
                if yes:
                    self._export(path, records, overwrite=True)

            self.push_screen(ConfirmScreen(Text(f"{safe(path)} exists. Replace it?")), answered)
            return
        except (OSError, NettopError) as error:
            reason = error.strerror or str(error) if isinstance(error, OSError) else str(error)
            self.notify(safe(f"export failed: {path}: {reason}"), severity="error", markup=False)
            return
        self.notify(safe(f"exported {len(records)} connections to {written}"), markup=False)

    def action_kill(self) -> None:
        row = self.query_one(ConnectionTable).cursor_record_row
        if row is None or row.missing or not row.record.owners or row.record.owners[0].pid is None:
            self.notify("No owner to terminate for this connection.", severity="warning", markup=False)
            return
        self.ask_to_signal(row.record.owners[0], self.query_one(ConnectionTable).cursor_key)

    def ask_to_signal(self, owner: Owner, first: RowKey | None = None) -> None:
        """The kill dialog for ``owner`` (the table's ``k``, the process view's), its connections listed from the
        one at ``first``; the chosen signal sent by ``signal_owner``, which refuses a pid now another process's."""
        if self.read_only:
            self.notify("A saved capture: nothing to kill.", severity="warning", markup=False)
            return
        if self._refused_in_browser():
            return
        if self.snapshot is not None and self.snapshot.source.startswith("ssh:"):
            # The pid is another machine's: here it may be any process, or none.
            self.notify("Remote hosts' processes are not signalled from here (use ssh).", severity="warning",
                        markup=False)  # fmt: skip
            return
        assert owner.pid is not None

        def answered(chosen: signal.Signals | None) -> None:
            if chosen is None:
                return
            try:
                self.notify(safe(signal_owner(owner, chosen)), markup=False)
            except KillRefused as refusal:
                self.notify(safe(str(refusal)), severity="error", markup=False)

        self.push_screen(KillScreen(owner, connections_of(owner.pid, self.model.current, first)), answered)

    # --- settings -------------------------------------------------------------------------------

    def current_settings(self) -> config.Settings:
        """The settings as the viewer has them now (the hidden states' terms are kept apart from the filter)."""
        hide = self.settings.settings.hide_states
        return config.Settings(self.theme, self.interval, self.sort_column, self.sort_reverse, self.columns,
                               config.filter_without_hidden(self.query_filter.text, hide), hide)  # fmt: skip

    def action_settings(self) -> None:
        def answered(save: bool | None) -> None:
            if save:
                self.save_settings(self.current_settings(), config.KEYS)

        self.push_screen(SettingsScreen(self.settings, self.current_settings()), answered)

    def action_columns(self) -> None:
        self.push_screen(ColumnsScreen(self.columns))

    def on_columns_screen_chosen(self, message: ColumnsScreen.Chosen) -> None:
        self.columns = message.columns

    def _theme_chosen(self) -> None:
        """A theme chosen from the palette stays: saved alone, the file's other lines untouched."""
        if self.settings.path is not None:
            self.save_settings(self.current_settings(), ("theme",), quiet=True)

    def save_settings(self, settings: config.Settings, keys: Iterable[str], quiet: bool = False) -> None:
        saved, said = save_settings(self.settings, settings, tuple(keys))
        if saved is not None:
            self.settings = saved
        if saved is None or not quiet:
            self.notify(safe(said), severity="information" if saved else "error", markup=False)
