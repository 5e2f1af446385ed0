"""Rates from the kernel's byte counts: each TCP socket's ``Traffic`` now against the last time it was seen.

A socket is known by its inode between collections, never by its two ends: a closed connection's 4-tuple comes
back with the next one, and its counts would read as a burst, or as bytes flowing backwards. A socket without an
inode (closed by its process, still sending its last bytes) has counts and no rates. Counts that went down belong
to another socket that took the inode: it starts again, without rates.

``nettop list --rates`` reads the counts twice, a second apart, through this meter. The live view does not: its
decoder (``sockdiag.LiveDecoder``) rates the sockets whose counts moved, by their identity in the kernel's
messages, as it reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MethodType

from nettop.model import Connection, Traffic, new_connection

#: A socket as it was last seen: when, bytes in and out, the record as read (rates unknown) and as handed out.
_Sample = tuple[float, int | None, int | None, Connection, Connection]
#: A Traffic from a tuple of its 6 fields, without NamedTuple's Python-level ``__new__`` (see ``new_connection``).
_new_traffic = MethodType(tuple.__new__, Traffic)


class TrafficMeter:
    """Gives records their rates, from one collection to the next. Not thread-safe: one collector owns it."""

    def __init__(self) -> None:
        self._last: dict[int, _Sample] = {}

    def rated(self, records: Iterable[Connection], now: float) -> list[Connection]:
        """``records`` with each counted socket's ``rate_in`` and ``rate_out`` (bytes a second since it was last
        given here), and remembered for the next call; ``now`` is when they were read (a monotonic clock)."""
        last, seen = self._last, {}
        out: list[Connection] = []
        append, new, new_traffic = out.append, new_connection, _new_traffic
        # One tight loop, every call inlined: it runs for each of a busy server's connections at every tick.
        for record in records:
            traffic, inode = record[20], record[12]  # traffic, inode
            if traffic is None or inode is None:
                append(record)
                continue
            bytes_in, bytes_out, rtt, retransmits, _, _ = traffic
            before = last.get(inode)
            if before is not None and before[3] == record and before[4][20][4:] == (0, 0):
                # Idle, and said so already: the record handed out last time is still true (and an unchanged
                # record is found unchanged at once downstream).
                seen[inode] = (now, bytes_in, bytes_out, record, before[4])
                append(before[4])
                continue
            read = record
            if before is not None and now > before[0]:
                elapsed = now - before[0]
                was_in, was_out = before[1], before[2]
                # None where a count is unknown, or went down (the inode is another socket's now).
                rate_in = (
                    None
                    if was_in is None or bytes_in is None or bytes_in < was_in
                    else round((bytes_in - was_in) / elapsed)
                )
                rate_out = (
                    None
                    if was_out is None or bytes_out is None or bytes_out < was_out
                    else round((bytes_out - was_out) / elapsed)
                )
                if rate_in is not None or rate_out is not None:
                    traffic = new_traffic((bytes_in, bytes_out, rtt, retransmits, rate_in, rate_out))
                    record = new((*record[:20], traffic, *record[21:]))
            seen[inode] = (now, bytes_in, bytes_out, read, record)
            append(record)
        self._last = seen
        return out
