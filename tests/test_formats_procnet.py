"""/proc/net/{tcp,tcp6,udp,udp6} captures: the corpus against jc, and this machine's own table against a socket."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from nettop.errors import NotASocketTable
from nettop.formats import parse_text, procnet
from nettop.model import Proto, State
from tests.conftest import read_text


@pytest.mark.parametrize("name", ["net_tcp", "net_tcp6"])
def test_corpus_matches_jc_field_by_field(corpus: Path, name: str) -> None:
    result = procnet.parse(read_text(corpus / "jc" / "linux-proc" / name))
    theirs = json.loads((corpus / "jc" / "linux-proc" / f"{name}.json").read_text())
    assert len(result.records) == len(theirs) and result.issues == ()
    for record, row in zip(result.records, theirs, strict=True):
        # jc writes the wildcard peer as 0.0.0.0 / :: port 0 and a missing inode as 0; we say None.
        assert (record.local_ip, record.local_port) == (row["local_address"], row["local_port"])
        assert (record.remote_ip or row["remote_address"], record.remote_port or 0) == (
            row["remote_address"],
            row["remote_port"],
        )
        assert (record.inode or 0, record.uid, record.proto) == (row["inode"], row["uid"], Proto.TCP)


def test_exact_rows(corpus: Path) -> None:
    first, *_ = procnet.parse(read_text(corpus / "jc" / "linux-proc" / "net_tcp")).records
    assert (first.family, first.local_ip, first.local_port, first.remote_ip, first.state) == (
        4, "127.0.0.53", 53, None, State.LISTEN,
    )  # fmt: skip
    rows = procnet.parse(read_text(corpus / "jc" / "linux-proc" / "net_tcp6")).records
    waiting = rows[1]
    assert (waiting.family, waiting.state, waiting.remote_port, waiting.inode) == (6, State.TIME_WAIT, 80, None)


def test_unix_table_is_refused_by_name(corpus: Path) -> None:
    with pytest.raises(NotASocketTable, match="UNIX domain sockets"):
        parse_text(read_text(corpus / "jc" / "linux-proc" / "net_unix"))


def test_this_machines_table_shows_a_listener_and_a_udp_socket() -> None:
    with socket.socket() as listener, socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as datagram:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        datagram.bind(("::1", 0))
        tcp = parse_text(Path("/proc/net/tcp").read_text())
        udp6 = parse_text(Path("/proc/net/udp6").read_text())
        port, udp_port = listener.getsockname()[1], datagram.getsockname()[1]
        (found,) = [r for r in tcp.records if r.local_port == port]
        assert (found.proto, found.family, found.local_ip, found.state) == (Proto.TCP, 4, "127.0.0.1", State.LISTEN)
        assert found.inode is not None and found.remote_ip is None
        (bound,) = [r for r in udp6.records if r.local_port == udp_port]
        assert (bound.proto, bound.family, bound.local_ip, bound.state) == (Proto.UDP, 6, "::1", State.UNCONNECTED)


def test_an_ipv4_mapped_peer_is_spelled_as_ss_spells_it() -> None:
    """A dual-stack listener's connection from 127.0.0.1: the kernel's table and ss must give the same key."""
    with socket.socket(socket.AF_INET6) as listener:
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind(("::", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            with accepted:
                table = parse_text(Path("/proc/net/tcp6").read_text())
                listing = subprocess.run(["ss", "-tnH", "state", "established", f"sport = :{port}"],
                                         capture_output=True, text=True, check=True).stdout  # fmt: skip
                client_port = client.getsockname()[1]
    (record,) = [r for r in table.records if r.local_port == port and r.remote_port == client_port]
    assert (record.local_ip, record.remote_ip, record.family) == ("::ffff:127.0.0.1", "::ffff:127.0.0.1", 6)
    assert f"[::ffff:127.0.0.1]:{port}" in listing and f"[::ffff:127.0.0.1]:{client_port}" in listing
