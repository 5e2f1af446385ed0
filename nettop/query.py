"""nettop's one filter language: ``nginx port:443,8000-8100 -state:listen ip:10.0.0.0/8``.

Terms are separated by spaces and all must hold; a leading ``-`` negates one; quotes keep spaces in a
value (``prog:"my server"``). A bare word matches any column as text. A ``key:value`` term with an
unknown key is an error rather than free text, so a typo (``prot:udp``) is shown, not silently
matching nothing; a bare IPv6 address (``::1``, ``fe80::1``) is free text, not a key.

Every term is one entry of ``TERMS``: its key and aliases, how its value is read, the predicate it builds,
one line of help and, when it has one, its command-line flag. The viewer's filter bar and ``--filter``
(``parse_query``), the viewer's help, the flags of ``nettop list``/``watch`` and the keywords of
``nettop.filter_records`` (``query_from``) are all made from that table, so a term added there is
everywhere at once, with the same messages for the same mistakes.

A ``Query`` is values all the way down (clauses with their text) plus one predicate built once from them:
the viewer filters 25,000 rows with it on every re-sort, so a clause costs one call per row and nothing is
looked up per row.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from nettop.exposure import EXPOSURES, exposure
from nettop.formats.common import parse_state
from nettop.model import MAX_PID, MAX_PORT, MAX_UID, Connection, OwnerStatus, Proto, State, unmapped

if TYPE_CHECKING:
    from nettop.cgroups import Placement

Predicate = Callable[[Connection], bool]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Words users type for states, beyond the tools' own spellings (``listen``, ``time-wait``, ``estab``).
_STATE_ALIASES = {"UDP": State.UNCONNECTED, "NONE": State.UNCONNECTED, "UNCONNECTED": State.UNCONNECTED}


class QueryError(ValueError):
    """A malformed query: what is wrong, and where (0-based character position)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.message = message
        self.position = position


# --- the table's parts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flag:
    """A term's form on the command line, whose ``dest`` is also its keyword in ``nettop.filter_records``.

    A flag takes a value (``--port 443``) unless it has ``switches``: options that each give a fixed value
    (``-4`` gives 4), mutually exclusive. The value (the CLI's text or the API's int, str or bool) becomes
    the term's value through ``to_text``; with ``repeat``, several values are any of them (``--state``).
    """

    dest: str
    help: str = ""
    metavar: str | None = None
    switches: tuple[tuple[str, object, str], ...] = ()
    repeat: bool = False
    to_text: Callable[[Any], str] = str

    def value_text(self, value: object) -> str | None:
        """The term's value for a flag's (or keyword's) value; None when it selects nothing."""
        if value is None or value is False:
            return None
        if self.repeat and not isinstance(value, str | bytes) and isinstance(value, Iterable):
            words = [self.to_text(v) for v in value]
            return ",".join(words) if words else None
        return self.to_text(value)


@dataclass(frozen=True, slots=True)
class Term:
    """One entry of the filter language: ``key:value`` and what it selects."""

    key: str
    #: Reads the value as typed into what ``build`` takes; raises ValueError saying what is wrong.
    read: Callable[[str], Any]
    build: Callable[[Any], Predicate]
    #: One line for the help screen, and an example of the term (which the help shows beside it).
    help: str
    example: str
    aliases: tuple[str, ...] = ()
    flag: Flag | None = None

    def clause(self, value: str, negated: bool = False) -> Clause:
        """This term with a value; raises ValueError (without the key) when the value is wrong."""
        test = self.build(self.read(value))
        return Clause(self.key, value, negated, _negation(test) if negated else test)


@dataclass(frozen=True, slots=True)
class Clause:
    """One term of a query as written: ``-state:listen`` is ("state", "listen", negated). Free text has key ""."""

    key: str
    value: str
    negated: bool
    test: Predicate = field(compare=False, repr=False)

    @property
    def text(self) -> str:
        value = f'"{self.value}"' if any(c.isspace() for c in self.value) or not self.value else self.value
        return ("-" if self.negated else "") + (f"{self.key}:{value}" if self.key else value)


