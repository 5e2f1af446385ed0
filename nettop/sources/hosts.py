"""Several remote hosts as one source (``--host web1,web2``): each host's refresh runs at once, on its own deadline
(``sources.remote``), and their records are one snapshot, each record saying its host.

A host that fails or hangs does not hold the others back, nor empty the screen of its sockets: its last records
stay, and the snapshot names it (``Snapshot.stale``, and a note ``HOST: …`` with why, and since when), until it
answers again. Only when every host fails does the collection fail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from nettop.errors import NettopError
from nettop.model import Connection, Snapshot
from nettop.sources.remote import RemoteSource, collect_and_close

#: How long a live view's collection waits for a host before showing its last rows (``HostsSource.patience``), and
#: how long a host may be late before it is said stale (a busy host's refresh may take longer than the wait).
LIVE_PATIENCE, LATE_GRACE = 0.5, 3.0


class HostsSource:
    """The hosts' sources, collected together."""

    def __init__(
        self, sources: Sequence[RemoteSource], patience: float | None = None, grace: float = LATE_GRACE
    ) -> None:
        self.sources = list(sources)
        self.hosts = [source.host for source in self.sources]
        self.name = "ssh:" + ",".join(source.host for source in self.sources)
        #: How long a collection waits for the hosts (None: for every one, as ``list`` and ``check`` must). A live
        #: view waits a second: a host slower than that keeps its last rows, marked, and its refresh goes on in
        #: the background, to be taken by a later collection; the others are never held to its pace.
        self.patience = patience
        self.grace = grace
        #: Each host's last good snapshot, since when it has failed or not answered, and its refresh under way.
        self._last: dict[str, Snapshot] = {}
        self._failing_since: dict[str, float] = {}
        self._running: dict[str, asyncio.Task[Snapshot]] = {}

    async def collect(self) -> Snapshot:
        started, clock = time.time(), time.perf_counter()
        for source in self.sources:
            if source.host not in self._running:
                self._running[source.host] = asyncio.ensure_future(source.collect())
        await asyncio.wait(self._running.values(), timeout=self.patience)
        records, issues, notes, stale, errors = [], [], [], [], []
        for source in self.sources:
            host = source.host
            task = self._running[host]
            if not task.done():  # still under way: its last rows stay (marked once it is late) until it answers
                since = self._failing_since.setdefault(host, started)
                if started - since < self.grace:
                    last = self._last.get(host)
                    records += last.records if last is not None else ()
                else:
                    records += self._stale(host, f"no answer for {started - since:.0f} s yet", since, stale, notes)
                continue
            del self._running[host]
            error = task.exception()
            if isinstance(error, NettopError):
                errors.append(str(error))
                since = self._failing_since.setdefault(host, started)
                records += self._stale(host, str(error).removeprefix(f"{host}: "), since, stale, notes)
                continue
            if error is not None:
                raise error
            result = task.result()
            self._failing_since.pop(host, None)
            self._last[host] = result
            records += result.records
            issues += result.issues
            notes += result.notes
        if len(errors) == len(self.sources):
            raise NettopError("no host answered: " + "; ".join(errors))
        return Snapshot(tuple(records), started, time.perf_counter() - clock, self.name, tuple(issues),
                        tuple(notes), stale=tuple(stale))  # fmt: skip

    def _stale(
        self, host: str, reason: str, since: float, stale: list[str], notes: list[str]
    ) -> tuple[Connection, ...]:
        """A host that failed or has not answered: named stale, said why, and its last rows (if any) kept: a host
        that hangs must not look like one that emptied."""
        stale.append(host)
        last = self._last.get(host)
        if last is None:
            notes.append(f"{host}: {reason}")
            return ()
        when = time.strftime("%H:%M:%S", time.localtime(since))
        notes.append(f"{host}: STALE since {when}: {reason}")
        return last.records

    async def close(self) -> None:
        for task in self._running.values():
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        self._running.clear()
        await asyncio.gather(*(source.close() for source in self.sources), return_exceptions=True)

    def shutdown(self) -> None:
        for source in self.sources:
            source.shutdown()

    def collect_blocking(self) -> Snapshot:
        """One snapshot of every host, then everything closed: ``nettop list --host a,b``."""
        return collect_and_close(self)
