"""What the viewer shows, as pure data: columns, cell text, sort keys, and the rows model that lingers.

No Textual here: the model takes snapshots, remembers when each connection appeared or closed, and
answers "which rows, in which order" for a filter and a sort. The table widget only draws what it says.
"""

from __future__ import annotations

import bisect
import ipaddress
import itertools
import pwd
import socket
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter

from nettop.cgroups import Placement, place_name
from nettop.exposure import exposure
from nettop.model import Connection, OwnerStatus, Proto, State, Traffic
from nettop.snapshots import RowKey, SnapshotDiff
from nettop.text import address_text, bytes_text, port_text, rtt_text

#: How long a new connection stays highlighted, and a closed one stays (dimmed) before it goes.
NEW_HIGHLIGHT_SECONDS = 5.0
CLOSED_LINGER_SECONDS = 5.0


@lru_cache(maxsize=65536)
def ip_sort_key(ip: str | None) -> str:
    """Numeric order for addresses (10.0.0.2 before 10.0.0.10), wildcards first, names last, as a string:
    sort keys are compared millions of times per re-sort, and one string compare is the cheapest."""
    if ip is None:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "9" + ip
    # The version first, so that each version's keys have one length (IPv4 in 8 digits, not 32: shorter keys
    # compare faster and take less of the viewer's memory, kept twice for every row).
    return f"4{int(address):08x}" if address.version == 4 else f"6{int(address):032x}"


@lru_cache(maxsize=4096)
def service_name(port: int | None, proto: str) -> str:
    """The well-known name of a port (``ssh``, ``https``), or "" when it has none or is ephemeral: this machine's
    services database first (it may name a local service), then nettop's bundled table."""
    if port is None or port >= 32768 or proto not in ("tcp", "udp"):
        return ""
    try:
        return socket.getservbyport(port, proto)
    except OSError:
        from nettop.formats.services import NAMES  # a machine without /etc/services (a minimal container)

        return NAMES.get(port, "")


#: What the Program column says of a socket whose owner another user's process is, hidden from a user who is not
#: root: not blank, which would look like a TIME_WAIT row that no process holds.
HIDDEN_OWNER = "(hidden)"


def owner_hidden(record: Connection) -> bool:
    """The socket has an owner that nettop may not see (``OwnerStatus.NOT_PERMITTED``)."""
    return not record.owners and record.owner_status is OwnerStatus.NOT_PERMITTED


def owner_pids(record: Connection) -> str:
    if not record.owners:
        return "?" if record.owner_status is OwnerStatus.NOT_PERMITTED else ""
    return ",".join("?" if owner.pid is None else str(owner.pid) for owner in record.owners)


def owner_names(record: Connection) -> str:
    if not record.owners:
        return HIDDEN_OWNER if record.owner_status is OwnerStatus.NOT_PERMITTED else ""
    return ",".join(owner.name or "?" for owner in record.owners)


@lru_cache(maxsize=1024)
def user_name(uid: int) -> str:
    """The name of ``uid`` (the password database, read once per uid), or the number when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return str(uid)


def owner_user(record: Connection) -> str:
    """The owner's user, else the user that made the socket (its uid, which sock_diag and ``ss -e`` give even for
    another user's socket: the kernel tells that much without root)."""
    user = record.user
    if user:
        return user
    return user_name(record.uid) if not record.owners and record.uid is not None else ""


#: The default order, by the State column: what serves first, then what talks, then what is on its way out
#: (a curl loop's TIME_WAIT would otherwise fill the first screen).
STATE_RANK: dict[State, str] = {
    State.LISTEN: "0",
    State.UNCONNECTED: "0",
    State.ESTABLISHED: "1",
    State.SYN_SENT: "2",
    State.SYN_RECV: "2",
    State.FIN_WAIT1: "3",
    State.FIN_WAIT2: "3",
    State.CLOSE_WAIT: "3",
    State.CLOSING: "3",
    State.LAST_ACK: "3",
    State.TIME_WAIT: "4",
    State.CLOSE: "5",
    State.UNKNOWN: "6",
}


def state_order(record: Connection) -> str:
    """Listeners first (TCP LISTEN, bound UDP), then established, opening, closing, TIME_WAIT; then by protocol
    (the row's tail then orders by port). A policy's missing listener (state UNKNOWN) sorts with the listeners."""
    return _state_key(record.state, record.proto, record.family, record.remote_ip is None)


