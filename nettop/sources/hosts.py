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
from nettop.model import Snapshot
from nettop.sources.remote import RemoteSource, collect_and_close


class HostsSource:
    """The hosts' sources, collected together."""

    def __init__(self, sources: Sequence[RemoteSource]) -> None:
        self.sources = list(sources)
        self.hosts = [source.host for source in self.sources]
        self.name = "ssh:" + ",".join(source.host for source in self.sources)
        #: Each host's last good snapshot, and since when it has failed (None: it answers).
        self._last: dict[str, Snapshot] = {}
        self._failing_since: dict[str, float] = {}

    async def collect(self) -> Snapshot:
        started, clock = time.time(), time.perf_counter()
        results = await asyncio.gather(*(source.collect() for source in self.sources), return_exceptions=True)
        records, issues, notes, stale, errors = [], [], [], [], []
        for source, result in zip(self.sources, results, strict=True):
            host = source.host
            if isinstance(result, NettopError):
                errors.append(str(result))
                reason = str(result).removeprefix(f"{host}: ")
                since = self._failing_since.setdefault(host, started)
                stale.append(host)
                last = self._last.get(host)
                if last is not None:  # its rows stay, marked: a host that hangs must not look like one that emptied
                    records += last.records
                    when = time.strftime("%H:%M:%S", time.localtime(since))
                    notes.append(f"{host}: STALE since {when}: {reason}")
                else:
                    notes.append(f"{host}: {reason}")
                continue
            if isinstance(result, BaseException):
                raise result
            self._failing_since.pop(host, None)
            self._last[host] = result
            records += result.records
            issues += result.issues
            notes += result.notes
        if len(errors) == len(self.sources):
            raise NettopError("no host answered: " + "; ".join(errors))
        return Snapshot(tuple(records), started, time.perf_counter() - clock, self.name, tuple(issues),
                        tuple(notes), stale=tuple(stale))  # fmt: skip

    async def close(self) -> None:
        await asyncio.gather(*(source.close() for source in self.sources), return_exceptions=True)

    def shutdown(self) -> None:
        for source in self.sources:
            source.shutdown()

    def collect_blocking(self) -> Snapshot:
        """One snapshot of every host, then everything closed: ``nettop list --host a,b``."""
        return collect_and_close(self)
