"""Texts that are not socket listings are refused with a message that names what they are (never taken for an
empty listing, never "cannot tell")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nettop.errors import NotASocketTable
from nettop.formats import parse_text
from tests.conftest import read_text

DATA = Path(__file__).parent / "data" / "refusals"

REFUSED = {
    "netstat-s.out": "protocol statistics (netstat -s)",
    "netstat-g.out": "a multicast group list (netstat -g)",
    "proc-net-netstat.out": "the kernel's protocol counters (/proc/net/netstat)",
    "proc-net-snmp.out": "the kernel's protocol counters (/proc/net/snmp)",
    "ss-s.out": "a socket summary (ss -s)",
}


@pytest.mark.parametrize(("name", "what"), REFUSED.items())
def test_each_is_refused_by_name(name: str, what: str) -> None:
    with pytest.raises(NotASocketTable, match="^" + re.escape(f"this is {what}, not a")):
        parse_text(read_text(DATA / name))


def test_a_socket_listing_that_starts_like_statistics_is_not_refused() -> None:
    """Only the first lines decide: a netstat listing is read even when a counter line follows it."""
    text = (
        "Active Internet connections (servers and established)\n"
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State\n"
        "tcp        0      0 127.0.0.1:631           0.0.0.0:*               LISTEN\n"
        "Tcp:\n"
    )
    result = parse_text(text)
    assert [(r.local_ip, r.local_port) for r in result.records] == [("127.0.0.1", 631)]


def test_solaris_netstat_is_refused_by_name_through_detection() -> None:
    """Solaris writes host.port cells as BSD does, in other columns: said, never misread as BSD netstat."""
    from nettop.errors import UnknownFormat

    text = read_text(Path(__file__).parent / "data" / "handmade" / "solaris-11_netstat-an.out")
    with pytest.raises(UnknownFormat, match=r"^Solaris netstat output is not supported$"):
        parse_text(text)