@lru_cache(maxsize=256)
def _state_key(state: State, proto: Proto, family: int, peerless: bool) -> str:
    # Cached: a sort key is made for every row of a re-sort, and these few inputs have few values.
    rank = STATE_RANK[state]
    if state is State.UNCONNECTED and not peerless:
        rank = "1"  # a connected UDP socket talks to one peer: with the established
    elif state is State.UNKNOWN and peerless:
        rank = "0"
    return rank + proto + str(family)


@lru_cache(maxsize=4096)
def place_text(placement: Placement | None) -> str:
    """Where a process runs, in a few words: its container (its name, or ``docker:3f2a9c1b7e4d``), pod, or
    systemd unit (escapes decoded); "" when unknown or none of these."""
    return (place_name(placement) if placement is not None else None) or ""


def owner_place(record: Connection) -> str:
    return place_text(record.runs_in)


def command_line(record: Connection) -> str:
    owner = record.owners[0] if record.owners else None
    return " ".join(owner.cmdline) if owner is not None and owner.cmdline else ""


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: what it shows, how it sorts, how wide it is and when it may be hidden."""

    key: str
    title: str
    cell: Callable[[Connection], str]
    #: A string, for every column: Python sorts a list of plain strings several times faster than tuples.
    sort_key: Callable[[Connection], str]
    width: int
    #: Flexible columns share the width left over by fixed ones.
    flex: bool = False
    #: Hidden when the screen is narrower than this.
    min_screen: int = 0
    #: A flexible column grows no wider than this (0: no limit).
    max_width: int = 0
    align_right: bool = False
    #: What the rows must carry for the column to be shown (``TRAFFIC``, ``NETNS``), "" for always: a column of
    #: dashes would take the room of one that says something.
    needs: str = ""
    #: Where a cell too long for the column is cut: ``END``, ``MIDDLE`` (addresses, names: both ends say
    #: something) or ``COMMAND`` (the program's directory goes first, its name and arguments stay).
    elide: str = "end"


END, MIDDLE, COMMAND = "end", "middle", "command"


def _exposure(record: Connection) -> str:
    return exposure(record) or ""


def _numeric(number: int | None) -> str:
    return f"{number or 0:010d}"


#: What columns may need (``Column.needs``): traffic, from a source that reads it (netlink); network namespaces,
#: from a listing of all of them (``--all-netns``).
TRAFFIC, NETNS = "traffic", "netns"
#: ... and hosts, from a listing of remote hosts (``--host``).
HOSTS = "hosts"

#: What a traffic cell shows for a socket without counts: UDP keeps none, nor does a listener (never "0").
NO_COUNTS = "—"
_LARGEST = 2**64


def _rate_column(field: int) -> tuple[Callable[[Connection], str], Callable[[Connection], str]]:
    """The cell and the sort key of a rate column, for a ``Traffic`` field (rate_in, rate_out)."""

    def cell(record: Connection) -> str:
        traffic = record.traffic
        if traffic is None:
            return NO_COUNTS
        rate = traffic[field]
        return "" if rate is None else bytes_text(rate)  # blank until the socket has been seen twice

    def order(record: Connection) -> str:
        """Busiest first (a top's order), then sockets still without a rate, then those without counts."""
        traffic = record.traffic
        if traffic is None:
            return "2"
        rate = traffic[field]
        return "1" if rate is None else f"0{_LARGEST - rate:020d}"

    return cell, order


_rx, _rx_order = _rate_column(Traffic._fields.index("rate_in"))
_tx, _tx_order = _rate_column(Traffic._fields.index("rate_out"))


def _rtt(r: Connection) -> str:
    return NO_COUNTS if r.traffic is None else rtt_text(r.traffic.rtt_us)


def _rtt_order(r: Connection) -> str:
    # Slowest first: the connection a user looks for is the one that lags.
    return "1" if r.traffic is None else f"0{_LARGEST - r.traffic.rtt_us:020d}"


def _service(record: Connection) -> str:
    # ``is_listener`` inlined: this is also a sort key, run for every row of a re-sort.
    proto, remote_port = record.proto, record.remote_port
    if remote_port is None or (record.state is State.LISTEN if proto is Proto.TCP else record.remote_ip is None):
        return service_name(record.local_port, proto)
    return service_name(remote_port, proto)


COLUMNS: tuple[Column, ...] = (
    # The host first: with several, which machine is the first question. Fixed width: names are short, and a
    # long one is cut in the middle (``web-…-eu1``).
    Column("host", "Host", lambda r: r.host or "", lambda r: r.host or "", 12, needs=HOSTS, elide=MIDDLE),
    # Sort keys use enum members as the strings they are: ``.value`` is a property, slow over 25,000 rows.
    Column("proto", "Proto", lambda r: f"{r.proto.value}{r.family}", lambda r: r.proto + str(r.family), 6),
    # Blank for nettop's own namespace: the others stand out.
    Column(
        "netns",
        "Netns",
        lambda r: r.netns or "",
        lambda r: r.netns or "",
        5,
        flex=True,
        max_width=20,
        needs=NETNS,
        elide=MIDDLE,
    ),
    Column(
        "local",
        "Local address",
        lambda r: address_text(r.local_ip, r.interface),
        lambda r: ip_sort_key(r.local_ip),
        13,
        flex=True,
        max_width=41,
        elide=MIDDLE,
    ),
    Column(
        "lport",
        "Port",
        lambda r: port_text(r.local_port, r.local_service),
        lambda r: _numeric(r.local_port),
        5,
        align_right=True,
    ),
    Column(
        "remote",
        "Remote address",
        lambda r: address_text(r.remote_ip),
        lambda r: ip_sort_key(r.remote_ip),
        14,
        flex=True,
        max_width=41,
        elide=MIDDLE,
    ),
    Column(
        "rport",
        "Port",
        lambda r: port_text(r.remote_port, r.remote_service),
        lambda r: _numeric(r.remote_port),
        5,
        align_right=True,
    ),
    # Sorted by lifecycle, not by name: listeners, established, opening, closing (``state_order``).
    Column("state", "State", lambda r: r.state.value, state_order, 11),
    Column("pid", "PID", owner_pids, lambda r: _numeric(r.pid), 7, align_right=True),
    Column(
        "program",
        "Program",
        owner_names,
        lambda r: (r.program or "~").lower(),
        8,
        flex=True,
        max_width=24,
        elide=MIDDLE,
    ),
    Column("user", "User", owner_user, lambda r: r.user or "~", 4, flex=True, max_width=16, min_screen=96),
    Column("rx", "Rx/s", _rx, _rx_order, 8, min_screen=110, align_right=True, needs=TRAFFIC),
    Column("tx", "Tx/s", _tx, _tx_order, 8, min_screen=110, align_right=True, needs=TRAFFIC),
    Column("rtt", "RTT", _rtt, _rtt_order, 7, min_screen=130, align_right=True, needs=TRAFFIC),
    Column("service", "Service", _service, _service, 9, min_screen=120),
    Column("exposure", "Exposure", _exposure, _exposure, 8, min_screen=150),
    Column("unit", "Unit", owner_place, owner_place, 4, flex=True, max_width=28, min_screen=140, elide=MIDDLE),
    # The one column without a limit: it takes what the others leave.
    Column("command", "Command", command_line, command_line, 7, flex=True, min_screen=160, elide=COMMAND),
)
COLUMN_KEYS = tuple(column.key for column in COLUMNS)
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}
#: The sort of a column key nettop does not know (a config file's typo): the default, lifecycle order.
_FALLBACK = COLUMNS_BY_KEY["state"]


