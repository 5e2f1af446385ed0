"""Parse the socket tables of BSD ``netstat`` (macOS, FreeBSD) into records.

Input: ``netstat -an``, ``-an -p tcp|udp``, ``-anv -p tcp|udp``, ``-An``, ``-Abn`` (macOS), ``-an``, ``-Aa``,
``-AanP``, ``-anT``, ``-anx`` (FreeBSD), with or without ``-n``. One socket a line, columns found from the header
that follows an ``Active Internet connections`` title::

    Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)
    tcp4       0      0  192.168.71.163.22      192.168.71.1.56321     ESTABLISHED
    tcp46      0      0  *.55047                *.*                    LISTEN
    udp4       0      0  *.514                  *.*

- Columns are whitespace tokens, read by header name, never by position. Before ``Proto`` there may be ``Socket
  Flowhash`` (macOS ``-A``) or ``Tcpcb`` (FreeBSD ``-A``); after ``(state)``: ``rxbytes txbytes`` (macOS ``-b``, and
  ``-v`` since macOS 15), ``Log ID`` (FreeBSD ``-P``, TCP rows only), ``R-MBUF S-MBUF … rcvtime`` (FreeBSD ``-x``: no
  state), ``flowid ftype`` (FreeBSD ``-R``: no state), and with ``-v`` the owner. FreeBSD ``-T`` prints ``Rexmit
  OOORcv 0-win`` in place of the queues (TCP rows only: a UDP row leaves them blank) and no state; the queues are then
  None. Rows without their header (``netstat -an | grep 631``) are read with the columns up to ``(state)``
  (``looks_like_rows`` tells them: ``host.port`` cells, never a colon before the port as Linux writes), and their
  owners are not reported. macOS 10.14 prints ``rhiwat shiwat pid epid state options``; macOS 15 puts ``rxbytes
  txbytes`` in front, so the pid moved two columns right; macOS 26 merges name and pid into one ``process:pid`` cell
  whose name may hold spaces and colons (``Autodesk Fusion:22712``): the pid follows the last colon, and the cell is
  whatever lies between the columns counted from the left and those counted from the right (a bare pid, no name, is
  read too: https://github.com/sindresorhus/pid-port/pull/15 says "most" rows carry one). The ``pid`` column is the
  socket's last user (``so_last_pid``); ``epid`` (the process a daemon acts for) is not an owner. A pid of 0 is the
  kernel: no owner, ``NO_PROCESS``. A cell with no pid (blank, ``?``, ``-``, a bare name) keeps its socket with no
  owner, ``NOT_REPORTED`` (an Owner needs a pid; ``raw`` keeps the name). Without a pid column the owners are not
  reported (``has_pids`` says which): ask lsof (``nettop.formats.lsof``).
- Proto: ``tcp udp icm`` followed by ``4``, ``6`` or ``46``; the family is the proto's. ``46`` is a dual-stack socket:
  family 6, ``v6only=False``; a ``6`` socket bound to the wildcard gets ``v6only=True`` (binding an IPv6 socket to the
  wildcard gives it the IPv4 flag unless IPV6_V6ONLY is set); other sockets do not say (None). A TCP row under a
  header without ``(state)`` (FreeBSD ``-T``, ``-x``) is UNKNOWN. ``icm`` (macOS ICMP datagram sockets, ``ping``) is
  read as RAW, the closest protocol the model has.
- State: a TCP row always has a word (``SYN_RCVD``, ``FIN_WAIT_1``...); a word nettop does not know, or the number
  netstat prints for an out-of-range state, is UNKNOWN (the row's raw text keeps it). UDP and ICMP rows have none:
  UNCONNECTED, or ESTABLISHED when the peer is not the wildcard.
- Addresses are ``host.port``, split on the last dot: ``192.168.71.163.22``, ``fe80::1%lo0.123`` (scope → interface),
  ``*.22``, ``*.*``. A ``*`` host is the any address (``0.0.0.0``, or ``::`` on a family-6 socket), a ``*`` port is
  None, and a ``*.*`` peer is no peer (None, None). An IPv4 host on a family-6 socket is written IPv4-mapped
  (``::ffff:127.0.0.1``), as the Linux parsers do. Without ``-n`` hosts are names, kept as written, and ports are
  service names, looked up (``common.port_or_service``): a name nettop cannot number keeps its row, port None and the
  name in ``local_service``/``remote_service``, unless the cell fills its column: then it is taken for a longer name
  cut short (below), and no name is kept.
- Truncation: netstat cuts a host to 16 characters (12 with ``-A`` without ``-n``; 39 for IPv6 with macOS ``-l``),
  then the whole ``host.port`` cell to the column width (22; 18 with ``-A``; 45 with ``-l``), so even port digits
  vanish (``fe80::aede:48ff:.5``) and what is left still looks valid. Every record with a host as long as the cap, or
  a cell as long as the column, gets ``truncated=True``; a service name cut short (``sunpr``, of ``sunproxyadmin``)
  gives port None, no service name, and ``truncated=True``. A cell longer than the column proves ``-W`` (nothing cut):
  cell widths and IPv4 hosts then raise no flag. The column width is read from the header's spacing: that is all its
  positions serve.
- Other tables in the output (UNIX, Multipath, kernel control and event sockets) are left out, their rows counted by
  kind in ``ParseResult.skipped``. The Multipath table has a layout of its own (``Proto/ID Flags``): MPTCP connections
  without addresses, each followed by its ``tcp4/00`` subflows. ``Some tcp sockets may have been deleted.`` notes are
  skipped too. Route, interface, statistics (``tcp:``) and multicast (``-g``) outputs raise NotASocketTable
  (``other_table`` names them, for a format detector); Solaris netstat (``TCP: IPv4`` sections, ``Swind``/``Rwind``
  columns) raises UnknownFormat by name (``solaris_netstat``). Headers are read in English: run netstat with
  ``LC_ALL=C``.
- Numbers are ASCII digits in range (``common.number``): a queue written ``²``, a port above 65535 or a pid above
  2**31-1 makes its line an issue. Lines are cut at ``\n`` alone (``common.text_lines``).

Output: ``ParseResult`` with one ``Connection`` a socket line and one ``ParseIssue`` a line not read.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from nettop.errors import UnknownFormat
from nettop.formats.common import (
    MAX_PID,
    MAX_PORT,
    MAX_QUEUE,
    STATE_WORDS,
    head_lines,
    netstat_without_header,
    number,
    port_or_service,
    text_lines,
)
from nettop.model import (
    IPV4_MAPPED_PREFIX,
    Connection,
    Owner,
    OwnerStatus,
    ParseIssue,
    ParseResult,
    Proto,
    State,
    new_connection,
)

FORMAT = "netstat-bsd"


def _protos() -> dict[str, tuple[Proto, int, bool]]:
    table: dict[str, tuple[Proto, int, bool]] = {}
    for name, proto in (("tcp", Proto.TCP), ("udp", Proto.UDP), ("icm", Proto.RAW)):
        table[name + "4"] = (proto, 4, False)
        table[name + "6"] = (proto, 6, False)
        table[name + "46"] = (proto, 6, True)
        # Neither flag (a socket not yet given a family): macOS prints the bare name; the address tells.
        table[name] = (proto, 0, False)
    return table


#: The Proto cell → protocol, address family (0: the address says) and whether the socket is dual-stack.
PROTOS: dict[str, tuple[Proto, int, bool]] = _protos()

#: FreeBSD ``netstat -T``'s TCP counters, which take the place of the queues (inet.c, ``protopr``).
_COUNTERS = ["Rexmit", "OOORcv", "0-win"]

#: Header names of two words, so that a header splits into one name a column.
_TWO_WORDS = {"Local": "Address", "Foreign": "Address", "Log": "ID"}

_ANY = {4: "0.0.0.0", 6: "::"}

#: What a pid cell holds when it names no process.
_NO_PID = frozenset({"", "?", "??", "-"})

_new = new_connection  # a record without NamedTuple's Python-level __new__ (see model)

#: Title lines that open a table of other sockets, whose rows are skipped.
_OTHER_SECTIONS = ("Active ", "Registered kernel", "Current listen queue")

#: What the rows of each table of other sockets are, for ``ParseResult.skipped``, by the start of its title.
_SECTION_KINDS: tuple[tuple[str, str], ...] = (
    ("Active LOCAL (UNIX)", "UNIX"),
    ("Active UNIX", "UNIX"),
    ("Active Multipath", "Multipath"),
    ("Registered kernel control", "kernel control module"),
    ("Active kernel event", "kernel event"),
    ("Active kernel control", "kernel control"),
    ("Current listen queue", "listen queue"),
)


def _section_kind(title: str) -> str:
    return next((kind for start, kind in _SECTION_KINDS if title.startswith(start)), title.rstrip(":"))


#: First words of outputs that are tables but not socket lists, and what they are.
_OTHER_TABLES: tuple[tuple[str, str], ...] = (
    ("Routing tables", "a routing table (netstat -r)"),
    ("Internet:", "a routing table (netstat -r)"),
    ("Internet6:", "a routing table (netstat -r)"),
    ("Destination ", "a routing table (netstat -r)"),
    ("Active LOCAL (UNIX) domain sockets", "a list of UNIX domain sockets (netstat -f unix)"),
    ("Active UNIX domain sockets", "a list of UNIX domain sockets (netstat -f unix)"),
    ("Active Multipath Internet connections", "a list of Multipath TCP connections"),
    ("Registered kernel control modules", "a list of kernel control modules"),
    ("Active kernel", "a list of kernel event or control sockets"),
    ("Current listen queue sizes", "a list of listen queue sizes (netstat -L)"),
    # FreeBSD netstat -g (mroute.c, mroute6.c); older systems leave out the "IPv4 ".
    ("IPv4 Virtual Interface Table", "multicast routing tables (netstat -g)"),
    ("Virtual Interface Table", "multicast routing tables (netstat -g)"),
    ("IPv4 Multicast Forwarding", "multicast routing tables (netstat -g)"),
    ("IPv6 Multicast Interface Table", "multicast routing tables (netstat -g)"),
    ("IPv6 Multicast Forwarding", "multicast routing tables (netstat -g)"),
)

#: Solaris netstat's section titles (``TCP: IPv4``) and the columns only its TCP table has.
_SOLARIS_TITLE = re.compile(r"(TCP|UDP|SCTP|ICMP|RAW): IPv[46]")
_SOLARIS_COLUMNS = ("Swind", "Rwind")


class Layout(NamedTuple):
    """What a header announces: where Proto is, whether TCP rows have a state, and where the owner is."""

    #: Cells before Proto: ``Socket Flowhash`` (macOS -A) or ``Tcpcb`` (FreeBSD -A).
    lead: int = 0
    state: bool = True
    #: How many columns follow ``(state)``.
    tail: int = 0
    #: Index of ``pid`` among the columns after ``(state)``; -1 when there is none.
    pid_at: int = -1
    #: Index of the merged ``process:pid`` column among them (macOS 26); -1 when there is none.
    process_at: int = -1
    #: The width netstat cuts an address cell to.
    width: int = 22
    #: FreeBSD ``-T``: ``Rexmit OOORcv 0-win`` counters (TCP rows only) in place of the queues.
    counters: bool = False


def header_names(line: str) -> list[str]:
    """A header's column names, ``Local Address`` and the like joined back into one name."""
    words = line.split()
    names: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if index + 1 < len(words) and _TWO_WORDS.get(word) == words[index + 1]:
            names.append(f"{word} {words[index + 1]}")
            index += 2
        else:
            names.append(word)
            index += 1
    return names


