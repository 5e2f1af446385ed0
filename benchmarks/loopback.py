"""Live loopback connections for benchmarks: child processes that open, hold and churn them.

Each child holds at most 4,000 client/server pairs on 127.0.0.1 (far from its fd limit). With a churn
rate, every second it closes that share of its pairs and opens as many new ones. Children end when told
to, or by themselves after ten minutes, so a crashed benchmark leaves nothing behind for long.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import random
import socket
from collections.abc import Iterator
from multiprocessing.synchronize import Event

PER_CHILD = 4000
LIFETIME = 600.0


def _pair(server: socket.socket, port: int) -> tuple[socket.socket, socket.socket]:
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    return client, accepted


def _hold(count: int, churn: float, ready: mp.Queue, stop: Event) -> None:  # type: ignore[type-arg]
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4096)
    port = server.getsockname()[1]
    pairs = [_pair(server, port) for _ in range(count)]
    ready.put(count)
    per_second = round(count * churn)
    waited = 0.0
    while not stop.wait(1.0) and waited < LIFETIME:
        waited += 1.0
        for index in random.sample(range(count), per_second):
            for sock in pairs[index]:
                sock.close()
            pairs[index] = _pair(server, port)
    for pair in pairs:
        for sock in pair:
            sock.close()


@contextlib.contextmanager
def loopback_connections(n: int, churn: float = 0.0) -> Iterator[int]:
    """Open ``n`` connections (2n sockets) for the duration of the block; yield how many are open."""
    ready: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    stop = mp.Event()
    children = []
    left = n
    while left > 0:
        count = min(PER_CHILD, left)
        left -= count
        child = mp.Process(target=_hold, args=(count, churn, ready, stop), daemon=True)
        child.start()
        children.append(child)
    try:
        yield sum(ready.get(timeout=300) for _ in children)
    finally:
        stop.set()
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
