"""``ss -H`` of one socket type (rows that start with their state), recorded here with known loopback sockets by
``tests/data/record.py`` (its commands set to ``ss -tnaeH``, ``ss -unaeH`` and ``ss -tlnH``)."""

from __future__ import annotations

import json

import pytest

from nettop.formats import parse_text
from nettop.formats.ss_single import protocol_of
from nettop.model import Proto, State
from tests.conftest import DATA, read_text

RECORDED = DATA / "debian12-ss-single"
MANIFEST = json.loads((RECORDED / "manifest.json").read_text())


@pytest.mark.parametrize(("name", "proto"), [("ss-tnaeH.out", "tcp"), ("ss-unaeH.out", "udp")])
def test_each_recorded_socket_is_read_exactly(name: str, proto: str) -> None:
    result = parse_text(read_text(RECORDED / name))
    assert (result.format, result.issues) == ("ss-single", ())
    assert {r.proto for r in result.records} == {Proto(proto)}
    records = {r.inode: r for r in result.records if r.inode is not None}
    opened = [sock for sock in MANIFEST if sock["proto"] == proto]
    assert len(opened) >= 2
    for sock in opened:
        record = records[sock["inode"]]
        remote = [record.remote_ip, record.remote_port] if record.remote_ip is not None else None
        assert [record.local_ip, record.local_port] == sock["local"], sock["role"]
        assert remote == sock["remote"], sock["role"]
        assert record.state.value == sock["state"], sock["role"]
        assert record.source == "ss" and record.uid == 0


def test_listeners_without_extras() -> None:
    result = parse_text(read_text(RECORDED / "ss-tlnH.out"))
    assert result.format == "ss-single" and result.issues == ()
    assert {(r.proto, r.state) for r in result.records} == {(Proto.TCP, State.LISTEN)}
    ends = {(r.local_ip, r.local_port) for r in result.records}
    listeners = [sock for sock in MANIFEST if sock["state"] == "LISTEN"]
    assert {(sock["local"][0], sock["local"][1]) for sock in listeners} <= ends


def test_the_protocol_is_the_texts() -> None:
    assert protocol_of("ESTAB 0 0 127.0.0.1:1 127.0.0.1:2\nUNCONN 0 0 127.0.0.1:3 0.0.0.0:*\n") is Proto.UDP
    assert protocol_of("UNCONN 0 0 127.0.0.1:3 0.0.0.0:*\nLISTEN 0 5 127.0.0.1:4 0.0.0.0:*\n") is Proto.TCP
    assert protocol_of("ESTAB 0 0 127.0.0.1:1 127.0.0.1:2\n") is Proto.TCP, "undecidable: TCP, the usual case"


def test_rows_of_other_tools_are_not_claimed() -> None:
    from nettop.formats.ss_single import looks_like_rows

    assert not looks_like_rows("ESTAB 0 0 /run/x.sock 12345 * 12346")  # ss -xH: UNIX sockets
    assert not looks_like_rows("tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*")  # ss -H with a Netid: plain ss