def read_header(line: str) -> Layout | None:
    """The layout a BSD internet table header announces, or None when the line is not one.

    Linux netstat's header (``State`` without parentheses) is not one.
    """
    if "Local Address" not in line:
        return None
    names = header_names(line)
    if "Proto" not in names:
        return None
    lead = names.index("Proto")
    counters = names[lead : lead + 6] == ["Proto", *_COUNTERS, "Local Address", "Foreign Address"]
    if counters:
        rest = names[lead + 6 :]
    elif names[lead : lead + 5] == ["Proto", "Recv-Q", "Send-Q", "Local Address", "Foreign Address"]:
        rest = names[lead + 5 :]
    else:
        return None
    state = bool(rest) and rest[0].lower() == "(state)"
    if state:
        rest = rest[1:]
    elif rest and rest[0] == "State":
        return None  # Linux netstat
    process_at = next((i for i, name in enumerate(rest) if name.endswith(":pid")), -1)
    pid_at = rest.index("pid") if "pid" in rest else -1
    width = line.find("Foreign Address") - line.find("Local Address") - 1
    return Layout(lead, state, len(rest), pid_at, process_at, width if width >= 18 else 22, counters)


def looks_like_header(line: str) -> bool:
    """True for a BSD internet table header: ``Proto Recv-Q Send-Q Local Address Foreign Address (state)``, or
    FreeBSD's stateless ones: ``-T`` (``Proto Rexmit OOORcv 0-win Local Address Foreign Address``), ``-x``
    (``… Foreign Address R-MBUF S-MBUF …``) and ``-R`` (``… Foreign Address flowid ftype``)."""
    layout = read_header(line)
    if layout is None:
        return False
    if "(state)" in line.lower() or layout.counters:
        return True
    names = header_names(line)
    after = names[names.index("Foreign Address") + 1 :]
    return after[:2] in (["R-MBUF", "S-MBUF"], ["flowid", "ftype"])