#: What a missing listener's row shows instead of its expected socket's cells: it has no state, and its
#: "owner" is only the name the policy expects, no process.
MISSING_CELLS = {"state": "MISSING", "pid": ""}


def visible_columns(screen_width: int, available: Collection[str] = ()) -> list[Column]:
    """The columns that fit ``screen_width``, of those whose needs are ``available`` (``TRAFFIC``, ``NETNS``)."""
    return [c for c in COLUMNS if screen_width >= c.min_screen and (not c.needs or c.needs in available)]


#: The narrowest screen that shows a traffic column: the viewer asks its source for traffic from there.
TRAFFIC_MIN_SCREEN = min(column.min_screen for column in COLUMNS if column.needs == TRAFFIC)


#: The flexible columns with a limit, whose width follows their widest cell (``RowsModel.widest``); Command has no
#: limit and takes what is left, unmeasured.
MEASURED = tuple(column for column in COLUMNS if column.flex and column.max_width)


def column_widths(columns: list[Column], width: int, widest: Mapping[str, int] | None = None) -> list[int]:
    """Fixed columns get their width; flexible ones that of their widest cell (``widest``, by column key), from
    their ``width`` (at least their title) to their ``max_width``; a column without a limit (Command) takes
    what is left. One space between columns.

    On a screen too narrow for all of it, the widest flexible columns give up cells first (to 4 each).
    """
    widest = widest or {}
    widths = []
    for column in columns:
        wanted = column.width
        if column.flex:  # never narrower than its title and the sort's arrow
            wanted = max(wanted, len(column.title) + 1, widest.get(column.key, 0))
            if column.max_width:
                wanted = min(wanted, column.max_width)
        widths.append(wanted)
    spare = width - sum(widths) - (len(columns) - 1)
    flex = [i for i, column in enumerate(columns) if column.flex]
    unlimited = [i for i in flex if not columns[i].max_width]
    if spare > 0 and unlimited:
        widths[unlimited[-1]] += spare
        spare = 0
    while spare < 0 and flex:
        widest = max(flex, key=lambda i: widths[i])
        if widths[widest] <= 4:
            break
        widths[widest] -= 1
        spare += 1
    return widths


