"""Linux's listing commands (``ss``, then ``netstat``), and the live reading of ``ss`` text.

Both are asked for inodes (``ss -tunae``, ``netstat -tunaeW``, from ``formats.registry``), and the owners come
from a ``/proc`` scan joined by inode after the parse (``owners``): ``-p`` costs both tools a quadratic walk
that triples their time at 20,000 sockets. A source collected again and again (the live viewer's ticks) reads
only the ``ss`` lines that changed (``LiveListing``) and then rescans only the fds that may have changed, given
the inodes listed (``owners.procfs.IncrementalSocketScanner``). A native netlink source is one more entry in
``LINUX_COMMANDS``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from nettop.formats import netstat_linux, ss
from nettop.formats.common import text_lines
from nettop.formats.registry import command
from nettop.model import Connection, OwnerResolver, ParseResult
from nettop.sources.command import ListingCommand

#: For each live socket inode: its owners and why they are what they are (see ``OwnerResolver``); and the
#: inodes whose holders changed since the last call (None: any may have).
LiveOwners = Callable[[set[int]], tuple[OwnerResolver, Collection[int] | None]]
#: The records that went and the records that came, a changed line being in both.
LineChanges = tuple[list[Connection], list[Connection]]


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


def _reowned(record: Connection, owners_for: OwnerResolver) -> Connection:
    """A remembered record with its owners asked for again; the same record when they did not change."""
    owners, status = owners_for(record.inode, record.state, record.uid)
    if owners == record.owners and status is record.owner_status:
        return record
    return record._replace(owners=owners, owner_status=status)


LINUX_SS = command("linux", "ss").argv
LINUX_NETSTAT = command("linux", "netstat").argv

COMMANDS: dict[str, ListingCommand] = {
    "ss": ListingCommand("ss", LINUX_SS, ss.parse, owners_from_proc=True, live_reader=LiveListing),
    "netstat": ListingCommand(
        "netstat", LINUX_NETSTAT, lambda text: netstat_linux.parse(text, wide=True), owners_from_proc=True
    ),
}
