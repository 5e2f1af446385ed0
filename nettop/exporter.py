"""``nettop exporter``: the metrics of ``nettop.metrics`` served over HTTP for Prometheus to scrape.

Each scrape collects afresh, as node_exporter does (a scrape says what is true now, and Prometheus sets the pace),
but one collection at a time: a scrape that arrives while one runs waits for it and shares it, and so do the
scrapes of the next ``FRESH_FOR`` seconds (two Prometheus servers scraping one host). The live source is kept
between scrapes, so its /proc scan stays incremental. prometheus_client serves (its threaded WSGI server).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import Metric
from prometheus_client.exposition import start_wsgi_server
from prometheus_client.registry import Collector, CollectorRegistry

from nettop.errors import NettopError
from nettop.metrics import Collection, families_of

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from nettop.model import Source
    from nettop.policy.check import CheckReport
    from nettop.policy.rules import Policy

#: A collection this recent answers the next scrape too.
FRESH_FOR = 1.0
DEFAULT_LISTEN = "127.0.0.1:9717"
#: Seconds the source has to close its sessions when the exporter stops.
CLOSE_WITHIN = 5.0


class ScrapeCollector(Collector):
    """prometheus_client's collector: collects from ``source`` when scraped (see the module's text)."""

    def __init__(
        self,
        source: Source,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.monotonic,
        hosts: tuple[str, ...] = (),
    ) -> None:
        """``hosts``: the remote hosts ``source`` reads (``--host``), each checked on its own; empty: this machine."""
        self.source = source
        self._policy = policy
        self._hosts = hosts
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Collection | None = None
        self._at = 0.0
        self.errors = 0
        # The source's collect is a coroutine, and a live source belongs to one event loop: its own, in a thread.
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nettop-collect", daemon=True)
        self._thread.start()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._last is None or self._clock() - self._at >= FRESH_FOR:
                self._last = self._collect_now()
                self._at = self._clock()
            last = self._last
        return iter(families_of(last))

    def _collect_now(self) -> Collection:
        try:
            snapshot = asyncio.run_coroutine_threadsafe(self.source.collect(), self._loop).result()
        except NettopError as error:
            self.errors += 1
            return Collection(None, errors=self.errors, error=str(error), hosts=self._hosts)
        reports: tuple[CheckReport, ...] = ()
        if self._policy is not None and self._hosts:
            from nettop.policy.check import host_report

            reports = tuple(host_report(self._policy, snapshot, host) for host in self._hosts)
        elif self._policy is not None:
            from nettop.policy.check import evaluate

            reports = (evaluate(self._policy, snapshot.records, snapshot.source),)
        return Collection(snapshot, reports, self.errors, hosts=self._hosts)

    def close(self) -> None:
        """Close the source in its loop (remote hosts' sessions: their pipes must close while it runs), then stop
        the loop. What does not close in time is left to the source's ``shutdown``, which needs no loop."""
        close = getattr(self.source, "close", None)
        if close is not None and self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(close(), self._loop).result(CLOSE_WITHIN)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9717`` for IPv6) as a host and a port; ValueError with what is wrong."""
    host, colon, port = text.rpartition(":")
    if not colon or not host:
        raise ValueError(f"{text!r} is not HOST:PORT (say 127.0.0.1:9717)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{port!r} is not a port (1 to 65535)")
    return host, int(port)


def serve(collector: ScrapeCollector, host: str, port: int) -> WSGIServer:
    """Serve the collector's metrics at ``http://host:port/metrics`` in a thread; OSError when the address is
    taken or not this machine's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    server, _ = start_wsgi_server(port, host, registry)
    return server
