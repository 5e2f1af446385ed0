"""A scripted source and a settable clock, so the viewer can be driven through known snapshots; and the short
listings that fake ``ss`` and ``netstat`` commands print in the tests of sources and faults."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from nettop.errors import NettopError
from nettop.model import Connection, Owner, OwnerStatus, Proto, Snapshot, State


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ScriptedSource:
    """Hands out the given snapshots (or raises the given errors) one per collection; then repeats the last."""

    name = "scripted"

    def __init__(
        self, script: Sequence[Sequence[Connection] | NettopError], clock: FakeClock, source_name: str = "scripted"
    ) -> None:
        self.script = list(script)
        self.clock = clock
        #: What the snapshots say they came from (``netlink`` for a viewer that shows traffic columns).
        self.source_name = source_name
        self.collected = 0
        self.step = asyncio.Event()

    async def collect(self) -> Snapshot:
        item = self.script[min(self.collected, len(self.script) - 1)]
        self.collected += 1
        self.step.set()
        if isinstance(item, NettopError):
            raise item
        return Snapshot(tuple(item), self.clock(), 0.012, self.source_name)


async def first_snapshot(pilot: Any, app: Any) -> None:
    """Wait (a second at most) until the viewer ``app`` shows its first snapshot, then let it settle."""
    for _ in range(100):
        if app.snapshot is not None:
            break
        await pilot.pause(0.01)
    await pilot.pause()


def conn(
    local_port: int,
    remote_port: int | None = None,
    *,
    proto: Proto = Proto.TCP,
    state: State | None = None,
    pid: int | None = 100,
    name: str = "app",
    user: str = "alice",
    local_ip: str = "127.0.0.1",
    remote_ip: str | None = None,
    family: int = 4,
) -> Connection:
    """A hand-made record: a listener when no remote port is given."""
    if state is None:
        unconnected = State.LISTEN if proto is Proto.TCP else State.UNCONNECTED
        state = unconnected if remote_port is None else State.ESTABLISHED
    if remote_port is not None and remote_ip is None:
        remote_ip = local_ip
    owners = (Owner(pid, name, user, (name, "--serve"), 1_700_000_000.0),) if pid is not None else ()
    return Connection(
        proto, family, local_ip, local_port, remote_ip, remote_port, state, owners,
        OwnerStatus.KNOWN if owners else OwnerStatus.NO_PROCESS, source="scripted",
        raw=f"{proto.value} {state.value} {local_ip}:{local_port}",
    )  # fmt: skip


#: One listener, as `ss -tunae` and `netstat -tunaeW` print it.
SS_TEXT = """\
Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
tcp   LISTEN 0      5          127.0.0.1:8080      0.0.0.0:*     ino:0 sk:1 <->
"""
NETSTAT_TEXT = """\
Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       User       Inode
tcp        0      0 127.0.0.1:8081          0.0.0.0:*               LISTEN      0          0
"""