@dataclass(frozen=True, slots=True)
class Query:
    """A filter: the text it came from, its clauses, and the one predicate they make (None: keeps all)."""

    text: str = ""
    terms: tuple[Clause, ...] = ()
    predicate: Predicate | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "predicate", all_of(clause.test for clause in self.terms))

    @classmethod
    def of(cls, clauses: Iterable[Clause]) -> Query:
        """A query made of clauses rather than typed: its text is theirs, joined."""
        clauses = tuple(clauses)
        return cls(" ".join(clause.text for clause in clauses), clauses)

    @property
    def is_empty(self) -> bool:
        return not self.terms

    def matches(self, record: Connection) -> bool:
        return self.predicate is None or self.predicate(record)

    def value_of(self, key: str) -> str | None:
        """The value of this query's (first, not negated) ``key:`` clause, if it has one."""
        return next((c.value for c in self.terms if c.key == key and not c.negated), None)

    def replaced(self, key: str, value: str | None) -> Query:
        """This query with its (not negated) ``key:`` clauses replaced by ``key:value`` (or dropped, for None).
        Negated ones stay: ``l`` sets ``is:listening`` and must not undo ``w``'s ``-is:closing``."""
        kept = [clause for clause in self.terms if clause.key != key or clause.negated]
        return Query.of([*kept, term(key, value)] if value is not None else kept)

    def toggled(self, key: str, value: str, negated: bool = False) -> Query:
        """This query without its ``key:value`` clause (negated or not, as asked) if it has one, else with it."""
        clause = term(key, value, negated)
        kept = [c for c in self.terms if (c.key, c.value, c.negated) != (key, value, negated)]
        return Query.of(kept if len(kept) < len(self.terms) else [*kept, clause])


def all_of(predicates: Iterable[Predicate | None]) -> Predicate | None:
    """One predicate that holds when all hold (None: no condition). Built once, called once per row."""
    tests = tuple(p for p in predicates if p is not None)
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda record: first(record) and second(record)

    def every(record: Connection) -> bool:
        # A loop, not all(<generator>): the generator would cost a frame per row, 25,000 rows per re-sort.
        for test in tests:  # noqa: SIM110
            if not test(record):
                return False
        return True

    return every


def _negation(test: Predicate) -> Predicate:
    return lambda record: not test(record)


# --- values -------------------------------------------------------------------------------------


def state_from_user(word: str) -> State:
    """Read a state as a user types it; raise ValueError naming the valid ones."""
    upper = word.strip().upper().replace(" ", "_")
    state = _STATE_ALIASES.get(upper) or parse_state(upper) or parse_state(upper.replace("_", "-"))
    if state is None:
        valid = ", ".join(s.value.lower() for s in State)
        raise ValueError(f"unknown state {word!r} (valid: {valid})")
    return state


def _number(word: str, high: int, what: str) -> int:
    # ASCII digits only: str.isdigit() also says yes to '²' and '٣', which int() refuses or reads as 3.
    if not (word.isascii() and word.isdigit()) or int(word) > high:
        raise ValueError(f"{word!r} is not {what} (0-{high})")
    return int(word)


def _numbers(high: int, what: str) -> Callable[[str], frozenset[int]]:
    """A reader of one number or a comma-separated list, each from 0 to ``high``."""
    return lambda value: frozenset(_number(word, high, what) for word in value.split(","))


def _port(word: str) -> int:
    if word.isascii() and word.isdigit():
        port = int(word)
        if port > MAX_PORT:
            raise ValueError(f"port {port} is out of range (0-{MAX_PORT})")
        return port
    for proto in ("tcp", "udp"):
        try:
            return socket.getservbyname(word, proto)
        except OSError:
            continue
    raise ValueError(f"{word!r} is not a port number, range (8000-8100) or service name")


PortSet = tuple[frozenset[int], tuple[tuple[int, int], ...]]


def _port_set(value: str) -> PortSet:
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
    return frozenset(singles), tuple(ranges)


def _port_test(ports: PortSet) -> Callable[[int | None], bool]:
    singles, ranges = ports
    if not ranges:  # the usual case, and the cheapest test: a set lookup (None is in no set of ints)
        return singles.__contains__
    return lambda port: port is not None and (port in singles or any(a <= port <= b for a, b in ranges))


def _either_port(ports: PortSet) -> Predicate:
    wanted = _port_test(ports)
    return lambda r: wanted(r.local_port) or wanted(r.remote_port)