def looks_like_rows(line: str) -> bool:
    """True for a socket row without its header (``netstat -an | grep …``): a BSD protocol, two queue sizes, and
    two ``host.port`` cells. Linux netstat rows (``127.0.0.1:631``, ``0.0.0.0:*``, ``:::22``) have a colon
    before the port, or no dot at all, so they are not claimed; nor are ss rows, whose second word is a state."""
    words = line.split(None, 6)
    if len(words) < 5 or words[0] not in PROTOS:
        return False
    queues = words[1:3]
    return all(q.isdigit() and q.isascii() for q in queues) and _is_cell(words[3]) and _is_cell(words[4])


def _is_cell(word: str) -> bool:
    """A BSD ``host.port`` cell: something before the last dot, and a port after it that holds no colon."""
    host, dot, port = word.rpartition(".")
    return bool(dot and host and port) and ":" not in port


def looks_like(text: str) -> bool:
    """True when one of the first lines is a BSD internet table header.

    Keys on the ``(state)`` column name in parentheses and the ``Local Address``/``Foreign Address`` pair:
    Linux netstat writes ``State`` and ss ``Local Address:Port``, so neither is claimed.
    """
    head = [line for line in head_lines(text, 40) if line.strip()][:12]
    return any(looks_like_header(line) for line in head)


