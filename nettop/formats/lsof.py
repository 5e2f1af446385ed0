"""Parse ``lsof -nP -i`` into records with their owners, and lend those owners to listings that lack them.

Input, one open file a line, under a header::

    COMMAND     PID   USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME
    launchd       1   root    8u  IPv4 0x8b17115bf97d4e6d      0t0  TCP *:22 (LISTEN)
    nginx      1000 www-data  6u  IPv4              21535      0t0  TCP *:80 (LISTEN)
    Google    42368  alice   28u  IPv4 0x8b17115bfb21ad9d      0t0  UDP 10.0.0.111:53261->172.253.62.94:443
    cupsd      3243   root    6u  IPv6              48291      0t0  TCP [::1]:631 (LISTEN)

- Cells are whitespace tokens. The left ones (COMMAND, PID, USER, FD) end at TYPE, found by its value
  (``IPv4``/``IPv6``), so optional columns between PID and USER (``-R`` PPID, ``-g`` PGID) do not matter; the
  protocol (NODE: ``TCP``, ``UDP``, ``UDPLITE`` read as UDP) is the first cell after TYPE that names one, so
  a blank DEVICE or SIZE/OFF does not matter either; NAME is the rest of the line. Rows of other file types
  (a full ``lsof`` without ``-i``) are skipped silently, and so are lsof's own ``lsof: WARNING`` lines.
- COMMAND is lsof's: cut to 9 bytes unless ``+c``, spaces and other bytes escaped (``Adobe\\x20``,
  ``d\\xc3\\xa6``); the escapes are decoded (UTF-8, a cut character replaced). USER is a name, or a number
  with ``-l`` (then the record's ``uid``), or blank (no user name: TYPE is then the fourth cell). FD, SIZE/OFF
  are not kept. DEVICE is the socket's identity: an inode on Linux (the record's ``inode``), a kernel address on
  macOS (``0x…``).
- NAME: ``local[->remote] [(STATE)]``. IPv6 hosts are bracketed (``[::1]:5432``, ``[fe80::1%lo0]:123``: scope
  → interface); ``*`` is the any address of the TYPE's family and a ``*`` port is None; no ``->`` means no
  peer. Without ``-n``/``-P`` hosts and ports are names: hosts are kept as written, ports are looked up
  (``common.port_or_service``); a name nettop cannot number keeps its row, port None and the name in
  ``local_service``/``remote_service``. An IPv4 host on an IPv6 socket is written
  IPv4-mapped, as the netstat parsers do. ``-T`` state forms ``(ST=LISTEN QR=0 QS=0)`` give the queues too.
- State: TCP words as netstat's (``LISTEN``, ``SYN_RCVD``, ``CLOSED``...); one nettop does not know is
  UNKNOWN. UDP has none: UNCONNECTED, or ESTABLISHED when there is a peer.
- One socket held by several processes or fds (a pre-forked server's listener) is several lines with the same
  DEVICE and NAME: they become one record whose owners are every process, in the order first seen, once
  each. The record's ``raw`` is its first line.
- Numbers are ASCII digits in range (``common.number``): a PID above 2**31-1, a DEVICE inode of 2**64 or
  more, a port above 65535 makes its line an issue.

``nettop.owners.join`` lends these owners to netstat records that have none (macOS netstat without ``-v``),
by endpoint: see its ``EndpointKey`` for what must match.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from nettop.errors import UnknownFormat
from nettop.formats.common import (
    MAX_INODE,
    MAX_PID,
    MAX_QUEUE,
    MAX_UID,
    STATE_WORDS,
    head_lines,
    number,
    port_or_service,
    quoted,
    text_lines,
)
from nettop.model import IPV4_MAPPED_PREFIX, Connection, Owner, OwnerStatus, ParseIssue, ParseResult, Proto, State

FORMAT = "lsof"

#: The NODE cell of an internet socket → protocol.
PROTOS: dict[str, Proto] = {"TCP": Proto.TCP, "UDP": Proto.UDP, "UDPLITE": Proto.UDP}

#: The TYPE cell → address family.
FAMILIES: dict[str, int] = {"IPv4": 4, "IPv6": 6}

_ANY = {4: "0.0.0.0", 6: "::"}


def looks_like_header(line: str) -> bool:
    words = line.split()
    return words[:2] == ["COMMAND", "PID"] and "TYPE" in words and words[-1:] == ["NAME"]


def looks_like(text: str) -> bool:
    """True when the first line that is not blank is lsof's header (``COMMAND PID … NAME``)."""
    for line in head_lines(text, 5):
        if line.strip():
            return looks_like_header(line)
    return False


