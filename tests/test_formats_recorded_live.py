"""The exact formats nettop runs live (`ss -tunae`, `netstat -tunaeW`), recorded here with known sockets.

The files come from `tests/data/record.py`; `manifest.json` lists each socket opened, with its inode.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nettop.formats import parse_text
from nettop.model import Connection, OwnerStatus
from tests.conftest import DATA, read_text

RECORDED = DATA / "debian12-nettop"
MANIFEST = json.loads((RECORDED / "manifest.json").read_text())


def by_inode(path: Path) -> dict[int, Connection]:
    result = parse_text(read_text(path))
    assert result.issues == ()
    return {r.inode: r for r in result.records if r.inode is not None}


@pytest.mark.parametrize("name", ["ss-tunae.out", "netstat-tunaeW.out"])
def test_each_recorded_socket_is_read_exactly(name: str) -> None:
    records = by_inode(RECORDED / name)
    for sock in MANIFEST:
        record = records[sock["inode"]]
        remote = (record.remote_ip, record.remote_port) if record.remote_ip is not None else None
        assert record.proto.value == sock["proto"], sock["role"]
        assert [record.local_ip, record.local_port] == sock["local"], sock["role"]
        assert (list(remote) if remote else None) == sock["remote"], sock["role"]
        assert record.state.value == sock["state"], sock["role"]
        assert record.family == (6 if ":" in sock["local"][0] else 4)
        assert record.uid == 0 and not record.truncated
        assert record.owner_status is OwnerStatus.NOT_REPORTED  # no -p: owners come from /proc live


def test_both_tools_see_the_same_sockets() -> None:
    ss_records = by_inode(RECORDED / "ss-tunae.out")
    netstat_records = by_inode(RECORDED / "netstat-tunaeW.out")
    assert set(ss_records) == set(netstat_records)
    for inode, record in ss_records.items():
        other = netstat_records[inode]
        assert record.key == other.key._replace(interface=record.interface), inode
        assert record.state == other.state
