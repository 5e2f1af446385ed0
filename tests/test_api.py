"""The Python API: what a script imports and calls."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import nettop
from nettop.model import Proto, State
from tests.conftest import read_text
from tests.sockets import open_loopback_sockets


def test_snapshot_parse_filter_export(tmp_path: Path) -> None:
    with open_loopback_sockets(tmp_path) as sockets:
        snap = nettop.snapshot()
        listener_port = sockets.port(sockets.tcp4_listener)
    assert snap.source in ("netlink", "ss", "netstat") and snap.duration > 0
    mine = nettop.filter_records(snap.records, pid=os.getpid(), listening=True, proto="tcp")
    assert {(r.local_ip, r.local_port) for r in mine} >= {("127.0.0.1", listener_port)}
    rows = json.loads(nettop.to_json(mine))
    assert {row["pid"] for row in rows} == {os.getpid()}
    assert next(iter(csv.DictReader(io.StringIO(nettop.to_csv(mine)))))["pid"] == str(os.getpid())


async def test_snapshot_async_is_the_same_core(tmp_path: Path) -> None:
    with open_loopback_sockets(tmp_path) as sockets:
        snap = await nettop.snapshot_async(source="ss")
        udp_port = sockets.port(sockets.udp_bound)
    udp = nettop.filter_records(snap.records, port=udp_port, state="unconnected")
    assert [(r.proto, r.state, r.pid) for r in udp] == [(Proto.UDP, State.UNCONNECTED, os.getpid())]


def test_parse_detects_the_format(corpus: Path) -> None:
    result = nettop.parse(read_text(corpus / "debian12" / "netstat-tunapW.out"))
    assert result.format == "netstat-linux" and result.issues == ()
    waiting = nettop.filter_records(result.records, state=["time-wait", "close-wait"])
    assert sorted(r.local_port for r in waiting) == [8080, 39468, 39484]


def test_version_is_exposed() -> None:
    assert nettop.__version__.count(".") == 2