def has_pids(text: str) -> bool:
    """Whether the listing shows owners (macOS ``-v``): when not, a caller should ask lsof for them."""
    for line in text_lines(text):
        layout = read_header(line)
        if layout is not None:
            return layout.pid_at >= 0 or layout.process_at >= 0
    return False


def parse(text: str, source: str = "netstat") -> ParseResult:
    """Parse BSD netstat's internet socket table(s)."""
    lines = text_lines(text)
    for index, line in enumerate(lines):
        layout = read_header(line)
        if layout is not None:
            return _Reader(source, layout).read(lines, index + 1)
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is not None and looks_like_rows(lines[first]):
        # Rows without their header (grep): the columns are the default ones, Proto to (state); what follows
        # the state (-v's owner, -b's byte counts) cannot be placed, so owners are not reported.
        return _Reader(source, Layout()).read(lines, first)
    if solaris_netstat(text):
        raise UnknownFormat("Solaris netstat output is not supported")
    return _without_header(lines)


def _without_header(lines: list[str]) -> ParseResult:
    header = "Proto Recv-Q Send-Q Local Address Foreign Address (state)"
    return netstat_without_header(lines, FORMAT, "BSD netstat", header, other_table, PROTOS)


def other_table(line: str) -> str:
    """What kind of non-socket table a first line opens, or '' when it opens none nettop knows."""
    for start, what in _OTHER_TABLES:
        if line.startswith(start):
            return what
    words = line.split()
    if words[:2] == ["Name", "Mtu"]:
        return "an interface table (netstat -i)"
    if len(words) == 1 and line.endswith(":") and line[:-1].isalnum() and line.islower():
        return "protocol statistics (netstat -s)"  # "tcp:", "udp:", "ip6:" …
    return ""


