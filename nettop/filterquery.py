"""The viewer's filter language: ``nginx port:443,8000-8100 -state:listen ip:10.0.0.0/8``.

Terms are separated by spaces and all must hold; a leading ``-`` negates one; quotes keep spaces in a
value (``prog:"my server"``). A bare word matches any column as text. A ``key:value`` term with an
unknown key is an error rather than free text, so a typo (``prot:udp``) is shown, not silently
matching nothing; a bare IPv6 address (``::1``, ``fe80::1``) is free text, not a key.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from nettop.model import Connection, Proto
from nettop.query import state_from_user

Predicate = Callable[[Connection], bool]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class QueryError(ValueError):
    """A malformed query: what is wrong, and where (0-based character position)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed filter: the text it came from and one predicate per term."""

    text: str = ""
    terms: tuple[Predicate, ...] = field(default=(), repr=False)

    @property
    def is_empty(self) -> bool:
        return not self.terms

    def matches(self, record: Connection) -> bool:
        return all(term(record) for term in self.terms)


@dataclass(frozen=True, slots=True)
class QuickFilters:
    """The viewer's one-key toggles: listening only, one protocol, one family."""

    listening_only: bool = False
    proto: Proto | None = None
    family: int | None = None

    def matches(self, record: Connection) -> bool:
        if self.listening_only and not record.is_listener:
            return False
        if self.proto is not None and record.proto is not self.proto:
            return False
        return self.family is None or record.family == self.family


_KEY = re.compile(r"([A-Za-z_]+):(.*)", re.DOTALL)


