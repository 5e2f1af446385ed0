"""Ports written as names (captures made without -n): numbered from the bundled table, else kept by name."""

from __future__ import annotations

import pytest

from nettop.formats.common import port_number, port_or_service
from nettop.formats.services import PORTS, PROTOCOLS
from nettop.model import Proto


@pytest.mark.parametrize(
    ("text", "proto", "expected"),
    [
        ("443", Proto.TCP, (443, None)),
        ("*", Proto.UDP, (None, None)),
        ("https", Proto.TCP, (443, None)),
        ("ipp", Proto.UDP, (631, None)),  # netbase knows ipp over TCP only; IANA assigns both
        ("dsf", Proto.TCP, (555, None)),  # macOS prints it; netbase lacks it
        ("ms-wbt-server", Proto.TCP, (3389, None)),
        ("ipv6-icmp", Proto.RAW, (58, None)),  # a raw socket's "port" is its protocol
        ("icmp", Proto.RAW, (1, None)),
        ("HTTP", Proto.TCP, (80, None)),  # names are case-insensitive
        ("no-such-svc-x", Proto.TCP, (None, "no-such-svc-x")),  # kept by name, never dropped
    ],
)
def test_ports_and_names(text: str, proto: Proto, expected: tuple[int | None, str | None]) -> None:
    assert port_or_service(text, proto) == expected


@pytest.mark.parametrize("text", ["70000", "-1", "", "ab cd", "\x1b[2J", "é", "x" * 65])
def test_what_is_neither_number_nor_name_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="port"):
        port_or_service(text, Proto.TCP)


def test_port_number_refuses_an_unknown_name() -> None:
    assert port_number("ssh", Proto.TCP) == 22
    with pytest.raises(ValueError, match="no-such-svc-x"):
        port_number("no-such-svc-x", Proto.TCP)


def test_the_table_holds_only_ports_and_protocol_numbers() -> None:
    assert all(0 < port <= 65_535 and name == name.lower() for name, port in PORTS.items())
    # IP protocol numbers are a byte; Linux numbers MPTCP 262 (IPPROTO_MPTCP) beside them.
    assert all(0 <= number <= 255 or name == "mptcp" for name, number in PROTOCOLS.items())
    assert PORTS["ssh"] == 22 and PORTS["domain"] == 53 and PROTOCOLS["tcp"] == 6


def test_each_ports_canonical_name_numbers_back_to_it() -> None:
    from nettop.formats.services import NAMES

    # DICOM is the one name IANA gives two ports (104 and 11112): a name numbers to its first.
    assert [(port, name) for port, name in NAMES.items() if PORTS[name] != port] == [(11112, "dicom")]
    assert (NAMES[25], NAMES[53], NAMES[80], NAMES[555]) == ("smtp", "domain", "http", "dsf")