def parse(text: str, source: str = "lsof") -> ParseResult:
    """Parse ``lsof -nP -i`` output; raises UnknownFormat when it has no lsof header."""
    lines = text_lines(text)
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        return ParseResult((), (), FORMAT)
    if not looks_like_header(lines[start]):
        raise UnknownFormat(
            f"not lsof output: no 'COMMAND PID USER FD TYPE … NAME' header; first line: {quoted(lines[start])}"
        )
    # Each socket's record (of its first line) and its owners by pid, in the order first seen: a socket held by
    # thousands of processes costs one look-up a line, not a walk over those already found.
    records: dict[tuple[str, Proto, str], tuple[Connection, dict[int, Owner]]] = {}
    issues: list[ParseIssue] = []
    owners: dict[tuple[str, str, str], Owner] = {}  # per parse: one Owner however many fds a process has
    for line_no in range(start + 2, len(lines) + 1):
        line = lines[line_no - 1]
        if not line.strip() or line.startswith("lsof:") or line[:1].isspace():
            continue  # lsof's warnings and their indented second lines, when stderr was captured too
        try:
            row = _split(line)
            if row is None:
                continue  # a regular file, a pipe, a UNIX socket...
            owner = owners.get(row.who)
            if owner is None:
                owner = owners[row.who] = _owner(*row.who)
            key = (row.device, row.proto, row.name.partition(" (")[0])
            seen = records.get(key)
            if seen is None:
                records[key] = (_record(row, owner, source, line), {owner.pid: owner})
            else:
                seen[1].setdefault(owner.pid, owner)
        except ValueError as error:
            issues.append(ParseIssue(line_no, line, str(error)))
    found = tuple(
        record if len(held) == 1 else record._replace(owners=tuple(held.values())) for record, held in records.values()
    )
    return ParseResult(found, tuple(issues), FORMAT)


class _Line(NamedTuple):
    """The cells of one lsof line that make a record."""

    proto: Proto
    family: int
    #: The socket's identity: an inode (Linux) or a kernel address (macOS); "" when blank.
    device: str
    #: NAME: ``local[->remote] [(state)]``.
    name: str
    #: COMMAND, PID and USER, as written.
    who: tuple[str, str, str]


def _split(line: str) -> _Line | None:
    """Find the cells of a line; None for a file that is not an internet socket. Raises ValueError."""
    cells = line.split()
    # TYPE is the fifth cell, or later with optional columns; the fourth when USER is blank.
    type_at = next((i for i in range(3, min(len(cells), 9)) if cells[i] in FAMILIES), -1)
    if type_at < 0:
        if len(cells) >= 5 and cells[1].isdigit():
            return None
        raise ValueError("no TYPE IPv4/IPv6 cell (a cut line?)")
    node_at = next((i for i in range(type_at + 1, min(len(cells), type_at + 4)) if cells[i] in PROTOS), -1)
    if node_at < 0:
        raise ValueError(f"no TCP/UDP protocol cell after {cells[type_at]} (another protocol, or a cut line?)")
    if not cells[1].isdigit():
        raise ValueError(f"PID {quoted(cells[1], 40)} is not a number")
    # DEVICE and SIZE/OFF lie between TYPE and NODE; either may be blank. A lone "0t…" cell is SIZE/OFF.
    between = cells[type_at + 1 : node_at]
    device = between[0] if between and not (len(between) == 1 and between[0].startswith("0t")) else ""
    name = " ".join(cells[node_at + 1 :])
    if not name:
        raise ValueError("no NAME (a cut line?)")
    who = (cells[0], cells[1], cells[type_at - 2] if type_at > 3 else "")
    return _Line(PROTOS[cells[node_at]], FAMILIES[cells[type_at]], device, name, who)


