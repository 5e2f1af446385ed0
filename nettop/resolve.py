"""Reverse DNS of remote addresses, never on the caller's time: the viewer's names (``--resolve``, ``n``) and
``nettop list --resolve``.

``Resolver.name(ip)`` answers from a cache at once, or says None (show the number) and queues a lookup for a
few threads of the resolver's own. Names that arrive are told to ``on_resolved`` (called in a resolver thread;
``take_arrived`` says which addresses), so a viewer repaints only the rows they are on.

``socket.gethostbyaddr`` blocks, sometimes for seconds when a DNS server does not answer, and cannot be
cancelled. So: a lookup that outlives ``timeout`` counts as failed (the negative cache, retried after
``negative_ttl``), and its answer is still cached if one comes late; its thread is replaced while it hangs, up
to twice ``workers`` threads in all, so hung lookups neither starve the others for long nor grow the pool
without bound. The threads are daemons of the resolver's own, not a ``ThreadPoolExecutor``'s: the interpreter
joins those at exit, and one hung lookup would hold ``nettop list`` open.

A name is other machines' text (a PTR record may hold escapes or ``[bold]``): it is kept exact here, and made
safe where it is shown, as every other such text is (``nettop.text.safe``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

#: How a name is looked up: ``socket.gethostbyaddr``'s shape, (name, aliases, addresses); OSError when none.
Lookup = Callable[[str], tuple[str, Any, Any]]
#: No DNS name is longer (RFC 1035); anything longer is cut, so that a hostile answer cannot grow the cache.
MAX_NAME = 253


@lru_cache(maxsize=4096)
def lookable(ip: str | None) -> bool:
    """Whether ``ip`` is an address worth asking about: not a wildcard (None, ``0.0.0.0``, ``::``), and an
    address at all (some tools print names already, or ``*``)."""
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not address.is_unspecified


class Resolver:
    """A cache of reverse-DNS names in front of a small pool of lookup threads. Thread-safe."""

    def __init__(
        self,
        workers: int = 4,
        timeout: float = 2.0,
        ttl: float = 600.0,
        negative_ttl: float = 30.0,
        lookup: Lookup = socket.gethostbyaddr,
        clock: Callable[[], float] = time.monotonic,
        on_resolved: Callable[[], object] | None = None,
        max_entries: int = 4096,
    ) -> None:
        self.workers, self.timeout, self.ttl, self.negative_ttl = workers, timeout, ttl, negative_ttl
        self._lookup, self._clock, self._max_entries = lookup, clock, max_entries
        #: Told, in a resolver thread, when names arrived and none were waiting to be taken (one call a batch).
        self.on_resolved = on_resolved
        #: ip -> (name or None for "none", when that answer expires), least recently used first.
        self._cache: OrderedDict[str, tuple[str | None, float]] = OrderedDict()
        #: Queued or being looked up: each address at most once in flight.
        self._pending: set[str] = set()
        self._queue: deque[str] = deque()
        #: ip -> when its lookup started, for the lookups under way; ``_hung`` are those past the timeout.
        self._started: dict[str, float] = {}
        self._hung: set[str] = set()
        self._arrived: set[str] = set()
        #: Whether ``on_resolved`` was called since the last ``take_arrived``: one call a batch, however many
        #: names come before the UI takes them.
        self._told = False
        self._threads = 0
        self._closed = False
        self._lock = threading.Condition()

    # --- asking -------------------------------------------------------------------------------

    def name(self, ip: str | None) -> str | None:
        """The name of ``ip`` if known now; else None, and a lookup is queued (unless one is under way, or the
        address failed within ``negative_ttl``). A name past its ``ttl`` is still given while it is looked up
        again. Never blocks on a lookup."""
        if ip is None or not lookable(ip):
            return None
        with self._lock:
            now = self._clock()
            if self._started:
                self._mark_hung(now)
            if self._queue:
                self._grow()
            entry = self._cache.get(ip)
            if entry is not None:
                self._cache.move_to_end(ip)
                if now < entry[1]:
                    return entry[0]
            if ip not in self._pending and not self._closed and len(self._pending) < self._max_entries:
                self._pending.add(ip)
                self._queue.append(ip)
                self._grow()
                self._lock.notify()
            return entry[0] if entry is not None else None

    def take_arrived(self) -> set[str]:
        """The addresses whose shown name changed since the last call (a name came, or went)."""
        with self._lock:
            arrived, self._arrived = self._arrived, set()
            self._told = False
            return arrived

    def resolve_all(self, ips: Iterable[str | None], deadline: float) -> dict[str, str]:
        """Look up every address and wait for the answers until ``deadline`` (on the resolver's clock): the names
        found by then, by address. For one-shot listings; what is not resolved by then stays a number."""
        wanted = {ip for ip in ips if ip is not None and lookable(ip)}
        for ip in wanted:
            self.name(ip)
        with self._lock:
            waiting = wanted & self._pending
            while waiting:
                now = self._clock()
                if now >= deadline:
                    break
                # Wake when the next lookup under way would hang too: its thread is then replaced.
                self._mark_hung(now)
                self._grow()
                hangs = [started + self.timeout for ip, started in self._started.items() if ip not in self._hung]
                self._lock.wait(min(min([deadline, *hangs]) - now, threading.TIMEOUT_MAX))
                waiting &= self._pending
            cache = self._cache
            return {ip: name for ip in wanted if ip in cache and (name := cache[ip][0]) is not None}

    def close(self) -> None:
        """Stop: nothing more is looked up. Does not wait for lookups under way (their threads are daemons and
        end when their lookup returns)."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            self._pending.intersection_update(self._started)
            self._lock.notify_all()

    # --- the pool (every method below runs with the lock held, but ``_work``) -------------------

    def _mark_hung(self, now: float) -> None:
        """Lookups past the timeout fail now: the negative cache says so until their answer comes, if it does."""
        for ip, started in self._started.items():
            if ip not in self._hung and now - started >= self.timeout:
                self._hung.add(ip)
                # Told to nobody: this runs in the caller's thread, which is drawing already.
                self._store(ip, None, now, telling=False)

    def _grow(self) -> None:
        """One more thread when the queue has work no idle thread will take, while fewer than ``workers`` are
        not hung, and never more than twice ``workers`` in all."""
        while True:
            idle = self._threads - len(self._started)
            live = self._threads - len(self._hung)
            if not (len(self._queue) > idle and live < self.workers and self._threads < 2 * self.workers):
                return
            self._threads += 1
            try:
                threading.Thread(target=self._work, name="nettop-resolve", daemon=True).start()
            except RuntimeError:  # no more threads to be had: the ones there are will do
                self._threads -= 1
                return

    def _work(self) -> None:
        try:
            while True:
                with self._lock:
                    while not self._queue and not self._closed:
                        self._lock.wait()
                    if self._closed:
                        return
                    ip = self._queue.popleft()
                    self._started[ip] = self._clock()
                name = self._ask(ip)
                with self._lock:
                    del self._started[ip]
                    self._hung.discard(ip)
                    self._pending.discard(ip)
                    tell = self._store(ip, name, self._clock())
                    self._lock.notify_all()  # resolve_all waits on it
                    leave = self._threads > self.workers  # a replacement took this one's place while it hung
                if tell and self.on_resolved is not None:
                    self.on_resolved()
                if leave:
                    return
        finally:
            with self._lock:
                self._threads -= 1

    def _ask(self, ip: str) -> str | None:
        try:
            name = self._lookup(ip)[0]
        except Exception:  # herror, gaierror, a timeout, or a broken lookup: the address stays a number
            return None
        if not isinstance(name, str) or not name or name == ip:
            return None
        return name[:MAX_NAME]

    def _store(self, ip: str, name: str | None, now: float, telling: bool = True) -> bool:
        """Cache an answer; True when it changes what is shown and ``on_resolved`` is to be told now."""
        old = self._cache.pop(ip, None)
        self._cache[ip] = (name, now + (self.ttl if name is not None else self.negative_ttl))
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        if (old[0] if old is not None else None) == name:
            return False
        self._arrived.add(ip)
        if not telling or self._told:
            return False
        self._told = True
        return True


def resolve_once(ips: Iterable[str | None], seconds: float, workers: int = 8) -> dict[str, str]:
    """The names of ``ips`` found within ``seconds`` (``nettop list --resolve``); the rest stay numbers."""
    # A lookup hung for half the time is given up on, so that its thread's replacement can do the rest.
    resolver = Resolver(workers=workers, timeout=seconds / 2)
    try:
        return resolver.resolve_all(ips, time.monotonic() + seconds)
    finally:
        with contextlib.suppress(Exception):
            resolver.close()