def _tokens(text: str) -> list[tuple[int, str, bool]]:
    """Split on unquoted whitespace into (position, token, starts with a quote); quotes may wrap part of a token."""
    tokens: list[tuple[int, str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start, chars, quoted = i, [], False
        while i < n and not text[i].isspace():
            if text[i] in "\"'":
                quote, opened_at = text[i], i
                end = text.find(quote, i + 1)
                if end < 0:
                    raise QueryError(f"unclosed quote {quote}", opened_at)
                chars.append(text[i + 1 : end])
                quoted = quoted or i == start
                i = end + 1
            else:
                chars.append(text[i])
                i += 1
        tokens.append((start, "".join(chars), quoted))
    return tokens


def parse_query(text: str) -> Query:
    """Parse a filter; raise QueryError for a malformed one."""
    terms: list[Predicate] = []
    for position, token, quoted in _tokens(text):
        negate = token.startswith("-") and len(token) > 1
        body = token[1:] if negate else token
        at = position + 1 if negate else position
        if token == "-":
            raise QueryError("a lone '-' negates nothing: put it right before a term", position)
        term = _term(body, at, quoted)
        terms.append((lambda r, t=term: not t(r)) if negate else term)
    return Query(text, tuple(terms))


def _term(body: str, position: int, quoted: bool) -> Predicate:
    # A token that starts with a quote is text as typed: "a:b" looks for a:b.
    match = None if quoted else _KEY.fullmatch(body)
    if match is None or _is_address(body):
        return _free_text(body)
    key, value = match.group(1).lower(), match.group(2)
    build = _BUILDERS.get(key)
    if build is None:
        raise QueryError(f"unknown filter {key!r}: use one of {', '.join(sorted(_PUBLIC_KEYS))}", position)
    if not value:
        raise QueryError(f"{key}: needs a value", position)
    try:
        return build(value)
    except ValueError as error:
        raise QueryError(f"{key}: {error}", position + len(key) + 1) from None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


# --- free text ----------------------------------------------------------------------------------


def _haystack(record: Connection) -> str:
    """Every column's text, lower-cased, as the table shows it (ports both as numbers and names)."""
    owners = " ".join(f"{o.pid} {o.name or ''} {o.user or ''}" for o in record.owners)
    return (
        f"{record.proto.value}{record.family} {record.local_ip}%{record.interface or ''} {record.local_port} "
        f"{record.remote_ip or '*'} {record.remote_port} {record.state.value} {owners}"
    ).lower()


def _free_text(word: str) -> Predicate:
    needle = word.lower()
    return lambda record: needle in _haystack(record)


# --- ports --------------------------------------------------------------------------------------


def _port(word: str) -> int:
    if word.isdigit():
        port = int(word)
        if port > 65535:
            raise ValueError(f"port {port} is out of range (0-65535)")
        return port
    for proto in ("tcp", "udp"):
        try:
            return socket.getservbyname(word, proto)
        except OSError:
            continue
    raise ValueError(f"{word!r} is not a port number, range (8000-8100) or service name")


def _port_set(value: str) -> Callable[[int | None], bool]:
    singles: set[int] = set()
    ranges: list[tuple[int, int]] = []
    for part in value.split(","):
        low, dash, high = part.partition("-")
        if dash and low and high:
            first, last = _port(low), _port(high)
            if first > last:
                raise ValueError(f"range {part} runs backwards")
            ranges.append((first, last))
        elif part and not dash:
            singles.add(_port(part))
        else:
            raise ValueError(f"{part!r} is not a port number, range (8000-8100) or service name")
    return lambda port: port is not None and (port in singles or any(a <= port <= b for a, b in ranges))


def _either_port(value: str) -> Predicate:
    wanted = _port_set(value)
    return lambda r: wanted(r.local_port) or wanted(r.remote_port)


def _local_port(value: str) -> Predicate:
    wanted = _port_set(value)
    return lambda r: wanted(r.local_port)


def _remote_port(value: str) -> Predicate:
    wanted = _port_set(value)
    return lambda r: wanted(r.remote_port)


# --- addresses ----------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _address(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if ip is None:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    # An IPv4-mapped address (::ffff:10.0.0.1) is an IPv4 peer on a dual-stack socket.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _network(value: str) -> Network:
    try:
        network = ipaddress.ip_network(value.strip("[]"), strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an address or network (10.0.0.0/8, ::1)") from None
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        mapped = network.network_address.ipv4_mapped
        return ipaddress.ip_network(f"{mapped}/{max(network.prefixlen - 96, 0)}", strict=False)
    return network


def _in(network: Network, ip: str | None) -> bool:
    address = _address(ip)
    return address is not None and address.version == network.version and address in network


def _either_ip(value: str) -> Predicate:
    network = _network(value)
    return lambda r: _in(network, r.local_ip) or _in(network, r.remote_ip)


def _local_ip(value: str) -> Predicate:
    network = _network(value)
    return lambda r: _in(network, r.local_ip)


def _remote_ip(value: str) -> Predicate:
    network = _network(value)
    return lambda r: _in(network, r.remote_ip)


# --- the rest -----------------------------------------------------------------------------------


def _state(value: str) -> Predicate:
    states = frozenset(state_from_user(word) for word in value.split(","))
    return lambda r: r.state in states


def _proto(value: str) -> Predicate:
    protos: set[Proto] = set()
    families: set[int] = set()
    for word in value.lower().split(","):
        name, family = word.rstrip("46"), word[len(word.rstrip("46")) :]
        if name not in ("tcp", "udp") or family not in ("", "4", "6", "46"):
            raise ValueError(f"{word!r} is not a protocol (tcp, udp, tcp6, udp4, …)")
        protos.add(Proto(name))
        if family in ("4", "6"):
            families.add(int(family))
    if families:
        return lambda r: r.proto in protos and r.family in families
    return lambda r: r.proto in protos


def _pid(value: str) -> Predicate:
    words = value.split(",")
    if not all(word.isdigit() for word in words):
        raise ValueError(f"{value!r} is not a pid or list of pids")
    pids = frozenset(int(word) for word in words)
    return lambda r: any(owner.pid in pids for owner in r.owners)


def _program(value: str) -> Predicate:
    needle = value.lower()
    return lambda r: any(needle in (owner.name or "").lower() for owner in r.owners)


def _command(value: str) -> Predicate:
    needle = value.lower()
    return lambda r: any(needle in " ".join(owner.cmdline or ()).lower() for owner in r.owners)


def _user(value: str) -> Predicate:
    needle = value.lower()
    return lambda r: any(needle in (owner.user or "").lower() for owner in r.owners)


def _family(value: str) -> Predicate:
    families = {"4": 4, "ipv4": 4, "inet": 4, "6": 6, "ipv6": 6, "inet6": 6}
    family = families.get(value.lower())
    if family is None:
        raise ValueError(f"{value!r} is not a family (4 or 6)")
    return lambda r: r.family == family


def _interface(value: str) -> Predicate:
    return lambda r: r.interface == value


_BUILDERS: dict[str, Callable[[str], Predicate]] = {
    "port": _either_port,
    "lport": _local_port,
    "rport": _remote_port,
    "state": _state,
    "proto": _proto,
    "pid": _pid,
    "prog": _program,
    "program": _program,
    "cmd": _command,
    "user": _user,
    "ip": _either_ip,
    "lip": _local_ip,
    "rip": _remote_ip,
    "fam": _family,
    "family": _family,
    "iface": _interface,
    "if": _interface,
}
_PUBLIC_KEYS = ("port", "lport", "rport", "state", "proto", "pid", "prog", "cmd", "user", "ip", "lip", "rip", "fam",
                "iface")  # fmt: skip