def _local_port(ports: PortSet) -> Predicate:
    wanted = _port_test(ports)
    return lambda r: wanted(r.local_port)


def _remote_port(ports: PortSet) -> Predicate:
    wanted = _port_test(ports)
    return lambda r: wanted(r.remote_port)


@lru_cache(maxsize=65536)
def _address(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if ip is None:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return unmapped(address)  # an IPv4-mapped address (::ffff:10.0.0.1) is an IPv4 peer on a dual-stack socket


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


def _either_ip(network: Network) -> Predicate:
    return lambda r: _in(network, r.local_ip) or _in(network, r.remote_ip)


def _local_ip(network: Network) -> Predicate:
    return lambda r: _in(network, r.local_ip)


def _remote_ip(network: Network) -> Predicate:
    return lambda r: _in(network, r.remote_ip)


def _states(value: str) -> frozenset[State]:
    return frozenset(state_from_user(word) for word in value.split(","))


def _protos(value: str) -> tuple[frozenset[Proto], frozenset[int]]:
    protos: set[Proto] = set()
    families: set[int] = set()
    for word in value.lower().split(","):
        name, family = word.rstrip("46"), word[len(word.rstrip("46")) :]
        if name not in ("tcp", "udp") or family not in ("", "4", "6", "46"):
            raise ValueError(f"{word!r} is not a protocol (tcp, udp, tcp6, udp4, …)")
        protos.add(Proto(name))
        if family in ("4", "6"):
            families.add(int(family))
    return frozenset(protos), frozenset(families)


def _proto(wanted: tuple[frozenset[Proto], frozenset[int]]) -> Predicate:
    protos, families = wanted
    if families:
        return lambda r: r.proto in protos and r.family in families
    return lambda r: r.proto in protos


def _family(value: str) -> int:
    family = {"4": 4, "ipv4": 4, "inet": 4, "6": 6, "ipv6": 6, "inet6": 6}.get(value.lower())
    if family is None:
        raise ValueError(f"{value!r} is not a family (4 or 6)")
    return family


#: What ``is:closing`` selects: a connection on its way out, the kernel's or the peer's side (``w`` hides them).
CLOSING_STATES = frozenset(
    {State.FIN_WAIT1, State.FIN_WAIT2, State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK, State.TIME_WAIT, State.CLOSE}
)
_KINDS = {"listening": "listening", "listener": "listening", "closing": "closing"}


def _kind(value: str) -> str:
    kind = _KINDS.get(value.lower())
    if kind is None:
        raise ValueError(f"{value!r} is not a kind of socket (listening, closing)")
    return kind


def _exposure(value: str) -> str:
    if value.lower() not in EXPOSURES:
        raise ValueError(f"{value!r} is not an exposure ({', '.join(EXPOSURES)})")
    return value.lower()


def _of_kind(kind: str) -> Predicate:
    if kind == "closing":
        return lambda r: r.state in CLOSING_STATES
    return lambda r: r.is_listener


def _name(value: str) -> tuple[str, bool]:
    """``nginx``: a name that contains it (any case); ``=nginx``: exactly that name."""
    if value.startswith("="):
        if len(value) == 1:
            raise ValueError("'=' needs a name after it")
        return value[1:], True
    return value.lower(), False


def _program(name: tuple[str, bool]) -> Predicate:
    text, exact = name
    if exact:
        return lambda r: any(owner.name == text for owner in r.owners)
    return lambda r: any(text in (owner.name or "").lower() for owner in r.owners)


def _command(needle: str) -> Predicate:
    return lambda r: any(needle in " ".join(owner.cmdline or ()).lower() for owner in r.owners)


def _user(needle: str) -> Predicate:
    return lambda r: any(needle in (owner.user or "").lower() for owner in r.owners)


def _unit(needle: str) -> Predicate:
    """Any owner's systemd unit (as ``systemctl`` names it, escapes decoded) contains ``needle``."""

    def units(record: Connection) -> Iterable[str]:
        for placement in _placements(record):
            unit = placement.unit_name
            if unit:
                yield unit.lower()

    return lambda r: any(needle in unit for unit in units(r))


def _placements(record: Connection) -> Iterator[Placement]:
    """Where each owner runs; for a socket whose owners' cgroups are not known, where it was made (its own)."""
    found = False
    for owner in record.owners:
        if owner.placement is not None:
            found = True
            yield owner.placement
    if not found and record.placement is not None:
        yield record.placement


def _container(needle: str) -> Predicate:
    """Any owner's container: its name contains ``needle``, or its id starts with it."""

    def matches(record: Connection) -> bool:
        for placement in _placements(record):
            container = placement.container
            if container is not None and (container.id.startswith(needle) or needle in (container.name or "").lower()):
                return True
        return False

    return matches


def _pids(pids: frozenset[int]) -> Predicate:
    return lambda r: any(owner.pid in pids for owner in r.owners)


def _lower(value: str) -> str:
    return value.lower()


def _as_is(value: str) -> str:
    return value


# --- the table ------------------------------------------------------------------------------------

#: Free text has no key: a bare word, looked for in every column.
FREE_TEXT_EXAMPLE, FREE_TEXT_HELP = "nginx", "free text, anywhere in the row (case-insensitive)"

# fmt: off
TERMS: tuple[Term, ...] = (
    Term("port", _port_set, _either_port, "the local or the remote port: 80,443  8000-8100  https", "port:443",
         flag=Flag("port", "only sockets with this local or remote port (443, 80,443, 8000-8100, https)")),
    Term("lport", _port_set, _local_port, "the local port (values as port:)", "lport:22"),
    Term("rport", _port_set, _remote_port, "the remote port (values as port:)", "rport:443"),
    Term("state", _states, lambda states: lambda r: r.state in states,
         "states, as ss or netstat spell them: time-wait,close-wait", "state:listen",
         flag=Flag("state", "only this state (repeat for several)", repeat=True)),
    Term("proto", _protos, _proto, "the protocol, and family: tcp, udp, tcp6, udp4", "proto:udp",
         flag=Flag("proto", "only this protocol (tcp, udp; tcp6 and udp4 say the family too)")),
    Term("is", _kind, _of_kind,
         "is:listening: TCP in LISTEN, UDP bound without a peer; is:closing: FIN_WAIT1/2, CLOSE_WAIT, CLOSING, "
         "LAST_ACK, TIME_WAIT, CLOSE", "is:listening",
         flag=Flag("listening", switches=(("--listening", True, "only listening sockets (TCP LISTEN, bound UDP)"),),
                   to_text=lambda on: "listening")),
    Term("pid", _numbers(MAX_PID, "a pid"), _pids, "any owner's pid (1234,5678 for several)", "pid:1234",
         flag=Flag("pid", "only sockets this process holds")),
    Term("prog", _name, _program, "any owner's name contains it; prog:=nginx: exactly that name", "prog:nginx",
         aliases=("program",),
         flag=Flag("program", "only sockets held by a process of this exact name", to_text=lambda name: f"={name}")),
    Term("cmd", _lower, _command, "any owner's command line contains it", "cmd:gunicorn"),
    Term("user", _lower, _user, "any owner's user contains it", "user:www"),
    Term("unit", _lower, _unit, "any owner's systemd unit contains it (its cgroup, Linux)", "unit:nginx.service"),
    Term("container", _lower, _container, "any owner's container: its name contains it or its id starts with it",
         "container:3f2a"),
    Term("uid", _numbers(MAX_UID, "a uid"), lambda uids: lambda r: r.uid in uids,
         "the uid that made the socket: known without root, unlike user:", "uid:1000",
         flag=Flag("uid", "only sockets made by this uid (known without root, unlike owners)")),
    Term("ip", _network, _either_ip, "an address or network at either end (IPv4-mapped count as IPv4)",
         "ip:10.0.0.0/8"),
    Term("lip", _network, _local_ip, "the local address or network", "lip:127.0.0.1"),
    Term("rip", _network, _remote_ip, "the remote address or network", "rip:192.0.2.9"),
    Term("fam", _family, lambda family: lambda r: r.family == family, "the address family: 4 or 6", "fam:6",
         aliases=("family",),
         flag=Flag("family", switches=(("-4", 4, "only IPv4"), ("-6", 6, "only IPv6")))),
    Term("exposure", _exposure, lambda reach: lambda r: exposure(r) == reach,
         "how far a listener reaches: loopback, address (one interface's), all (every interface)",
         "exposure:all", aliases=("exposed",)),
    Term("iface", _as_is, lambda name: lambda r: r.interface == name, "the bound device, or the IPv6 scope",
         "iface:lo", aliases=("if",)),
    Term("host", _lower, lambda name: lambda r: r.host is not None and name in r.host.lower(),
         "the remote host (--host) its name contains", "host:web1"),
)
# fmt: on


def terms_by_key() -> dict[str, Term]:
    """Every key and alias, to its term (read at each parse, so that a term added to TERMS is known at once)."""
    return {key: term for term in TERMS for key in (term.key, *term.aliases)}


def term(key: str, value: str, negated: bool = False) -> Clause:
    """A clause of the term named ``key``; raises ValueError (``key: what is wrong``) for a wrong value."""
    found = terms_by_key()[key]
    try:
        return found.clause(value, negated)
    except ValueError as error:
        raise ValueError(f"{key}: {error}") from None


# --- reading a query ------------------------------------------------------------------------------

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
    known = terms_by_key()
    clauses: list[Clause] = []
    for position, token, quoted in _tokens(text):
        if token == "-":
            raise QueryError("a lone '-' negates nothing: put it right before a term", position)
        negated = token.startswith("-")
        body = token[1:] if negated else token
        clauses.append(_clause(body, position + negated, quoted, negated, known))
    return Query(text, tuple(clauses))


def _clause(body: str, position: int, quoted: bool, negated: bool, known: Mapping[str, Term]) -> Clause:
    # A token that starts with a quote is text as typed: "a:b" looks for a:b.
    match = None if quoted else _KEY.fullmatch(body)
    if match is None or _is_address(body):
        test = _free_text(body)
        return Clause("", body, negated, _negation(test) if negated else test)
    key, value = match.group(1).lower(), match.group(2)
    found = known.get(key)
    if found is None:
        raise QueryError(f"unknown filter {key!r}: use one of {', '.join(sorted(t.key for t in TERMS))}", position)
    if not value:
        raise QueryError(f"{key}: needs a value", position)
    try:
        return found.clause(value, negated)
    except ValueError as error:
        raise QueryError(f"{key}: {error}", position + len(key) + 1) from None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _haystack(record: Connection) -> str:
    """Every column's text, lower-cased, as the table shows it (ports both as numbers and names)."""
    owners = " ".join(f"{'' if o.pid is None else o.pid} {o.name or ''} {o.user or ''}" for o in record.owners)
    if not owners and record.owner_status is OwnerStatus.NOT_PERMITTED:
        owners = "(hidden)"  # what the table's Program column says of it
    return (
        f"{record.proto.value}{record.family} {record.local_ip}%{record.interface or ''} {record.local_port} "
        f"{record.remote_ip or '*'} {record.remote_port} {record.state.value} {owners}"
    ).lower()


def _free_text(word: str) -> Predicate:
    needle = word.lower()
    return lambda record: needle in _haystack(record)


# --- flags and keywords ---------------------------------------------------------------------------


def flagged_terms() -> list[tuple[Term, Flag]]:
    """The terms that have a command-line flag (and a keyword in ``nettop.filter_records``), in table order."""
    return [(t, t.flag) for t in TERMS if t.flag is not None]


def query_from(conditions: Mapping[str, object]) -> Query:
    """A query from flag values by ``dest`` (``{"port": 443, "listening": True}``), the CLI's or the API's;
    raises ValueError (``port: what is wrong``) for a wrong value, TypeError for an unknown name."""
    by_dest = {flag.dest: (t, flag) for t, flag in flagged_terms()}
    unknown = sorted(set(conditions) - set(by_dest))
    if unknown:
        raise TypeError(f"unknown filter {unknown[0]!r}: use one of {', '.join(by_dest)}")
    clauses = []
    for dest, value in conditions.items():
        found, flag = by_dest[dest]
        text = flag.value_text(value)
        if text is not None:
            clauses.append(term(found.key, text))
    return Query.of(clauses)


def filter_records(records: Iterable[Connection], query: Query) -> list[Connection]:
    """The records the query keeps, in their order."""
    keep = query.predicate
    return list(records) if keep is None else [record for record in records if keep(record)]