def solaris_netstat(text: str) -> bool:
    """True for Solaris (illumos) netstat: sections titled ``TCP: IPv4``/``UDP: IPv6``, or a TCP header with
    ``Swind`` and ``Rwind``. Its rows are ``host.port`` as BSD's, but its columns are not (the addresses come
    first, no Proto column): nettop refuses it by name rather than misread it."""
    for line in head_lines(text, 12):
        stripped = line.strip()
        if _SOLARIS_TITLE.fullmatch(stripped):
            return True
        words = stripped.split()
        if "Local Address" in stripped and all(column in words for column in _SOLARIS_COLUMNS):
            return True
    return False


#: A converted address cell: host (None for a wildcard peer), port, interface, the length of the host as printed
#: (with its scope), whether it is IPv6, whether its port was a service name cut with its cell (port lost), and a
#: whole service name nettop cannot number (the port None, the name kept).
_Endpoint = tuple[str | None, int | None, str | None, int, bool, bool, str | None]
_NO_PEER: _Endpoint = (None, None, None, 0, False, False, None)


class _Reader:
    """One parse: the layout in force, caches of converted cells and owners, and the truncation evidence."""

    def __init__(self, source: str, layout: Layout) -> None:
        self.source = source
        self.layout: Layout | None = layout  # None inside a table of other sockets, whose lines are skipped
        self.records: list[Connection] = []
        self.issues: list[ParseIssue] = []
        # Per parse, so a service lookup or an owner is made once however many lines repeat it.
        self.cells: dict[tuple[str, Proto, int, bool], _Endpoint] = {}
        self.owners: dict[str, tuple[tuple[Owner, ...], OwnerStatus]] = {}
        # Truncation evidence, settled once every line is read: (record index, a cell as wide as its column,
        # longest IPv4/name host, longest IPv6 host, a cut service name, that record's column width).
        self.evidence: list[tuple[int, bool, int, int, bool, int]] = []
        self.wide = False  # a cell longer than its column: -W, nothing was cut
        self.names = False  # a port written as a service name: no -n
        # Rows of tables of other sockets, left out on purpose, by kind; the kind of the table being skipped and
        # whether its header is still to come.
        self.skipped: dict[str, int] = {}
        self.other = ""
        self.other_header = False

    def read(self, lines: list[str], first: int) -> ParseResult:
        """Read from ``lines[first]``, the first line after the header (or the first row, without one)."""
        for line_no in range(first + 1, len(lines) + 1):
            line = lines[line_no - 1]
            layout = self.layout
            if layout is None:
                self.layout = self._section(line, None, line_no)
                continue
            parts = line.split(None, layout.lead + 5)
            spec = PROTOS.get(parts[layout.lead]) if len(parts) > layout.lead else None
            if spec is None:
                if parts:
                    self.layout = self._section(line, layout, line_no)
                continue
            try:
                self.records.append(self._row(line, parts, spec, layout))
            except ValueError as error:
                self.issues.append(ParseIssue(line_no, line, str(error)))
        self._settle_truncation()
        return ParseResult(tuple(self.records), tuple(self.issues), FORMAT, tuple(self.skipped.items()))

    def _section(self, line: str, layout: Layout | None, line_no: int) -> Layout | None:
        """A line that is not a socket row: a title, a header, a note, a row of another table, or garbage.

        Returns the layout to read the next lines with, None inside a table of other sockets.
        """
        stripped = line.strip()
        if not stripped:
            return layout
        header = read_header(stripped)
        if header is not None:
            return header
        if stripped.startswith("Active Internet connections"):
            return layout or Layout()  # the header that follows sets the real layout
        if stripped.startswith(_OTHER_SECTIONS):
            self.other, self.other_header = _section_kind(stripped), True
            return None
        if layout is None:
            self._skip(line)  # a row of a table of other sockets, or its header
            return None
        if stripped.startswith("Some ") and " sockets may have been " in stripped:
            return layout  # netstat noting that the list changed while it was read
        first = stripped.split(None, 1)[0]
        self.issues.append(
            ParseIssue(line_no, line, f"not a socket line of a known protocol (first word {first[:20]!r})")
        )
        return layout

    def _skip(self, line: str) -> None:
        """Count a row of a table of other sockets (its header, right under the title, is not one)."""
        if self.other_header:
            self.other_header = False
        elif " sockets may have been " in line:
            pass
        elif not (self.other == "Multipath" and line[:1].isspace()):  # a subflow or detail of the last MPTCP row
            self.skipped[self.other] = self.skipped.get(self.other, 0) + 1

    def _row(self, line: str, parts: list[str], spec: tuple[Proto, int, bool], layout: Layout) -> Connection:
        """One socket line into a record; raises ValueError."""
        if layout.counters:
            recv_size, send_size, local, peer, rest = _counter_cells(line, layout.lead)
        else:
            lead = layout.lead
            if len(parts) < lead + 5:
                raise ValueError(f"expected at least {lead + 5} columns, found {len(parts)} (a cut line?)")
            recv_q, send_q, local, peer = parts[lead + 1], parts[lead + 2], parts[lead + 3], parts[lead + 4]
            recv_size = 0 if recv_q == "0" else number(recv_q, MAX_QUEUE, "queue size (Recv-Q)")
            send_size = 0 if send_q == "0" else number(send_q, MAX_QUEUE, "queue size (Send-Q)")
            rest = parts[lead + 5] if len(parts) > lead + 5 else ""
        proto, family, dual = spec
        if not family:
            family = 6 if ":" in local.rpartition(".")[0] else 4

        local_ip, local_port, local_if, local_len, local_v6, local_cut, local_service = self._endpoint(
            local, proto, family, False
        )
        remote_ip, remote_port, remote_if, remote_len, remote_v6, remote_cut, remote_service = self._endpoint(
            peer, proto, family, True
        )

        state, rest = _state(proto, layout, rest, remote_ip)
        owners, status = self._owners_of(rest, layout)
        # A 46 socket is dual-stack; a 6 socket bound to the wildcard refuses IPv4; others do not say.
        v6only = False if dual else (True if family == 6 and local.startswith("*.") else None)

        width = layout.width
        longest = len(local) if len(local) > len(peer) else len(peer)
        if longest >= width or local_len >= 12 or remote_len >= 12 or local_cut or remote_cut:
            # Rare enough (long hosts, full cells) to be weighed after the last line; see _settle_truncation.
            cut = local_cut or remote_cut
            self._note_long_cells(longest, width, (local_len, local_v6), (remote_len, remote_v6), cut)

        return _new(
            (
                proto,
                family,
                local_ip or _ANY[family],
                local_port,
                remote_ip,
                remote_port,
                state,
                owners,
                status,
                local_if or remote_if,
                recv_size,
                send_size,
                None,
                None,
                v6only,
                False,
                self.source,
                line,
                local_service,
                remote_service,
                None,  # traffic
                None,  # netns
                None,  # placement
                None,  # host
            ),
        )

    def _owners_of(self, rest: str, layout: Layout) -> tuple[tuple[Owner, ...], OwnerStatus]:
        """The owners the row's pid or process:pid cell names, through the cache; none without such a column."""
        if layout.process_at < 0 and layout.pid_at < 0:
            return (), OwnerStatus.NOT_REPORTED
        cell = _process_cell(rest, layout) if layout.process_at >= 0 else _pid_cell(rest, layout.pid_at)
        seen = self.owners.get(cell)
        if seen is None:
            seen = self.owners[cell] = _owner(cell, layout.process_at >= 0)
        return seen

    def _note_long_cells(
        self, longest: int, width: int, local: tuple[int, bool], remote: tuple[int, bool], cut: bool
    ) -> None:
        """Keep what a row says about truncation: its longest cell, its longest IPv4 and IPv6 hosts."""
        if longest > width:
            self.wide = True
        (local_len, local_v6), (remote_len, remote_v6) = local, remote
        v4_host = max(local_len if not local_v6 else 0, remote_len if not remote_v6 else 0)
        v6_host = max(local_len if local_v6 else 0, remote_len if remote_v6 else 0)
        self.evidence.append((len(self.records), longest >= width, v4_host, v6_host, cut, width))

    def _endpoint(self, cell: str, proto: Proto, family: int, peer: bool) -> _Endpoint:
        """Convert a ``host.port`` cell, through the cache; raises ValueError."""
        key = (cell, proto, family, peer)
        endpoint = self.cells.get(key)
        if endpoint is None:
            endpoint = self.cells[key] = self._convert(cell, proto, family, peer)
        return endpoint

    def _convert(self, cell: str, proto: Proto, family: int, peer: bool) -> _Endpoint:
        host, dot, port_text = cell.rpartition(".")
        if not dot or not host or not port_text:
            raise ValueError(f"cannot split address and port in {cell!r}")
        if peer and host == "*" and port_text == "*":
            return _NO_PEER
        printed = len(host)
        v6 = ":" in host
        interface: str | None = None
        if "%" in host:
            host, _, interface = host.partition("%")
        if host == "*":
            host = _ANY[family]
        elif family == 6 and not v6 and _is_ipv4(host):
            host = IPV4_MAPPED_PREFIX + host  # an IPv4-mapped address on an IPv6 socket, as ss and psutil write it
        cut = False
        service: str | None = None
        if port_text.isdigit():
            port: int | None = number(port_text, MAX_PORT, "port")
        elif port_text == "*":
            port = None
        else:
            self.names = True
            port, service = _service(port_text, proto)
            if service is not None and len(cell) >= (self.layout or Layout()).width:
                # A name nettop does not know in a cell as wide as its column: most likely a longer name cut
                # short (``sunpr`` for ``sunproxyadmin``), not a service. The port is lost; the record is flagged.
                service, cut = None, True
        return (host, port, interface, printed, v6, cut, service)

    def _settle_truncation(self) -> None:
        """Flag the records whose cells may have been cut, now that the whole text says whether -W or -n was used."""
        for index, at_width, v4_host, v6_host, port_cut, width in self.evidence:
            cap = 12 if width == 18 and self.names else 16  # -A without -n keeps 12 characters of a host
            v6_cap = 39 if width >= 45 else cap  # macOS -l keeps an IPv6 host whole
            cut = port_cut or v6_host >= v6_cap or (not self.wide and (at_width or v4_host >= cap))
            if cut:
                self.records[index] = self.records[index]._replace(truncated=True)


