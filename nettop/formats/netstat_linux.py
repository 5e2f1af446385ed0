"""Parse the text of Linux net-tools ``netstat`` (``-tunapW``, ``-tuap``, ``-plnt``, ``-tunaepW``, ``-wanp``, ``-o``)
into records.

Input, one socket a line, columns found from the header (which may follow an ``Active Internet connections`` title)::

    Proto Recv-Q Send-Q Local Address    Foreign Address  State       User   Inode   PID/Program name     Timer
    tcp        0      0 0.0.0.0:22       0.0.0.0:*        LISTEN      0      20305   600/sshd: /usr/sbin  off (0.00/0/0)
    udp        0      0 127.0.0.1:18082  0.0.0.0:*                    65534  391333  6697/python3         off (0.00/0/0)

- Columns are whitespace tokens, never character offsets (``-W`` lets a long address push the rest right).
  Optional columns, by header name: ``User`` and ``Inode`` (``-e``), ``PID/Program name`` (``-p``), ``Security
  Context`` (``-Z``, one token), ``Timer`` (``-o``: ``off (0.00/0/0)``, two tokens). The program cell may hold
  spaces (``600/sshd: /usr/sbin``), so it is what is left once the other cells are taken from both ends.
- Proto: ``tcp udp raw`` and their ``6`` forms; ``udpl``/``udpl6`` (UDP-Lite, ``-U``) are read as UDP, the
  closest protocol the model has. The family is the proto's, not the address's: a ``tcp6`` row showing
  ``127.0.0.1:18084`` is an IPv4-mapped socket and is stored as ``::ffff:127.0.0.1``, as ss and psutil show it.
- State: a TCP row always has a word. A UDP row's cell is empty unless the socket is connected
  (``ESTABLISHED``), so the next token may already be the User or the program; an empty cell means UNCONNECTED,
  or ESTABLISHED when the peer is not a wildcard. A raw row shows the kernel's number: 7 (TCP_CLOSE, no peer)
  is UNCONNECTED, which is what ss prints for the same socket; 1 is ESTABLISHED; any other is UNKNOWN. State
  words are matched case-sensitively (netstat prints them upper-case), so a user called ``listen`` stays a user.
- Addresses: never bracketed, no scope; the port follows the last colon (``:::22``, ``::1:5432``). Without ``-n``
  hosts are names, kept as written (``localhost``), ``[::]`` is ``::``, and ports are service names, looked up
  (``http-alt`` → 8080); a line whose service is unknown here becomes an issue. A raw socket's "port" is its IP
  protocol (``0.0.0.0:1``, ``[::]:ipv6-icmp`` → 58), as in ss. Peers ``0.0.0.0:*``, ``:::*``, ``[::]:*``,
  ``*:*`` are wildcards (remote_ip and remote_port None); a ``*`` host (old net-tools) is the any address.
- Truncation: without ``-W`` netstat cuts a host so that ``host:port`` is exactly 23 characters (the port is
  kept, the host loses its tail) and the result still looks valid: ``2001:db8:1234:567:18086``,
  ``fe80::70ce:e8ff:f:18088``, ``localhost.localdoma:ssh``. A cell that was not cut can be 23 long too, and
  nothing in the text tells them apart, so every 23-character cell counts as possibly cut: its record gets
  ``truncated=True``. Shorter cells are never cut (an IPv4 ``host:port`` is at most 21). Only wide output is
  exempt: ``wide=True`` from a caller that ran ``-W``, or any cell longer than 23 in the same text (which
  proves ``-W``). Wide output whose cells all fit in 23 is therefore flagged too: better a false alarm than a
  wrong address passed off as real.
- PID/Program: ``6697/python3`` → ``Owner(6697, "python3")``; ``-`` → no owner (not root, or no process holds
  it). netstat shows one owner per socket even when several processes hold it, and names it from argv[0]
  (not comm, as ss and psutil do), cut to fit 20 characters (``1817931/zabbix_agen``). ``User`` (``-e``): a
  number (``-n``) fills ``uid``; a name (``systemd-resolve``, long enough to push the Inode right, which
  whitespace tokens absorb) fills the owner's ``user``, as the socket's user is its creator's. ``Inode`` 0
  (TIME_WAIT and the like) → None.
- Numbers are ASCII digits in range (``common.number``): a queue written ``²``, a port above 65535 or a pid
  above 2**31-1 makes its line an issue.
- Other tables in the same output (``Active UNIX domain sockets``, Bluetooth, IPX...) are skipped silently;
  route, interface, multicast-group and statistics outputs raise NotASocketTable. Headers are read in English:
  run netstat with ``LC_ALL=C``.

Output: ``ParseResult`` with one ``Connection`` a socket line and one ``ParseIssue`` a line not read.
"""