@dataclass(slots=True)
class Row:
    """A connection the viewer knows: its latest record, when it appeared and, if it closed, when."""

    record: Connection
    first_seen: float
    #: What follows the sort key in ``place``: the connection's ends (which never change for a row) and a
    #: serial number, unique and increasing, so that the order is total and stable. Made once: a re-sort of
    #: 25,000 rows then only prepends each row's key.
    tail: str
    closed_at: float | None = None
    #: The row's place in the sort (sort key and ``tail``, in one string) while it is shown, else None.
    place: str | None = None
    #: A listener a policy expects and that is not there (``nettop.policy.overlay``), not a socket: ``record`` is
    #: the socket it expects.
    missing: bool = False
    #: The width of its cells in the ``MEASURED`` columns, measured when its record last changed them.
    sizes: tuple[int, ...] | None = None

    def cells(self, columns: Iterable[Column]) -> list[str]:
        """The row's text in ``columns``, not yet made safe."""
        if self.missing:
            return [MISSING_CELLS[c.key] if c.key in MISSING_CELLS else c.cell(self.record) for c in columns]
        return [c.cell(self.record) for c in columns]


#: Which records to show; None shows all.
Keep = Callable[[Connection], bool] | None


MEASURED_KEYS = tuple(column.key for column in MEASURED)
assert MEASURED_KEYS == ("netns", "local", "remote", "program", "user", "unit"), "``_sizes`` measures these"


def _sizes(row: Row) -> tuple[int, ...]:
    """Measure the row's cells in the ``MEASURED`` columns, and keep the result on the row.

    The address cells' lengths are worked out rather than made: 30,000 rows of the first snapshot are measured
    (tests/test_table_view.py checks that this agrees with the cells)."""
    r = row.record
    interface, remote, netns = r.interface, r.remote_ip, r.netns
    sizes = row.sizes = (
        len(netns) if netns else 0,
        len(r.local_ip) + (len(interface) + 1 if interface else 0),
        len(remote) if remote is not None else 1,
        len(owner_names(r)),
        len(owner_user(r)),
        len(owner_place(r)),
    )
    return sizes


_TRAFFIC_ONLY = ("traffic",)


def _resized(before: Connection, after: Connection) -> bool:
    """Whether a change of record may change its measured cells: only owners and where they run do (a row's ends,
    and so its addresses, never change). Most changes are counters and states, and cost no measuring."""
    return (
        after.owners != before.owners
        or after.owner_status is not before.owner_status
        or after.uid != before.uid
        or after.placement != before.placement
    )


def _tail(record: Connection, serial: int) -> str:
    remote, local = ip_sort_key(record.remote_ip), ip_sort_key(record.local_ip)
    return f"\0{record.local_port or 0:05d}{remote}\0{record.remote_port or 0:05d}{local}\0{serial:012d}"