def _pid_cell(rest: str, pid_at: int) -> str:
    """The ``pid`` cell among the columns after the state; raises ValueError."""
    cells = rest.split(None, pid_at + 1)
    if len(cells) <= pid_at:
        raise ValueError("no pid (a cut line?)")
    return cells[pid_at]


def _process_cell(rest: str, layout: Layout) -> str:
    """The ``process:pid`` cell, whose name may hold spaces: what lies between the columns on either side."""
    before, after = layout.process_at, layout.tail - layout.process_at - 1
    cells = rest.split(None, before)
    if len(cells) <= before:
        raise ValueError("no process:pid (a cut line?)")
    pieces = cells[before].rsplit(None, after) if after else [cells[before].rstrip()]
    if len(pieces) == after:
        return ""  # the columns on either side are all there: the cell is blank
    if len(pieces) < after:
        raise ValueError("no process:pid and the columns after it (a cut line?)")
    return pieces[0]


def _counter_cells(line: str, lead: int) -> tuple[None, None, str, str, str]:
    """FreeBSD ``-T``: the address cells and what follows them, past the three counters a TCP row has and a UDP
    row leaves blank; no queues. Raises ValueError."""
    parts = line.split(None, lead + 2)
    skip = 3 if len(parts) > lead + 1 and parts[lead + 1].isdigit() else 0  # an address holds dots
    cells = line.split(None, lead + 3 + skip)
    if len(cells) < lead + 3 + skip:
        raise ValueError(f"expected at least {lead + 3 + skip} columns, found {len(cells)} (a cut line?)")
    rest = cells[lead + 3 + skip] if len(cells) > lead + 3 + skip else ""
    return None, None, cells[lead + 1 + skip], cells[lead + 2 + skip], rest