from __future__ import annotations

import socket
from functools import lru_cache
from typing import NamedTuple

from nettop.formats.common import (
    MAX_INODE,
    MAX_PID,
    MAX_PORT,
    MAX_QUEUE,
    MAX_UID,
    STATE_WORDS,
    cached_number,
    is_lookup_name,
    netstat_without_header,
    number,
    port_number,
    quoted,
    split_host_port,
    text_lines,
)
from nettop.model import (
    WILDCARD_HOSTS,
    Connection,
    Owner,
    OwnerStatus,
    ParseIssue,
    ParseResult,
    Proto,
    State,
    new_connection,
)

FORMAT = "netstat-linux"

#: The Proto cell → protocol and address family.
PROTOS: dict[str, tuple[Proto, int]] = {
    "tcp": (Proto.TCP, 4),
    "tcp6": (Proto.TCP, 6),
    "udp": (Proto.UDP, 4),
    "udp6": (Proto.UDP, 6),
    "udpl": (Proto.UDP, 4),
    "udpl6": (Proto.UDP, 6),
    "raw": (Proto.RAW, 4),
    "raw6": (Proto.RAW, 6),
}

#: The width netstat cuts ``host:port`` to without -W (net-tools ``addr_do_one``: host + port > 22 → 22 + ':').
CUT_WIDTH = 23

#: A raw socket's numeric state (the kernel's TCP_* numbering).
RAW_STATES: dict[str, State] = {"1": State.ESTABLISHED, "7": State.UNCONNECTED}

#: IP protocol names netstat may print as a raw socket's port without -n, for hosts without /etc/protocols.
IP_PROTOCOLS: dict[str, int] = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "icmpv6": 58, "raw": 255}

_ANY = {4: "0.0.0.0", 6: "::"}

#: First words of outputs that are tables but not socket lists, and what they are.
_OTHER_TABLES: tuple[tuple[str, str], ...] = (
    ("Kernel IP routing table", "a routing table (netstat -r)"),
    ("Kernel IPv6 routing table", "a routing table (netstat -r)"),
    ("Kernel IP routing cache", "a routing cache (netstat -rC)"),
    ("Destination ", "a routing table (netstat -r)"),
    ("Kernel Interface table", "an interface table (netstat -i)"),
    ("Iface ", "an interface table (netstat -i)"),
    ("IPv6/IPv4 Group Memberships", "a multicast group list (netstat -g)"),
    ("IPv4 Group Memberships", "a multicast group list (netstat -g)"),
    ("Interface       RefCnt Group", "a multicast group list (netstat -g)"),
    ("Kernel IP masquerading", "a masquerade table (netstat -M)"),
    ("Ip:", "protocol statistics (netstat -s)"),
    ("Icmp:", "protocol statistics (netstat -s)"),
    ("Tcp:", "protocol statistics (netstat -s)"),
    ("Udp:", "protocol statistics (netstat -s)"),
    ("Name ", "an interface table (netstat -i)"),
    ("Active UNIX domain sockets", "a list of UNIX domain sockets (netstat -x)"),
    ("Active Bluetooth connections", "a list of Bluetooth sockets"),
    ("Active IPX sockets", "a list of IPX sockets"),
    ("Active AX.25 sockets", "a list of AX.25 sockets"),
    ("Active NET/ROM sockets", "a list of NET/ROM sockets"),
    ("Active X.25 sockets", "a list of X.25 sockets"),
    ("Active ROSE sockets", "a list of ROSE sockets"),
)