@dataclass
class RowsModel:
    """Every connection on screen, kept across snapshots by row key and updated from diffs only.

    ``order`` holds the shown rows' places (strings, see ``Row.place``), ascending; a tick inserts and
    removes only the rows that opened, changed or went (bisect), so its cost follows the churn, not the
    number of rows. A change of sort column or filter re-sorts once. Reversing reads the order backwards.
    """

    rows: dict[RowKey, Row] = field(default_factory=dict)
    #: The records of the last snapshot, by key (without the lingering closed ones).
    current: Mapping[RowKey, Connection] = field(default_factory=dict)
    #: The listeners a policy expects that are missing, by their own keys (``Row.missing``).
    missing: Mapping[RowKey, Connection] = field(default_factory=dict)
    #: Closed rows still shown, dimmed, until their linger time is over.
    closing: dict[RowKey, Row] = field(default_factory=dict)
    #: Places of the shown rows, ascending, and the row at each place.
    order: list[str] = field(default_factory=list)
    at_place: dict[str, RowKey] = field(default_factory=dict)
    sort_column: str = "state"
    keep: Keep = None
    started: bool = False
    #: ``--policy``: the connection keys (``Connection.key``) of rows that break it.
    offending: frozenset[tuple[object, ...]] = frozenset()
    #: Remote hosts whose last refresh failed (``Snapshot.stale``): their rows are drawn as old.
    stale_hosts: frozenset[str] = frozenset()
    #: When a connection last opened: highlights fade until NEW_HIGHLIGHT_SECONDS after it.
    last_opened: float = float("-inf")
    #: When the first snapshot was taken: rows seen first then were already open, since when nobody knows.
    started_at: float = float("inf")
    #: The widest cell of each ``MEASURED`` column (by key) among the rows shown: it grows as rows come and is
    #: measured anew at each re-sort (from each row's ``sizes``, never by making 30,000 rows' cells again).
    widest: dict[str, int] = field(default_factory=dict)
    #: Bumped when ``widest`` changes: the table lays its columns out again only then.
    widths_version: int = 0
    #: A policy judges the rows (``apply`` was given its missing listeners): the table shows a mark column.
    judged: bool = False
    _serials: Iterator[int] = field(default_factory=itertools.count)

    def apply(
        self,
        latest: Mapping[RowKey, Connection],
        change: SnapshotDiff,
        now: float,
        missing: Mapping[RowKey, Connection] | None = None,
    ) -> None:
        """Take a new snapshot (indexed, with its diff from the previous one, see ``nettop.snapshots``) and, with
        a policy, the listeners it misses now (they come and go as rows do, but are never sockets)."""
        opened, closed = change.opened, change.closed
        if missing is not None:
            was = self.missing
            if missing.keys() != was.keys():
                opened = {**opened, **{key: r for key, r in missing.items() if key not in was}}
                closed = {**closed, **{key: r for key, r in was.items() if key not in missing}}
            self.missing = missing
            self.judged = True
        # Everything in the very first snapshot was already there: nothing is "new".
        seen = now if self.started else now - NEW_HIGHLIGHT_SECONDS
        if not self.started:
            self.started_at = now
        if opened and self.started:
            self.last_opened = now
        # Many new rows at once (the first snapshot): append them all and sort once.
        bulk = len(opened) > 64 and len(opened) > len(self.order) // 4
        # Rows closed and back within their linger time leave their old place first, while ``order`` is still
        # sorted: the bulk path below appends unsorted, and a bisect into that finds the wrong place.
        back = [(key, row) for key, row in ((key, self.rows.get(key)) for key in opened) if row is not None]
        for key, row in back:
            self._hide(row)
            self.closing.pop(key, None)
        for key, record in opened.items():
            row = self.rows.get(key)
            if row is None:
                tail = _tail(record, next(self._serials))
                row = self.rows[key] = Row(record, seen, tail, missing=key in self.missing)
            else:
                row.record, row.closed_at, row.sizes = record, None, None
            self._show(key, row, insert=not bulk)
        if bulk:
            self.order.sort()
        sort_key, keep = COLUMNS_BY_KEY.get(self.sort_column, _FALLBACK).sort_key, self.keep
        for key, changed in change.changed.items():
            row, after = self.rows[key], changed.after
            # Most changes move nothing (bytes flowing, ESTABLISHED to TIME-WAIT under another sort): the row keeps
            # its place, and the ordered list, tens of thousands long, is not touched.
            if (keep is None or keep(after)) == (row.place is not None) and (
                row.place is None or sort_key(after) + row.tail == row.place
            ):
                before, row.record = row.record, after
                # Bytes flowing (every busy row, every tick) change no measured cell: not even compared.
                if changed.fields != _TRAFFIC_ONLY and _resized(before, after):
                    row.sizes = None  # measured again when next shown
                    if row.place is not None:
                        self._measure(row)
                continue
            self._hide(row)
            row.record, row.sizes = after, None
            self._show(key, row)
        for key in closed:
            row = self.rows[key]
            row.closed_at = now
            self.closing[key] = row
        self.current = latest
        self.started = True
        self.expire(now)

    def expire(self, now: float) -> bool:
        """Forget closed rows whose linger time is over; True when any went."""
        # ``closing`` is in the order rows closed (a row is put there when it closes, and taken out if it comes
        # back): the walk stops at the first that may stay. At 30,000 connections thousands linger at any time.
        gone = []
        for key, row in self.closing.items():
            if now - (row.closed_at or now) < CLOSED_LINGER_SECONDS:
                break
            gone.append(key)
        if len(gone) > 64:
            # Many at once (a burst that closed together): one pass over ``order``, not one deletion from the
            # middle of it per row (200,000 of those froze the screen for over a second).
            places = set()
            for key in gone:
                row = self.closing.pop(key)
                del self.rows[key]
                if row.place is not None:
                    places.add(row.place)
                    del self.at_place[row.place]
            self.order = [place for place in self.order if place not in places]
            return True
        for key in gone:
            self._hide(self.closing.pop(key))
            del self.rows[key]
        return bool(gone)

    def resort(self, sort_column: str, keep: Keep, measure: bool = True) -> None:
        """Order every row anew, by another column or through another filter. ``measure``: the rows shown may
        have changed (a filter), so the columns' widths are measured again; a new sort alone shows the same rows
        (at 70,000 rows the measuring was a third of a sort key's press)."""
        self.sort_column, self.keep = sort_column, keep
        sort_key = COLUMNS_BY_KEY.get(sort_column, _FALLBACK).sort_key
        order: list[str] = []
        at_place: dict[str, RowKey] = {}
        shown: list[Row] = []
        # One tight loop: at 30,000 rows every call per row costs milliseconds.
        for key, row in self.rows.items():
            record = row.record
            if keep is not None and not keep(record):
                row.place = None
                continue
            place = row.place = sort_key(record) + row.tail
            order.append(place)
            at_place[place] = key
            shown.append(row)
        order.sort()
        self.order, self.at_place = order, at_place
        if not measure:
            return
        sizes = [row.sizes or _sizes(row) for row in shown]
        widest = {key: max(map(itemgetter(at), sizes)) for at, key in enumerate(MEASURED_KEYS)} if sizes else {}
        if widest != self.widest:
            self.widest = widest
            self.widths_version += 1

    def latest(self, key: RowKey) -> Connection | None:
        """The freshest record of a row (unchanged rows keep the record from when they last changed)."""
        row = self.rows.get(key)
        return self.current.get(key) or (row.record if row is not None else None)

    def position(self, key: RowKey) -> int | None:
        """Where a row is in ``order``, or None when it is not shown."""
        row = self.rows.get(key)
        if row is None or row.place is None:
            return None
        return bisect.bisect_left(self.order, row.place)

    @property
    def shown_closing(self) -> int:
        return sum(1 for row in self.closing.values() if row.place is not None)

    @property
    def shown_missing(self) -> int:
        """Missing listeners' rows on screen: rows, not sockets."""
        return sum(1 for key in self.missing if self.position(key) is not None)

    def _show(self, key: RowKey, row: Row, insert: bool = True) -> None:
        if self.keep is not None and not self.keep(row.record):
            return
        sort_key = COLUMNS_BY_KEY.get(self.sort_column, _FALLBACK).sort_key
        place = row.place = sort_key(row.record) + row.tail
        self.at_place[place] = key
        if insert:
            bisect.insort(self.order, place)
        else:
            self.order.append(place)
        self._measure(row)

    def _measure(self, row: Row) -> None:
        """Take a shown row's cell widths into ``widest``."""
        widest = self.widest
        grew = False
        for key, size in zip(MEASURED_KEYS, _sizes(row), strict=True):
            if size > widest.get(key, 0):
                widest[key] = size
                grew = True
        if grew:
            self.widths_version += 1

    def _hide(self, row: Row) -> None:
        if row.place is not None:
            del self.order[bisect.bisect_left(self.order, row.place)]
            del self.at_place[row.place]
            row.place = None
