"""Linux's sources (the kernel's table over netlink, then ``ss``, then ``netstat``), and how each is collected
with its owners.

The netlink dump (``sources.sockdiag``) needs no command; ``ss`` and ``netstat`` are asked for inodes
(``ss -tunae``, ``netstat -tunaeW``, from ``formats.registry``), and for all three the owners come from a
``/proc`` scan joined by inode after the parse (``owners``): ``-p`` costs both tools a quadratic walk that
triples their time at 20,000 sockets. The scan runs beside the command, so that it adds no wall time. A
source collected again and again (the live viewer's ticks) reads only the ``ss`` lines that changed
(``LiveListing``) and then rescans only the fds that may have changed, given the inodes listed
(``owners.procfs.IncrementalSocketScanner``): that state is the ``ss`` collector's (``LiveCollector``).

The netlink collector (``NetlinkCollector``) is one more collector here and one entry in ``COMMANDS``: its
records come with inodes and no owners, and ``ProcOwners`` joins them like the text commands'.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

from nettop.aio import both
from nettop.cgroups import place_name
from nettop.formats import netstat_linux, ss
from nettop.formats.common import text_lines
from nettop.formats.registry import command
from nettop.gcpause import paused_gc
from nettop.memory import release_free_memory
from nettop.model import Connection, OwnerResolver, ParseResult, new_connection
from nettop.owners.cgroup_ids import CgroupPaths
from nettop.owners.join import join_by_inode
from nettop.owners.procfs import IncrementalSocketScanner, SocketOwners, scan_socket_owners
from nettop.runner import BlockingRunner, Runner
from nettop.sources import netns, sockdiag
from nettop.sources.command import Collected, LineChanges, ListingCommand, Setting
from nettop.sources.oneshot import InThread, ScanInChild, Underway
from nettop.traffic import TrafficMeter

if TYPE_CHECKING:
    from nettop.cgroups import Placement
    from nettop.owners.enrich import Enricher

#: For each live socket inode: its owners and why they are what they are (see ``OwnerResolver``); and the
#: inodes whose holders changed since the last call (None: any may have).
LiveOwners = Callable[[set[int]], tuple[OwnerResolver, Collection[int] | None]]
#: A command's text → its records, inodes and no owners.
Parse = Callable[[str], ParseResult]


class LiveListing:
    """ss text read again and again (a live view), with work in proportion to what changed, not to its size.

    A busy server's listing repeats most of its lines from one tick to the next. A line seen in the last
    read gives back the same record, unless the scan says its socket changed hands; only new lines are
    parsed. What went and what came is handed out as well, so that keying, diffing and counting can follow
    the change alone.

    ``timer:(…)`` counts down every second (``ss -e`` prints it for TIME-WAIT sockets): it is taken out of the
    text before anything else, so that a server's thousands of TIME-WAIT lines are not all new every tick. A
    live record's raw line is the line less its timer (which would be stale a second later anyway).
    """

    def __init__(self, source: str = ss.FORMAT) -> None:
        self._source = source
        #: The records of the last read by line, owners attached.
        self._records: dict[str, Connection] = {}
        #: The non-zero inodes among them.
        self._live: set[int] = set()
        #: The columns and the wildcard dialect of the last read: a change of either reads everything afresh.
        self._shape: tuple[bool, bool, bool] | None = None

    def read(self, text: str, owners: LiveOwners) -> tuple[ParseResult, LineChanges | None]:
        """Parse ``text``; ``owners`` is asked once, given the inodes the text shows.

        Returns the records, and the records that went and came since the last read (None for the first read,
        or when the text's layout changed, and so the whole text was read afresh).
        """
        text = ss.without_timers(text)
        lines = text_lines(text)
        found = ss.layout(lines)
        start, has_netid, has_state = found if found is not None else (len(lines), False, False)
        older = ss.older_wildcards(text)
        first = (has_netid, has_state, older) != self._shape
        if first:
            self._records, self._live, self._shape = {}, set(), (has_netid, has_state, older)
        known, live = self._records, self._live
        rows = lines[start:]
        records: list[Connection | None] = list(map(known.get, rows))
        new_rows = [start + i for i, record in enumerate(records) if record is None]
        parsed, issues = ss.parse_rows(lines, new_rows, has_netid, has_state, None, self._source, older, True)
        present = set(rows)
        gone = [known.pop(line) for line in known.keys() - present]
        for record in gone:
            if record.inode is not None:
                live.discard(record.inode)
        for _, record in parsed:
            if record.inode is not None:
                live.add(record.inode)
        resolver, changed = owners(set(live))  # a copy: the caller may keep it, and this one changes
        removed: list[Connection] = gone
        added: list[Connection] = []
        for at, record in parsed:
            if not record.owners:  # owners printed in the line (ss -p) are the line's
                record = _reowned(record, resolver)
            records[at - start] = known[lines[at]] = record
            added.append(record)
        # Sockets whose lines stayed but whose holders changed (a fork, an fd passed on, a holder gone): rare,
        # so the walk over every record is made only when there is one.
        stale = set(live) if changed is None else live.intersection(changed)
        stale.difference_update(record.inode for _, record in parsed)
        if stale:
            for i, record in enumerate(records):
                if record is None or record.inode not in stale or "users:(" in record.raw:
                    continue
                owned = _reowned(record, resolver)
                if owned is not record:
                    records[i] = known[rows[i]] = owned
                    removed.append(record)
                    added.append(owned)
        result = ParseResult(tuple(filter(None, records)), tuple(issues), ss.FORMAT)
        return result, None if first else (removed, added)


class LiveDump:
    """The netlink dump read again and again (a live view), with the work in proportion to what changed: what
    ``LiveListing`` is to ss's lines, with each socket's identity in the kernel's messages as the line.

    ``sockdiag.LiveDecoder`` decodes only the sockets whose message moved; a socket that says what it said last
    time gives back the record it had, owners attached; only fresh records are owned, and only they and the ones
    that went are handed out as the change, so that keying, diffing and counting follow the change alone.
    """

    def __init__(self) -> None:
        self._decoder = sockdiag.LiveDecoder()
        #: Each socket's record as handed out (owned, placed), by its identity.
        self._owned: dict[sockdiag.SocketId, Connection] = {}
        #: The non-zero inodes among them.
        self._live: set[int] = set()
        self._first = True

    def read(
        self,
        dumps: Iterable[tuple[sockdiag.Datagrams, dict[int, str] | None, str | None]],
        with_traffic: bool,
        now: float,
        owners: LiveOwners,
        cgroup_ids: dict[int, int] | None = None,
        placed: Callable[[Connection], Connection] | None = None,
    ) -> tuple[tuple[Connection, ...], LineChanges | None]:
        """The records owned (``owners`` is asked once, given the live inodes), and what went and came since the
        last read (None for the first). ``placed`` finishes each fresh record (an ownerless socket's cgroup)."""
        got = self._decoder.read(dumps, with_traffic, now, cgroup_ids)
        owned, live = self._owned, self._live
        removed = [owned.pop(identity) for identity in got.gone]
        for identity, _ in got.fresh:  # a socket that moved: its last record goes, its new one comes
            was = owned.pop(identity, None)
            if was is not None:
                removed.append(was)
        for record in removed:
            if record.inode is not None:
                live.discard(record.inode)
        for _, record in got.fresh:
            if record.inode is not None:
                live.add(record.inode)
        resolver, changed = owners(set(live))  # a copy: the caller may keep it, and this one changes
        added: list[Connection] = []
        for identity, record in got.fresh:
            record = _reowned(record, resolver)
            if placed is not None:
                record = placed(record)
            owned[identity] = record
            added.append(record)
        # Sockets that stayed but whose holders changed (a fork, an fd passed on, a holder gone): rare, so the walk
        # over every record is made only when there is one.
        stale = set(live) if changed is None else live.intersection(changed)
        stale.difference_update(record.inode for _, record in got.fresh)
        if stale:
            for identity, record in owned.items():
                if record.inode in stale:
                    again = _reowned(record, resolver)
                    if again is not record:
                        owned[identity] = again
                        removed.append(record)
                        added.append(again)
        first, self._first = self._first, False
        return tuple(owned.values()), None if first else (removed, added)


def _reowned(record: Connection, owners_for: OwnerResolver) -> Connection:
    """A remembered record with its owners asked for again; the same record when they did not change."""
    owners, status = owners_for(record.inode, record.state, record.uid)
    if owners == record.owners and status is record.owner_status:
        return record
    # The fast constructor, not _replace (five times its cost): every fresh socket of a live tick comes here.
    return new_connection((*record[:7], owners, status, *record[9:]))


class ProcOwners:
    """The owners of a Linux listing's sockets: the ``/proc`` fd scan's pids by inode, named by the enricher."""

    def __init__(self, setting: Setting) -> None:
        self.setting = setting

    def resolver(self, owners: SocketOwners, uid: int) -> OwnerResolver:
        return self.setting.enricher.resolver(owners.pids_by_inode, uid == 0, uid, owners.hidden_uids)

    def live(
        self, scanner: IncrementalSocketScanner, primed: SocketOwners | None, scanned: list[SocketOwners], uid: int
    ) -> LiveOwners:
        """A live tick's owners, asked once given the live inodes: the primed scan's (it ran blind, beside the
        command or dump: it is told what the listing held), else an incremental scan; each scan is put in
        ``scanned``."""

        def owners_of(live: set[int]) -> tuple[OwnerResolver, Collection[int] | None]:
            if primed is not None:
                scanner.note_listing(live)
                owners = primed
            else:
                owners = scanner.scan(live)
            scanned.append(owners)
            return self.resolver(owners, uid), owners.changed

        return owners_of

    def joined(self, parsed: ParseResult, owners: SocketOwners | None) -> Collected:
        """A parse made without owners, with the scan's attached (none when there was no scan)."""
        uid = os.geteuid()
        if owners is None:
            return parsed, _owner_notes(None, uid), None
        with paused_gc():  # a new record a socket: see _parsed
            records = join_by_inode(parsed.records, self.resolver(owners, uid))
        return ParseResult(records, parsed.issues, parsed.format), _owner_notes(owners, uid), None

    def scan(self) -> SocketOwners:
        return scan_socket_owners(self.setting.proc_root)

    def scan_underway(self, underway: Underway) -> ScanInChild | InThread[SocketOwners]:
        """The one-shot collection's /proc scan: the early start's, or one begun now in a thread, left in
        ``underway`` for a command that stands in after this one fails."""
        if underway.owners is None:
            underway.owners = InThread(scan_socket_owners, self.setting.proc_root)
        return underway.owners


class TextCollector:
    """A listing command's whole text each time, parsed, with all of /proc scanned beside it (netstat; ss in a
    one-shot collection)."""

    blocking = True

    def __init__(self, argv: tuple[str, ...], parse: Parse, setting: Setting) -> None:
        self.argv, self._parse, self._owners = argv, parse, ProcOwners(setting)

    async def collect(self, runner: Runner, timeout: float) -> Collected:
        import asyncio  # here, not at the top: see ``runner``

        text, owners = await both(runner(self.argv, timeout), asyncio.to_thread(self._owners.scan))
        return await asyncio.to_thread(self._finish, text, owners)

    def _finish(self, text: str, owners: SocketOwners | None) -> Collected:
        """Parse, then join and enrich the owners: CPU work, run in a thread off the event loop."""
        return self._owners.joined(_parsed(self._parse, text), owners)

    def collect_blocking(self, run: BlockingRunner, timeout: float, underway: Underway) -> Collected:
        """The command and the scan (the early start's when under way, else one in a thread), then the parse."""
        scan = self._owners.scan_underway(underway)
        if underway.run is not None and underway.run.argv == self.argv:
            text = underway.run.output(timeout)
        else:
            text = run(self.argv, timeout)
        if isinstance(scan, ScanInChild) and not scan.done():
            # The scan is still under way, in a process of its own: parse meanwhile, attach its owners after.
            return self._owners.joined(_parsed(self._parse, text), scan.result())
        return self._finish(text, scan.result())


class LiveCollector(TextCollector):
    """ss collected again and again: its text read by a ``LiveListing``, /proc rescanned incrementally."""

    def __init__(self, argv: tuple[str, ...], parse: Parse, setting: Setting) -> None:
        super().__init__(argv, parse, setting)
        self._scanner = IncrementalSocketScanner(setting.proc_root)
        self._reader = LiveListing()

    async def collect(self, runner: Runner, timeout: float) -> Collected:
        import asyncio  # here, not at the top: see ``runner``

        listing = runner(self.argv, timeout)
        if not self._scanner.primed:
            # The first scan reads everything anyway: beside the command, like netstat's. The records it gives
            # are the live reader's from the start, so that a view holds one copy of each, not two.
            text, owners = await both(listing, asyncio.to_thread(self._scanner.scan))
            return await asyncio.to_thread(self._read_live, text, owners)
        # From then on, the listing first: its inodes tell the scanner which cached fds it can trust.
        return await asyncio.to_thread(self._read_live, await listing, None)

    def _read_live(self, text: str, primed: SocketOwners | None) -> Collected:
        """Read a live view's tick: only the lines that changed, then /proc for only the fds that may have."""
        uid = os.geteuid()
        scanned: list[SocketOwners] = []
        owners_of = self._owners.live(self._scanner, primed, scanned, uid)

        with paused_gc():
            result, changes = self._reader.read(text, owners_of)
        release_free_memory()  # the tick's big transient blocks: see nettop.memory
        return result, _owner_notes(scanned[0] if scanned else None, uid), changes


class NetlinkCollector:
    """The kernel's socket table over netlink (``sources.sockdiag``): no command and no text. The owners come from
    the ``/proc`` scan as for ``ss``: all of it beside the first dump, then only the fds that may have changed,
    given the inodes the dump lists. A dump the kernel refuses raises ``SockDiagUnavailable`` (a CommandError),
    so that ``auto`` falls back to ``ss``."""

    blocking = True

    def __init__(self, setting: Setting) -> None:
        self._owners = ProcOwners(setting)
        self._wants = setting.wants
        self._scanner = IncrementalSocketScanner(setting.proc_root)
        self._meter = TrafficMeter()
        #: Not root: other users' sockets come without owners, so each socket's own cgroup (its id in the dump)
        #: says where it belongs. Root knows every owner's, and its dump skips the attributes that hold the id.
        self._cgroups = SocketCgroups(setting.enricher) if os.geteuid() != 0 else None
        self._netns_labels: dict[int, str] = {}
        self._live = LiveDump()

    async def collect(self, runner: Runner, timeout: float) -> Collected:
        import asyncio  # here, not at the top: see ``runner``

        traffic = self._wants.traffic  # asked for at each tick: the viewer's columns change
        if not self._scanner.primed:  # the first scan reads everything anyway: beside the dump
            received, owners = await both(
                asyncio.to_thread(self._received, traffic), asyncio.to_thread(self._scanner.scan)
            )
            return await asyncio.to_thread(self._read_live, received, traffic, owners)
        if self._wants.all_netns:
            received = await asyncio.to_thread(self._received, traffic)
        else:  # this namespace's dump, decoded as it comes in the same thread: never a whole dump in memory
            received = ([(sockdiag.stream(traffic), None, None)], time.monotonic(), ())
        return await asyncio.to_thread(self._read_live, received, traffic, None)

    def _received(self, with_info: bool) -> Received:
        """This namespace's dump (or every namespace's), with each one's interface names and label, when it was
        read, and notes (namespaces skipped)."""
        if not self._wants.all_netns:
            return [(sockdiag.receive(with_info), None, None)], time.monotonic(), ()
        everything = netns.receive_all(with_info=with_info)
        dumps = [
            (dump.received, dump.interfaces, None if namespace.own else self._netns_label(namespace))
            for namespace, dump in everything.dumps
        ]
        return dumps, time.monotonic(), everything.notes

    def _read_live(self, received: Received, traffic: bool, primed: SocketOwners | None) -> Collected:
        """A live view's tick, in a worker thread: the sockets that read as before keep their records; the fresh
        ones are owned by the primed scan (it ran blind, beside the first dump: it is told what the dump held), else
        by an incremental scan given the dump's inodes."""
        dumps, read_at, dump_notes = received
        cgroup_ids: dict[int, int] | None = {} if self._cgroups is not None else None
        uid = os.geteuid()
        scanned: list[SocketOwners] = []
        owners_of = self._owners.live(self._scanner, primed, scanned, uid)

        placed = None
        if self._cgroups is not None and cgroup_ids is not None:
            cgroups, ids = self._cgroups, cgroup_ids  # filled by the read, before any record is placed

            def placed(record: Connection) -> Connection:
                return cgroups.place(record, ids)

        with paused_gc():
            found, changes = self._live.read(dumps, traffic, read_at, owners_of, cgroup_ids, placed)
        release_free_memory()  # the tick's big transient blocks: see nettop.memory
        notes = (*dump_notes, *_owner_notes(scanned[0] if scanned else None, uid))
        return ParseResult(found, (), sockdiag.FORMAT), notes, changes

    def _dumped(self, received: sockdiag.Received | None = None, meter: TrafficMeter | None = None) -> Dumped:
        cgroup_ids: dict[int, int] | None = {} if self._cgroups is not None else None
        if not self._wants.all_netns:
            return _dumped(received, meter, cgroup_ids), cgroup_ids, ()
        dumps, read_at, notes = self._received(meter is not None)
        records: list[Connection] = []
        with paused_gc():  # a new record a socket: see _parsed
            for received, interfaces, label in dumps:
                records += sockdiag.records(received, meter is not None, cgroup_ids, interfaces, label)
            if meter is not None:
                records = meter.rated(records, read_at)
        return tuple(records), cgroup_ids, notes

    def _netns_label(self, namespace: netns.Namespace) -> str:
        """The namespace's ``ip netns`` name, else its container's (or pod's) name, else ``net:[inode]``; kept
        by inode: a namespace keeps its name while it lives."""
        label = self._netns_labels.get(namespace.inode)
        if label is None:
            if len(self._netns_labels) >= 4096:
                self._netns_labels.clear()
            label = self._netns_labels[namespace.inode] = netns.label(namespace, self._container_name)
        return label

    def _container_name(self, pid: int) -> str | None:
        placement = self._owners.setting.enricher.placement_of(pid)
        return place_name(placement) if placement is not None else None

    def _finished(self, dumped: Dumped, owners: SocketOwners | None) -> Collected:
        """The owners joined; a socket whose owners are unknown placed by its own cgroup (not root)."""
        records, cgroup_ids, dump_notes = dumped
        parsed, notes, changes = self._owners.joined(ParseResult(records, (), sockdiag.FORMAT), owners)
        if self._cgroups is not None and cgroup_ids:
            parsed = ParseResult(self._cgroups.placed(parsed.records, cgroup_ids), parsed.issues, parsed.format)
        return parsed, (*dump_notes, *notes), changes

    def collect_blocking(self, run: BlockingRunner, timeout: float, underway: Underway) -> Collected:
        """One dump, with the scan under way beside it (the early start's, else one in a thread)."""
        scan = self._owners.scan_underway(underway)
        # A refused dump raises here and leaves the scan under way, for the command that stands in.
        early, underway.dump = underway.dump, None
        wants = self._wants
        if not wants.traffic:  # the early dump is of this namespace alone: all of them are dumped now
            dumped = self._dumped(early.result() if early is not None and not wants.all_netns else None)
        else:  # the early dump did not ask for tcp_info: read the counts now, and again after the rates' window
            meter = self._meter
            if wants.rate_window > 0:
                _dumped(None, meter)
                time.sleep(wants.rate_window)
            dumped = self._dumped(None, meter)
        return self._finished(dumped, scan.result())


#: A dump's records, its sockets' cgroup ids by inode when they were asked for, and notes (namespaces skipped).
Dumped = tuple[tuple[Connection, ...], dict[int, int] | None, tuple[str, ...]]
#: A live tick's dumps (each with its namespace's interface names and label, None for this one's), when they were
#: read (a monotonic clock), and notes.
Received = tuple[list[tuple[sockdiag.Datagrams, dict[int, str] | None, str | None]], float, tuple[str, ...]]


def _dumped(
    received: sockdiag.Received | None = None,
    meter: TrafficMeter | None = None,
    cgroup_ids: dict[int, int] | None = None,
) -> tuple[Connection, ...]:
    """The records of a dump: ``received`` (the early start's), else one made now; with a ``meter``, the dump asks
    for tcp_info, and the records have their ``Traffic`` and rates. ``cgroup_ids`` is given the sockets' cgroup
    ids by inode."""
    if received is None:
        received = sockdiag.receive(with_info=meter is not None)
    read_at = time.monotonic()
    with paused_gc():  # a new record a socket: see _parsed
        if meter is None:
            return tuple(sockdiag.records(received, cgroup_ids=cgroup_ids))
        return tuple(meter.rated(sockdiag.records(received, True, cgroup_ids), read_at))


class SocketCgroups:
    """Where an ownerless socket belongs, from its own cgroup id: the id's path in the cgroup v2 tree, classified
    and named like an owner's (one ``Placement`` an id, cached)."""

    def __init__(self, enricher: Enricher, paths: CgroupPaths | None = None) -> None:
        self._enricher = enricher
        self._paths = paths if paths is not None else CgroupPaths()
        self._placements: dict[int, Placement | None] = {}

    def placed(self, records: tuple[Connection, ...], cgroup_ids: dict[int, int]) -> tuple[Connection, ...]:
        return tuple(self.place(record, cgroup_ids) for record in records)

    def place(self, record: Connection, cgroup_ids: dict[int, int]) -> Connection:
        """``record`` placed by its socket's cgroup when no owner of it is known; else as it is."""
        cgroup_id = cgroup_ids.get(record.inode) if not record.owners and record.inode is not None else None
        if cgroup_id is None:
            return record
        found = self._placements
        if cgroup_id not in found:
            if len(found) >= 4096:
                found.clear()
            path = self._paths.path(cgroup_id)
            found[cgroup_id] = self._enricher.placement_at(path) if path is not None else None
        placement = found[cgroup_id]
        return record if placement is None else record._replace(placement=placement)


def _parsed(parse: Parse, text: str) -> ParseResult:
    """``parse`` of ``text``, with the cycle collector paused (see ``gcpause``).

    A parse makes a record a socket and no cycles; with the collector on, its young-generation passes re-walk
    them: ss's parse of 20,000 lines takes 20,200 instructions a line with the collector on, 17,300 paused
    (callgrind, one-shot process), so the pause stays, here in the source that runs the formats rather than
    in each format.
    """
    with paused_gc():
        return parse(text)


def _owner_notes(owners: SocketOwners | None, uid: int) -> tuple[str, ...]:
    if uid != 0 and (owners is None or owners.denied):
        return ("not root: sockets of other users' processes are shown without owners",)
    if owners is not None and owners.denied:
        if owners.denied == 1:
            return ("1 process hides its fds even from root: a socket it holds is shown without owners",)
        return (f"{owners.denied} processes hide their fds even from root: their sockets are shown without owners",)
    return ()


def _netstat_parse(text: str) -> ParseResult:
    return netstat_linux.parse(text, wide=True)


LINUX_SS = command("linux", "ss").argv
LINUX_NETSTAT = command("linux", "netstat").argv

COMMANDS: dict[str, ListingCommand] = {
    "netlink": ListingCommand("netlink", sockdiag.ARGV, NetlinkCollector, runs_command=False),
    "ss": ListingCommand("ss", LINUX_SS, lambda setting: LiveCollector(LINUX_SS, ss.parse, setting)),
    "netstat": ListingCommand(
        "netstat", LINUX_NETSTAT, lambda setting: TextCollector(LINUX_NETSTAT, _netstat_parse, setting)
    ),
}