class Layout(NamedTuple):
    """Which optional columns a header announces, after the fixed ``Proto … Foreign Address``."""

    state: bool = True
    user_inode: bool = False
    program: bool = False
    context: bool = False
    timer: bool = False


def looks_like_header(line: str) -> bool:
    """True for Linux netstat's internet table header: not the UNIX one (``Proto RefCnt``), nor BSD's (``(state)``)."""
    return line.startswith("Proto") and line.split(None, 3)[:3] == ["Proto", "Recv-Q", "Send-Q"] and "State" in line


def read_header(line: str) -> Layout:
    words = line.split()
    return Layout(
        state="State" in words,
        user_inode="Inode" in words,
        program="PID/Program" in words,
        context="Context" in words,
        timer="Timer" in words,
    )


def parse(text: str, source: str = "netstat", *, wide: bool | None = None) -> ParseResult:
    """Parse netstat's internet socket table(s).

    ``wide`` says whether the output was made with ``-W``; None infers it (see the module docstring on
    truncation).
    """
    lines = text_lines(text)
    for index, line in enumerate(lines):
        if line[:5] == "Proto" and looks_like_header(line):
            return _parse_rows(lines, index, source, wide)
    return _without_header(lines)


def _without_header(lines: list[str]) -> ParseResult:
    header = "Proto Recv-Q Send-Q Local Address Foreign Address State"
    return netstat_without_header(lines, FORMAT, "Linux netstat", header, _other_table, PROTOS)


def _other_table(line: str) -> str | None:
    for start, what in _OTHER_TABLES:
        if line.startswith(start) and (start != "Name " or "Mtu" in line):
            return what
    return None


#: A converted address cell: host (None for a wildcard peer), port, and 0/1/2 for shorter/equal/longer
#: than CUT_WIDTH.
_Endpoint = tuple[str | None, int | None, int]


