"""How far a listener reaches (loopback, one address, all interfaces): the JSON field, the filter term, details."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from nettop.exposure import exposure
from nettop.model import Proto, State
from nettop.query import parse_query
from nettop.screens.details import describe
from tests.scripted import conn


@pytest.mark.parametrize(
    ("local_ip", "family", "expected"),
    [
        ("127.0.0.1", 4, "loopback"),
        ("127.3.4.5", 4, "loopback"),
        ("::1", 6, "loopback"),
        ("::ffff:127.0.0.1", 6, "loopback"),
        ("0.0.0.0", 4, "all"),
        ("::", 6, "all"),
        ("192.0.2.10", 4, "address"),
        ("fe80::1", 6, "address"),
    ],
)
def test_each_kind_of_bind(local_ip: str, family: int, expected: str) -> None:
    listener = conn(8080, local_ip=local_ip, family=family)
    assert exposure(listener) == expected
    assert parse_query(f"exposure:{expected}").predicate(listener)  # type: ignore[misc]
    assert f"exposure {expected}" in describe(listener, []).plain


def test_sockets_that_serve_no_port_have_none() -> None:
    assert exposure(conn(8080, 40000)) is None
    assert exposure(conn(8080, 40000, state=State.TIME_WAIT)) is None
    assert exposure(conn(53, proto=Proto.UDP, local_ip="0.0.0.0")) == "all", "a bound UDP socket serves its port"
    with pytest.raises(ValueError, match="not an exposure"):
        parse_query("exposure:everywhere")


def test_list_says_how_far_real_listeners_reach() -> None:
    with socket.socket() as private, socket.socket() as public:
        private.bind(("127.0.0.1", 0))
        public.bind(("0.0.0.0", 0))
        private.listen()
        public.listen()
        ports = {private.getsockname()[1]: "loopback", public.getsockname()[1]: "all"}
        done = subprocess.run(
            [sys.executable, "-m", "nettop", "list", "--format", "json", "--listening", "--proto", "tcp"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    rows = {r["local_port"]: r["exposure"] for r in json.loads(done.stdout) if r["local_port"] in ports}
    assert rows == ports