def _owner(command: str, pid: str, user: str) -> Owner:
    """The process of a line; a numeric or blank USER is no user name (a numeric one is the record's uid)."""
    return Owner(number(pid, MAX_PID, "PID"), _command(command), None if not user or _is_number(user) else user)


def _is_number(text: str) -> bool:
    return text.isdigit() and text.isascii()


def _record(row: _Line, owner: Owner, source: str, line: str) -> Connection:
    """The record of a socket's first line; raises ValueError."""
    proto, family = row.proto, row.family
    endpoints, _, extra = row.name.partition(" (")
    local_text, arrow, remote_text = endpoints.partition("->")
    local_ip, local_port, local_if, local_service = _endpoint(local_text, proto, family)
    remote_ip: str | None = None
    remote_port: int | None = None
    remote_if = remote_service = None
    if arrow:
        remote_ip, remote_port, remote_if, remote_service = _endpoint(remote_text, proto, family)
    state, recv_q, send_q = _state(extra.rstrip(")"), proto, remote_ip is not None)
    user = row.who[2]
    return Connection(
        proto,
        family,
        local_ip,
        local_port,
        remote_ip,
        remote_port,
        state,
        (owner,),
        OwnerStatus.KNOWN,
        local_if or remote_if,
        recv_q,
        send_q,
        number(row.device, MAX_INODE, "DEVICE (inode)") if _is_number(row.device) else None,
        number(user, MAX_UID, "uid") if _is_number(user) else None,
        None,
        False,
        source,
        line,
        local_service,
        remote_service,
    )


@lru_cache(maxsize=4096)
def _endpoint(text: str, proto: Proto, family: int) -> tuple[str, int | None, str | None, str | None]:
    """``host:port``, ``[v6]:port``, ``[v6%scope]:port`` or ``*:*`` into host, port, interface and a service name
    nettop cannot number (the port then None)."""
    host, colon, port_text = text.rpartition(":")
    if not colon or not host or not port_text:
        raise ValueError(f"cannot split address and port in {text!r}")
    interface: str | None = None
    if host[0] == "[":
        if host[-1] != "]":
            raise ValueError(f"unclosed bracket in {text!r}")
        host = host[1:-1]
    if "%" in host:
        host, _, interface = host.partition("%")
    if host == "*":
        host = _ANY[family]
    elif family == 6 and ":" not in host and host.count(".") == 3 and host.replace(".", "").isdigit():
        host = IPV4_MAPPED_PREFIX + host  # an IPv4-mapped address on an IPv6 socket, as the other parsers write it
    port, service = port_or_service(port_text, proto)
    return host, port, interface, service


def _state(text: str, proto: Proto, connected: bool) -> tuple[State, int | None, int | None]:
    """The parenthesised part: ``LISTEN``, or -T's ``ST=LISTEN QR=0 QS=0``; state and queues."""
    state: State | None = None
    recv_q = send_q = None
    for word in text.split():
        label, equals, value = word.partition("=")
        if not equals:
            state = STATE_WORDS.get(word, State.UNKNOWN)
        elif label == "ST":
            state = STATE_WORDS.get(value, State.UNKNOWN)
        elif label in ("QR", "QS") and value.isdigit():
            if label == "QR":
                recv_q = number(value, MAX_QUEUE, "queue size (QR)")
            else:
                send_q = number(value, MAX_QUEUE, "queue size (QS)")
    if state is None and proto is Proto.TCP:
        state = State.UNKNOWN  # lsof shows every TCP state; none means -T without "s"
    elif state is None:
        state = State.ESTABLISHED if connected else State.UNCONNECTED
    return state, recv_q, send_q


@lru_cache(maxsize=1024)
def _command(text: str) -> str:
    """lsof's COMMAND with its ``\\xNN`` escapes decoded (lsof writes a space as ``\\x20``)."""
    if "\\x" not in text:
        return text
    data = bytearray()
    index = 0
    while index < len(text):
        if text.startswith("\\x", index) and index + 4 <= len(text):
            try:
                data.append(int(text[index + 2 : index + 4], 16))
                index += 4
                continue
            except ValueError:
                pass
        data += text[index].encode("utf-8", "surrogatepass")  # any str: a lone surrogate too
        index += 1
    return data.decode("utf-8", "replace")
