"""nettop's Python API: take a snapshot, parse captured text, filter records, export them.

    >>> import nettop
    >>> snap = nettop.snapshot()                      # or: await nettop.snapshot_async()
    >>> listeners = nettop.filter_records(snap.records, listening=True, proto="tcp")
    >>> print(nettop.to_json(listeners))

The CLI is built on these same functions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable

from nettop.events import Event
from nettop.events import watch as _watch
from nettop.formats import parse_text
from nettop.model import Connection, ParseResult, Snapshot
from nettop.query import Query, parse_query, query_from
from nettop.query import filter_records as _apply
from nettop.runner import DEFAULT_TIMEOUT
from nettop.snapshots import SnapshotDiff, diff_records
from nettop.sources import platform_source
from nettop.writers.csv import to_csv
from nettop.writers.json import to_json

__all__ = ["diff", "filter_records", "parse", "snapshot", "snapshot_async", "to_csv", "to_json", "watch"]


async def snapshot_async(source: str = "auto", timeout: float = DEFAULT_TIMEOUT) -> Snapshot:
    """Take one snapshot of this machine's sockets (``source``: auto, ss or netstat)."""
    return await platform_source(source, timeout=timeout).collect()


def snapshot(source: str = "auto", timeout: float = DEFAULT_TIMEOUT) -> Snapshot:
    """Blocking form of ``snapshot_async``, for scripts without an event loop (it runs none of its own)."""
    return platform_source(source, timeout=timeout).collect_blocking()


def watch(
    interval: float = 2.0,
    source: str = "auto",
    keep: Callable[[Connection], bool] | None = None,
    on_baseline: Callable[[Snapshot], None] | None = None,
    *,
    query: str | Query = "",
    **conditions: object,
) -> AsyncIterator[Event]:
    """Events as this machine's connections open, close or change (``async for event in nettop.watch()``);
    the first snapshot is the baseline (``on_baseline`` is given it). Which connections: those that meet
    ``query`` and the keyword ``conditions``, as in ``filter_records`` (``nettop.watch(port=443)``), and
    ``keep`` if given (any predicate, for what the filter language cannot say). A wrong value raises
    ValueError before anything runs."""
    wanted = _selection(query, conditions)
    if wanted.is_empty:
        chosen = keep
    elif keep is None:
        chosen = wanted.matches
    else:
        also = keep
        chosen = lambda record: wanted.matches(record) and also(record)  # noqa: E731
    return _watch(platform_source(source), interval, chosen, on_baseline)


def diff(before: Iterable[Connection], after: Iterable[Connection]) -> SnapshotDiff:
    """What opened, closed and changed (state, owner) between two lists of records."""
    return diff_records(before, after)


def parse(text: str, format: str = "auto") -> ParseResult:
    """Parse captured output of ss or netstat; the format is detected unless named."""
    return parse_text(text, format)


def filter_records(records: Iterable[Connection], query: str | Query = "", **conditions: object) -> list[Connection]:
    """Keep the records that meet the query (the viewer's filter language, ``"port:https -state:listen"``) and
    every condition given by keyword; the keywords are the flags of ``nettop list`` (``nettop.query.TERMS``):
    ``proto="tcp"``, ``state="listen"`` (or a list: any of them), ``port=443`` (or ``"https"``, ``"80,443"``;
    local or remote), ``pid=1234``, ``program="nginx"`` (the exact name), ``listening=True``, ``family=4``,
    and any other term's flag. A wrong value raises ValueError with the message the CLI and the viewer give."""
    return _apply(records, _selection(query, conditions))


def _selection(query: str | Query, conditions: dict[str, object]) -> Query:
    typed = parse_query(query) if isinstance(query, str) else query
    return Query.of((*typed.terms, *query_from(conditions).terms))