def _parse_rows(lines: list[str], start: int, source: str, wide: bool | None) -> ParseResult:  # noqa: C901 - the hot loop, long on purpose
    """The records and issues of the table whose header is ``lines[start]``.

    One loop with local names and per-parse caches, long on purpose: it runs for every socket of a busy server,
    and each helper call per line would cost a few percent of the parse (see the README's callgrind figures).
    """
    records: list[Connection] = []
    issues: list[ParseIssue] = []
    # Per parse, so a name lookup or an owner is made once however many lines repeat it: the cell text →
    # (host, port, how its length compares with CUT_WIDTH: 0 below, 1 equal, 2 above), per Proto cell; the
    # program cell (with the user) → the one-owner tuple every socket of that owner shares.
    endpoints: dict[str, tuple[Proto, int, dict[str, _Endpoint], dict[str, _Endpoint]]] = {
        name: (proto, family, {}, {}) for name, (proto, family) in PROTOS.items()
    }
    owners_seen: dict[str, tuple[Owner, ...]] = {}
    queues: dict[str, int] = {}
    maybe_cut: list[int] = []  # indexes into records of lines with a cell exactly CUT_WIDTH long
    longer_than_cut = False
    flag_cut = wide is not True
    header = read_header(lines[start])
    layout: Layout | None = header  # None inside a table of other sockets, whose lines are skipped
    has_state, has_user_inode, has_program, has_context, has_timer = header
    known, not_reported = OwnerStatus.KNOWN, OwnerStatus.NOT_REPORTED
    tcp, udp = Proto.TCP, Proto.UDP
    unconnected, established, unknown = State.UNCONNECTED, State.ESTABLISHED, State.UNKNOWN
    state_words = STATE_WORDS
    new = new_connection  # a record without NamedTuple's Python-level __new__ (see model)

    for line_no, line in enumerate(lines[start + 1 :], start + 2):
        parts = line.split(None, 5)
        spec = endpoints.get(parts[0]) if parts else None
        if spec is None or layout is None:
            if parts:
                layout = _section_line(line, parts[0], layout, line_no, issues)
                if layout is not None:
                    has_state, has_user_inode, has_program, has_context, has_timer = layout
            continue
        try:
            if len(parts) < 5:
                raise ValueError(f"expected at least 5 columns, found {len(parts)} (a cut line?)")
            proto, family, local_cells, peer_cells = spec
            recv_q, send_q, local, peer = parts[1], parts[2], parts[3], parts[4]
            if recv_q == "0" and send_q == "0":  # most queues are empty: skip the checks and int()
                recv_size = send_size = 0
            else:
                recv_size = cached_number(recv_q, queues, MAX_QUEUE, "queue size (Recv-Q)")
                send_size = cached_number(send_q, queues, MAX_QUEUE, "queue size (Send-Q)")
            rest = parts[5] if len(parts) == 6 else ""

            # State, then what follows it.
            state: State | None = None
            if has_state and rest:
                word, _, tail = rest.partition(" ")
                state = state_words.get(word)
                if state is not None:
                    rest = tail
                elif proto is tcp:
                    raise ValueError(f"unknown TCP state {word!r}")
                elif proto is not udp:
                    # A raw socket's number; UDP's empty cell leaves ``rest`` to the next column.
                    if not word.isdigit():
                        raise ValueError(f"unknown raw socket state {word!r}")
                    state = RAW_STATES.get(word, unknown)
                    rest = tail
            elif proto is tcp and has_state:
                raise ValueError("no State (a cut line?)")

            local_host, local_port, local_width = local_cells.get(local) or _endpoint(
                local, proto, family, local_cells, False
            )
            remote_ip, remote_port, peer_width = peer_cells.get(peer) or _endpoint(
                peer, proto, family, peer_cells, True
            )
            if state is None:
                # UDP's empty State cell: the peer tells. (TCP lacks one only under a header without State.)
                state = unknown if proto is tcp else unconnected if remote_ip is None else established

            # Optional columns: User Inode from the left, Timer and Security Context from the right, and the
            # program cell (which may hold spaces) is what remains.
            uid = inode = None
            user: str | None = None
            if has_user_inode:
                cells = rest.split(None, 2)
                if len(cells) < 2:
                    raise ValueError("no User and Inode (a cut line?)")
                user_text, inode_text = cells[0], cells[1]
                rest = cells[2] if len(cells) == 3 else ""
                if user_text.isdigit() and user_text.isascii():
                    uid = number(user_text, MAX_UID, "uid")
                else:
                    user = user_text
                inode = number(inode_text, MAX_INODE, "inode") or None
            if has_timer:
                cells = rest.rsplit(None, 2)
                if len(cells) < 2 or cells[-1][:1] != "(":
                    raise ValueError("no Timer (a cut line?)")
                rest = cells[0] if len(cells) == 3 else ""
            if has_context:
                rest = rest.rsplit(None, 1)[0] if has_program and rest.strip() else ""
            owners: tuple[Owner, ...] = ()
            if has_program:
                cell = rest.strip()
                if cell != "-":
                    seen = owners_seen.get(cell if user is None else f"{cell}\0{user}")
                    if seen is None:
                        seen = _owner(cell, user, owners_seen)
                    owners = seen
            elif rest and not rest.isspace():
                raise ValueError(f"unexpected text after the last column: {rest.strip()!r}")
        except ValueError as error:
            issues.append(ParseIssue(line_no, line, str(error)))
            continue

        status = known if owners else not_reported
        truncated = False
        if local_width or peer_width:
            if local_width == 2 or peer_width == 2:
                longer_than_cut = True
            elif flag_cut:
                truncated = True
                maybe_cut.append(len(records))
        records.append(
            new(
                (
                    proto,
                    family,
                    local_host,
                    local_port,
                    remote_ip,
                    remote_port,
                    state,
                    owners,
                    status,
                    None,
                    recv_size,
                    send_size,
                    inode,
                    uid,
                    None,
                    truncated,
                    source,
                    line,
                    None,
                    None,
                ),
            )
        )

    if maybe_cut and longer_than_cut and wide is None:
        # A cell longer than the cut width proves -W: nothing was cut after all.
        for position in maybe_cut:
            records[position] = records[position]._replace(truncated=False)
    return ParseResult(tuple(records), tuple(issues), FORMAT)


