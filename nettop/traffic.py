"""Rates from the kernel's byte counts: each TCP socket's ``Traffic`` now against the last time it was seen.

A socket is known by its inode between collections, never by its two ends: a closed connection's 4-tuple comes
back with the next one, and its counts would read as a burst, or as bytes flowing backwards. A socket without an
inode (closed by its process, still sending its last bytes) has counts and no rates. Counts that went down belong
to another socket that took the inode: it starts again, without rates.
"""

from __future__ import annotations

from collections.abc import Iterable

from nettop.model import Connection, new_connection

#: What a socket's counts were when it was last seen: when, bytes in, bytes out.
_Sample = tuple[float, int | None, int | None]


class TrafficMeter:
    """Gives records their rates, from one collection to the next. Not thread-safe: one collector owns it."""

    def __init__(self) -> None:
        self._last: dict[int, _Sample] = {}

    def rated(self, records: Iterable[Connection], now: float) -> list[Connection]:
        """``records`` with each counted socket's ``rate_in`` and ``rate_out`` (bytes a second since it was last
        given here), and remembered for the next call; ``now`` is when they were read (a monotonic clock)."""
        last, seen = self._last, {}
        out: list[Connection] = []
        append, new = out.append, new_connection
        for record in records:
            traffic, inode = record.traffic, record.inode
            if traffic is None or inode is None:
                append(record)
                continue
            bytes_in, bytes_out = traffic.bytes_in, traffic.bytes_out
            seen[inode] = (now, bytes_in, bytes_out)
            before = last.get(inode)
            if before is not None and now > before[0]:
                elapsed = now - before[0]
                rate_in = _rate(before[1], bytes_in, elapsed)
                rate_out = _rate(before[2], bytes_out, elapsed)
                if rate_in is not None or rate_out is not None:
                    traffic = traffic._replace(rate_in=rate_in, rate_out=rate_out)
                    record = new((*record[:20], traffic, *record[21:]))
            append(record)
        self._last = seen
        return out


def _rate(before: int | None, now: int | None, elapsed: float) -> int | None:
    if before is None or now is None or now < before:
        return None
    return round((now - before) / elapsed)