def _owner(cell: str, named: bool) -> tuple[tuple[Owner, ...], OwnerStatus]:
    """A ``pid`` or ``name:pid`` cell into owners and their status; raises ValueError.

    A cell that names no pid keeps its socket, its owners not reported: none for a blank, ``?`` or ``-``; for a
    bare name (``name:?``, or no ``:pid``) an owner of that name whose pid is unknown.
    """
    if cell in _NO_PID:
        return (), OwnerStatus.NOT_REPORTED
    name: str | None = None
    pid_text = cell
    if named and not cell.isdigit():  # macOS 26 leaves the name out when it has none: the pid alone
        name, colon, pid_text = cell.rpartition(":")
        if not colon or pid_text in _NO_PID or not pid_text.isdigit():  # a name without a pid
            named_only = name if colon else cell
            return ((Owner(None, named_only),) if named_only else ()), OwnerStatus.NOT_REPORTED
    pid = number(pid_text, MAX_PID, "pid")
    if pid == 0:
        return (), OwnerStatus.NO_PROCESS  # pid 0 is the kernel (kernel_task)
    return (Owner(pid, name or None),), OwnerStatus.KNOWN


def _is_ipv4(host: str) -> bool:
    return host.count(".") == 3 and host.replace(".", "").isdigit()


@lru_cache(maxsize=512)
def _service(text: str, proto: Proto) -> tuple[int | None, str | None]:
    """A port netstat printed as a service name (no -n): (number, None), or (None, name) for a name nettop cannot
    number. Raises ValueError for what is not shaped like a name."""
    return port_or_service(text, proto)


def _state(proto: Proto, layout: Layout, rest: str, remote_ip: str | None) -> tuple[State, str]:
    """The row's state and what follows it; raises ValueError for a TCP row cut before its state."""
    if proto is Proto.TCP and layout.state:
        word, _, rest = rest.partition(" ")
        if not word:
            raise ValueError("no state (a cut line?)")
        return STATE_WORDS.get(word, State.UNKNOWN), rest
    if proto is Proto.TCP:
        return State.UNKNOWN, rest  # a header without (state): FreeBSD -T, -x
    return (State.UNCONNECTED if remote_ip is None else State.ESTABLISHED), rest
