"""Parse the text of FreeBSD's ``sockstat -46`` (with any of ``-s -l -c -w -n -q``) into records.

Input, one row per file descriptor that holds a socket, columns found from the header::

    USER     COMMAND    PID   FD  PROTO     LOCAL ADDRESS         FOREIGN ADDRESS       CONN STATE
    www      nginx       7895 6   tcp4      *:80                  *:*                   LISTEN
    root     nginx       7894 6   tcp4      *:80                  *:*                   LISTEN
    ntpd     ntpd        1771 24  udp6      [::1]:123             *:*
    ?        ?          ?     ?   tcp4      172.17.2.106:22       203.0.113.10:62154    TIME_WAIT

- Header cells hold spaces (``LOCAL ADDRESS``, ``CONN STATE``), so the header is read as words and two-word
  names are joined; rows are read as whitespace tokens anchored on ``PID FD PROTO``, never by offsets (FreeBSD
  15's libxo sockstat sizes its columns from their content; older ones pad to fixed widths, which a long user
  name or address overflows). ``-s`` adds ``STATE`` (FreeBSD 10), ``PATH STATE CONN STATE`` (13.5) or
  ``CONN STATE`` (14.4, 15.1); ``-q`` drops the header (the layout is then read off each row). Other optional
  columns (``FIB``, ``ID``, ``ENCAPS``, ``STACK``, ``CC``…) are tolerated and ignored.
- COMMAND is ``ki_comm`` cut to 10 characters (``sshd-session`` arrives as ``sshd-sessi``) and may hold spaces
  (taken as everything between USER and PID); ``??`` when the process exited before sockstat named it. USER
  is a name, or a number when the uid has none or ``-n`` was given: kept as printed in the owner's ``user``
  (it is the holding process's user, not the socket's, so ``uid`` stays None).
- PROTO: ``tcp4 tcp6 udp4 udp6`` (``toe*``, a TCP socket on an offload engine, is TCP); ``tcp46``/``udp46`` is
  a dual-stack socket (family 6, not v6only), whose ``*`` local address is ``::``; FreeBSD 10 printed it as
  ``tcp4 6``. ``sctp*`` and ``div*`` rows become issues; UNIX rows (``stream dgram seqpac``, ``-u``) are
  left out and counted (``ParseResult.skipped``); the indented extra address lines of a multi-homed SCTP socket
  are skipped silently.
- Addresses: ``127.0.0.1:22``, ``*:22`` (any), ``*:*`` (a wildcard peer: remote_ip and remote_port None),
  ``*:*`` as a local address (an unbound socket: port None); IPv6 bare up to FreeBSD 13 (``::1:123``,
  ``fe80::1%lo0:123``), bracketed from 14 (``[::1]:123``, ``[fe80::1%lo0]:123``); a ``%zone`` is the interface.
  Ports are always numeric.
- Truncation: FreeBSD 15 without ``-w`` cuts an address to 21 characters, which only an IPv6 address (always
  bracketed there) can exceed: ``[fe80::4ff:daff:febe:3ed9%ena0]:123`` arrives as ``[fe80::4ff:daff:febe:``,
  and a cut inside the port (``]:8080`` → ``]:80``) still looks whole. So every bracketed cell exactly 21 long
  counts as possibly cut (``truncated=True``); one that cannot be read whole keeps what is left of its host and
  no port. Output is exempt when the caller ran ``-w`` (``wide=True``) or when any cell is longer than 21 (which
  only ``-w`` or a sockstat that never cuts can print). Older sockstat never cuts, so some of its cells are
  flagged needlessly: better a false alarm than a wrong address passed off as real.
- State: the first TCP state word after the addresses (``LISTEN``, ``SYN_RCVD``, ``FIN_WAIT_2``, ``CLOSED``…).
  Without a state column (no ``-s``, or a sockstat that lacks it) a TCP row is UNKNOWN: a wildcard peer could
  be LISTEN or a socket bound but never listening, and the text cannot tell. A UDP row never has a state
  (blank, or ``??`` on FreeBSD 15): UNCONNECTED, or ESTABLISHED when it has a peer.
- Owners: sockstat prints a socket once per process holding it (a forking server's listener, both halves of a
  privilege-separated sshd session). Rows with the same protocol, addresses and state are merged into one
  record carrying every distinct ``Owner(pid, command, user)`` in sockstat's order and the first row's raw
  line. Distinct sockets the text cannot tell apart (``SO_REUSEPORT`` listeners) merge too. Rows with ``?``
  (``??`` on FreeBSD 15) in PID belong to no process (TIME_WAIT, not yet accepted): each is its own socket,
  never merged, with OwnerStatus.NO_PROCESS.
- Numbers are ASCII digits in range (``common.number``): a PID above 2**31-1 or a port above 65535 makes its
  line an issue. A row is read in one pass over its words, however much space it holds.

Output: ``ParseResult`` with one ``Connection`` a socket and one ``ParseIssue`` a line not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from nettop.errors import UnknownFormat
from nettop.formats.common import (
    MAX_PID,
    MAX_PORT,
    STATE_WORDS,
    head_lines,
    number,
    quoted,
    split_host_port,
    text_lines,
)
from nettop.model import IPV4_MAPPED_PREFIX, Connection, Owner, OwnerStatus, ParseIssue, ParseResult, Proto, State

FORMAT = "sockstat"

#: The protocol part of a PROTO cell → our protocol (the suffix 4, 6 or 46 gives the family).
PROTOCOLS: dict[str, Proto] = {"tcp": Proto.TCP, "toe": Proto.TCP, "udp": Proto.UDP}

#: sockstat's width for an address without ``-w`` on FreeBSD 15, which cuts longer ones.
CUT_WIDTH = 21

#: The header's two-word column names, joined back when the header is read as words.
_TWO_WORD_COLUMNS = frozenset(
    {
        ("LOCAL", "ADDRESS"),
        ("FOREIGN", "ADDRESS"),
        ("PATH", "STATE"),
        ("CONN", "STATE"),
        ("SPLICE", "ADDRESS"),
        ("PCB", "KVA"),
    }
)
_FIRST_COLUMNS = ["USER", "COMMAND", "PID", "FD", "PROTO", "LOCAL ADDRESS", "FOREIGN ADDRESS"]
#: What sockstat prints where it knows nothing: ``?`` up to FreeBSD 14, ``??`` from 15.
_UNKNOWN = frozenset({"?", "??"})
_UNIX_TYPES = frozenset({"stream", "dgram", "seqpac", "seqpacket"})
#: How an address cell was cut: not at all, perhaps (it fills the cut width), surely (it cannot be read whole).
_WHOLE, _MAYBE_CUT, _CUT = 0, 1, 2

#: The PROTO cells a row may have: matched by name, so that a COMMAND holding numbers cannot pass for PID and FD.
_PROTO_CELLS = frozenset(
    [f"{name}{suffix}" for name in ("tcp", "udp", "toe", "sctp", "divert", "div") for suffix in ("46", "4", "6")]
    + ["stream", "dgram", "seqpac", "seqpacket"]
)


class _Row(NamedTuple):
    """The cells of a row up to PROTO: USER, COMMAND (None when blank; may hold spaces), PID, the PROTO cell
    (with FreeBSD 10's detached ``6`` of a dual-stack socket joined back: ``tcp46``), and the cells after it."""

    user: str
    command: str | None
    pid: str
    proto: str
    cells: list[str]


def _is_id(word: str) -> bool:
    """A PID or FD cell: digits (any script: ``common.number`` refuses all but ASCII later), ``?`` or ``??``."""
    return word.isdecimal() or word in _UNKNOWN


def _match_row(line: str) -> _Row | None:
    """The cells of a sockstat row (USER COMMAND PID FD PROTO …), or None when the line is not one.

    The row is anchored on ``PID FD PROTO``: the first such three words after USER and at least one word of
    COMMAND, else right after USER (a blank COMMAND). One pass over the words: the line's length, whatever
    its spaces (a regular expression with a free-form COMMAND between two runs of spaces took cubic time).
    """
    if not line or line[0].isspace():
        return None
    words = line.split()
    count = len(words)
    at = next((i for i in range(2, count - 2) if _fits(words, i)), 0)
    if not at:
        if count < 4 or not _fits(words, 1):
            return None
        at = 1
    command: str | None = None
    if at > 1:
        # COMMAND as printed, inner spaces kept: from its first word to its last.
        start = end = line.find(words[1], len(words[0]))
        for word in words[1:at]:
            end = line.find(word, end) + len(word)
        command = line[start:end]
    proto = words[at + 2]
    after = at + 3
    if after < count and words[after] == "6":
        proto += "6"
        after += 1
    return _Row(words[0], command, words[at], proto, words[after:])


def _fits(words: list[str], at: int) -> bool:
    """Whether ``words[at:at + 3]`` can be PID FD PROTO."""
    return words[at + 2] in _PROTO_CELLS and _is_id(words[at]) and _is_id(words[at + 1])


def looks_like_header(line: str) -> bool:
    return line.split(None, 5)[:5] == _FIRST_COLUMNS[:5]


def looks_like_rows(line: str) -> bool:
    """True for a row of ``sockstat -q`` (no header): ``USER COMMAND PID FD PROTO LOCAL FOREIGN …``, anchored on
    ``PID FD PROTO`` with PROTO a sockstat protocol name (``tcp4``, ``udp46``, ``stream``...), and, for an
    internet socket, two ``host:port`` cells after it. No netstat or ss row has a protocol in its fifth word."""
    row = _match_row(line)
    if row is None:
        return False
    if row.proto in _UNIX_TYPES:
        return True
    return len(row.cells) >= 2 and ":" in row.cells[0] and ":" in row.cells[1]


def looks_like(text: str) -> bool:
    """True when the first non-blank line is sockstat's header (``USER COMMAND PID FD PROTO …``)."""
    first = next((line for line in head_lines(text, 20) if line.strip()), "")
    return looks_like_header(first)


def read_header(line: str) -> tuple[str, ...]:
    """The header's column names, two-word ones joined: ``(…, "LOCAL ADDRESS", "FOREIGN ADDRESS", "CONN STATE")``."""
    words = line.split()
    columns: list[str] = []
    index = 0
    while index < len(words):
        pair = (words[index], words[index + 1] if index + 1 < len(words) else "")
        if pair in _TWO_WORD_COLUMNS:
            columns.append(" ".join(pair))
            index += 2
        else:
            columns.append(words[index])
            index += 1
    return tuple(columns)


def parse(text: str, source: str = FORMAT, *, wide: bool | None = None) -> ParseResult:
    """Parse sockstat output. ``wide`` says whether it was made with ``-w``; None infers it (see truncation)."""
    lines = text_lines(text)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return ParseResult((), (), FORMAT)
    header = lines[first]
    if looks_like_header(header):
        columns = read_header(header)
        if list(columns[:7]) != _FIRST_COLUMNS:
            raise UnknownFormat(f"a sockstat header without LOCAL ADDRESS and FOREIGN ADDRESS: {quoted(header)}")
        has_state: bool | None = "CONN STATE" in columns or "STATE" in columns
        start = first + 1
    elif _match_row(header):
        has_state, start = None, first  # -q: no header; a state is read where a row has one
    else:
        raise UnknownFormat(f"not sockstat output: no 'USER COMMAND PID FD PROTO …' header; first: {quoted(header)}")
    return _Parse(source, has_state, wide).run(lines, start)


@dataclass(slots=True)
class _Socket:
    """One socket while its rows are read: the record of its first row, and the owners of all of them."""

    record: Connection
    #: In the order first seen; a dict, so that a socket of thousands of rows is not searched for each.
    owners: dict[Owner, None] = field(default_factory=dict)
    #: Flagged only because a cell fills the cut width: cleared if the text turns out to be wide.
    maybe_cut: bool = False


class _Parse:
    """One parse: its rows merged by socket, its issues, and what it learnt about cutting."""

    def __init__(self, source: str, has_state: bool | None, wide: bool | None) -> None:
        self.source = source
        self.has_state = has_state
        self.wide = wide
        self.sockets: dict[object, _Socket] = {}
        self.issues: list[ParseIssue] = []
        self.longer_than_cut = False
        self.unix_rows = 0  # UNIX-domain rows (-u), left out on purpose

    def run(self, lines: list[str], start: int) -> ParseResult:
        for index in range(start, len(lines)):
            line = lines[index]
            if not line.strip() or line[0] in " \t":
                continue  # blank, or an extra address line of a multi-homed SCTP socket
            try:
                self._row(line, index)
            except ValueError as error:
                self.issues.append(ParseIssue(index + 1, line, str(error)))
        skipped = (("UNIX", self.unix_rows),) if self.unix_rows else ()
        return ParseResult(tuple(self._records()), tuple(self.issues), FORMAT, skipped)

    def _records(self) -> list[Connection]:
        unflag = self.wide is None and self.longer_than_cut  # a cell over the cut width proves -w
        records = []
        for socket in self.sockets.values():
            record = socket.record
            if socket.owners:
                record = record._replace(owners=tuple(socket.owners), owner_status=OwnerStatus.KNOWN)
            if socket.maybe_cut and unflag:
                record = record._replace(truncated=False)
            records.append(record)
        return records

    def _row(self, line: str, index: int) -> None:
        match = _match_row(line)
        if match is None:
            raise ValueError("not a sockstat socket line (USER COMMAND PID FD PROTO …), or an unknown protocol")
        proto_cell = match.proto
        if proto_cell in _UNIX_TYPES:
            self.unix_rows += 1
            return  # a UNIX-domain socket (-u): not an internet socket, and a table of its own in all but layout
        name = proto_cell.rstrip("46")
        proto = PROTOCOLS.get(name)
        if proto is None:
            raise ValueError(f"not a TCP or UDP socket ({proto_cell!r}); skipped")
        cells = match.cells
        if len(cells) < 2:
            raise ValueError("expected a local and a foreign address after PROTO (a cut line?)")
        family = 4 if proto_cell.endswith("4") and not proto_cell.endswith("46") else 6
        dual = proto_cell.endswith("46")
        local_ip, local_port, interface, local_cut = self._endpoint(cells[0], family, peer=False)
        remote_ip, remote_port, _, remote_cut = self._endpoint(cells[1], family, peer=True)
        cut = max(local_cut, remote_cut)
        state = self._state(proto, cells[2:], remote_ip)
        record = Connection(
            proto,
            family,
            local_ip or "",
            local_port,
            remote_ip,
            remote_port,
            state,
            owner_status=OwnerStatus.NO_PROCESS,
            interface=interface,
            v6only=False if dual else None,
            truncated=cut > _WHOLE,
            source=self.source,
            raw=line,
        )
        owner = _owner(match.user, match.command, match.pid)
        # A row of no process is a socket of its own; a process's row may repeat a socket another one holds.
        key: object = index if owner is None else (proto_cell, cells[0], cells[1], state)
        socket = self.sockets.get(key)
        if socket is None:
            socket = self.sockets[key] = _Socket(record, maybe_cut=cut == _MAYBE_CUT)
        if owner is not None:
            socket.owners.setdefault(owner)

    def _endpoint(self, cell: str, family: int, peer: bool) -> tuple[str | None, int | None, str | None, int]:
        """(host, port, zone, how cut) of an address cell; host None for a wildcard peer. Raises ValueError."""
        if len(cell) > CUT_WIDTH:
            self.longer_than_cut = True
        may_be_cut = self.wide is not True and len(cell) == CUT_WIDTH and cell[0] == "["
        split = split_host_port(cell)
        if split is None or not split[1]:
            if may_be_cut:
                # Cut before the port: keep what is left of the host, say it is not the real one.
                return cell[1:].partition("]")[0].partition("%")[0], None, None, _CUT
            raise ValueError(f"cannot split address and port in {cell!r}")
        host, port_text, zone = split
        port = None if port_text == "*" else number(port_text, MAX_PORT, "port")
        if host == "*":
            if peer and port is None:
                return None, None, None, _WHOLE
            host = "::" if family == 6 else "0.0.0.0"
        elif family == 6 and ":" not in host:
            # An IPv4 address on a dual-stack socket, written as ss and psutil write it.
            host = IPV4_MAPPED_PREFIX + host
        return host, port, zone, _MAYBE_CUT if may_be_cut else _WHOLE

    def _state(self, proto: Proto, tail: list[str], remote_ip: str | None) -> State:
        if proto is Proto.UDP:
            return State.UNCONNECTED if remote_ip is None else State.ESTABLISHED
        for word in tail:
            state = STATE_WORDS.get(word)
            if state is not None:
                return state
        if self.has_state and not any(word in _UNKNOWN for word in tail):
            raise ValueError("no state under a state column (a cut line?)")
        return State.UNKNOWN


def _owner(user: str, command: str | None, pid: str) -> Owner | None:
    """The process a row names, or None for a socket no process holds."""
    if pid in _UNKNOWN:
        return None
    name = None if not command or command in _UNKNOWN else command
    return Owner(number(pid, MAX_PID, "PID"), name, None if user in _UNKNOWN else user)