def _endpoint(cell: str, proto: Proto, family: int, cache: dict[str, _Endpoint], peer: bool) -> _Endpoint:
    """Convert an ``address:port`` cell and remember it; raises ValueError."""
    host, sep, port_text = cell.rpartition(":")
    if not sep or not host:
        raise ValueError(f"cannot split address and port in {cell!r}")
    if host[0] == "[" or "%" in host:
        split = split_host_port(cell)
        if split is None:
            raise ValueError(f"cannot split address and port in {cell!r}")
        host, port_text, _ = split
    width = 0 if len(cell) < CUT_WIDTH else 1 if len(cell) == CUT_WIDTH else 2
    if peer and port_text == "*" and host in WILDCARD_HOSTS:
        endpoint: _Endpoint = (None, None, width)
    else:
        if host == "*":
            host = _ANY[family]
        elif family == 6 and "." in host and ":" not in host and _is_ipv4(host):
            host = "::ffff:" + host  # an IPv4-mapped address on an IPv6 socket, as ss and psutil write it
        if (
            port_text.isdigit()
            and port_text.isascii()
            and (len(port_text) < 5 or (len(port_text) == 5 and port_text <= "65535"))
        ):
            port = int(port_text)  # plainly in range (a 5-digit string compares as its number)
        elif port_text.isdigit():
            port = number(port_text, MAX_PORT, "port")
        else:
            port = _port(port_text, proto)  # a name
        endpoint = (host, port, width)
    cache[cell] = endpoint
    return endpoint


def _owner(cell: str, user: str | None, owners_seen: dict[str, tuple[Owner, ...]]) -> tuple[Owner, ...]:
    """Read a ``pid/name`` cell into a one-owner tuple and remember it; raises ValueError."""
    pid_text, slash, name = cell.partition("/")
    if not (slash and pid_text.isdigit()):
        if not cell:
            raise ValueError("no PID/Program name (a cut line?)")
        raise ValueError(f"PID/Program name {quoted(cell)} is not pid/name")
    key = cell if user is None else f"{cell}\0{user}"
    owners = owners_seen[key] = (Owner(number(pid_text, MAX_PID, "pid"), name or None, user),)
    return owners


def _section_line(
    line: str, first: str, layout: Layout | None, line_no: int, issues: list[ParseIssue]
) -> Layout | None:
    """A line that is not an internet socket row: a title, a header, a row of another table, or garbage.

    Returns the layout to read the next rows with, or None inside a table of other sockets.
    """
    if first == "Active":
        # "Active Internet connections (...)" opens an internet table; anything else (UNIX, Bluetooth, IPX)
        # opens a table to skip. The header that follows an internet title sets the layout.
        return Layout() if "Internet" in line else None
    if first == "Proto":
        if looks_like_header(line) and layout is not None:
            return read_header(line)
        return None  # the UNIX table's header ("Proto RefCnt ..."), or IPX's after its title
    if layout is None:
        return None  # a row of a skipped table
    issues.append(ParseIssue(line_no, line, f"not a socket line of a known protocol (first word {first[:20]!r})"))
    return layout


def _is_ipv4(host: str) -> bool:
    return host.count(".") == 3 and host.replace(".", "").isdigit()


@lru_cache(maxsize=512)
def _port(text: str, proto: Proto) -> int | None:
    """A port, or one netstat printed as a name (no -n); a raw socket's is an IP protocol. Raises ValueError."""
    if text == "*":
        return None  # port 0: an unbound socket
    if proto is Proto.RAW and not text.isdigit():
        protocol = IP_PROTOCOLS.get(text)
        if protocol is not None:
            return protocol
        if is_lookup_name(text):
            try:
                return socket.getprotobyname(text)
            except OSError:
                pass
        raise ValueError(f"raw socket protocol {quoted(text, 40)} is neither a number nor a known protocol")
    return port_number(text, proto)
