"""Parse the text of Linux net-tools ``netstat`` (``-tunapW``, ``-tuap``, ``-plnt``, ``-tunaepW``, ``-wanp``, ``-o``)
into records.

Input, one socket a line, columns found from the header (which may follow an ``Active Internet connections`` title),
or bare rows with no header at all (``netstat -tlnp | grep cups``), whose columns their shape tells::

    Proto Recv-Q Send-Q Local Address    Foreign Address  State       User   Inode   PID/Program name     Timer
    tcp        0      0 0.0.0.0:22       0.0.0.0:*        LISTEN      0      20305   600/sshd: /usr/sbin  off (0.00/0/0)
    udp        0      0 127.0.0.1:18082  0.0.0.0:*                    65534  391333  6697/python3         off (0.00/0/0)

- Columns are whitespace tokens, never character offsets (``-W`` lets a long address push the rest right).
  Optional columns, by header name: ``User`` and ``Inode`` (``-e``), ``PID/Program name`` (``-p``), ``Security
  Context`` (``-Z``, one token), ``Timer`` (``-o``: ``off (0.00/0/0)``, two tokens). The program cell may hold
  spaces (``600/sshd: /usr/sbin``), so it is what is left once the other cells are taken from both ends.
- Languages: net-tools translates the title, the header words and the TCP states, never the columns. A header is
  known by its queue words (``QUEUE_HEADERS``: ``Recv-Q``, ``受信-Q``, ``Přích-F``…) and State title
  (``STATE_HEADERS``), or else by shape: a ``Proto`` line followed by a socket row. A translated header's optional
  columns are read from its rows (pt_BR's header even leaves ``Inode`` out). Translated states come from
  net-tools' catalogues (``LOCALISED_STATES``, two-word ``POSLEDNÍ ACK`` included); a TCP state word nettop has
  no translation for is LISTEN when the peer is a wildcard, else UNKNOWN, the word kept in ``raw``.
- Proto: ``tcp udp raw`` and their ``6`` forms; ``udpl``/``udpl6`` (UDP-Lite, ``-U``) are read as UDP, the
  closest protocol the model has. The family is the proto's unless the address is IPv6: old net-tools (RHEL 5
  and 6) labels IPv6 sockets ``tcp`` (``:::22``, ``::1:5432``). A ``tcp6`` row showing ``127.0.0.1:18084`` is
  an IPv4-mapped socket and is stored as ``::ffff:127.0.0.1``, as ss and psutil show it.
- State: a TCP row always has a word (see Languages). A UDP row's cell is empty unless the socket is connected
  (``ESTABLISHED``), so the next token may already be the User or the program; an empty cell means UNCONNECTED,
  or ESTABLISHED when the peer is not a wildcard. A raw row shows the kernel's number: 7 (TCP_CLOSE, no peer)
  is UNCONNECTED, which is what ss prints for the same socket; 1 is ESTABLISHED; any other is UNKNOWN. State
  words are matched case-sensitively (netstat prints them upper-case), so a user called ``listen`` stays a user.
- Addresses: never bracketed, no scope; the port follows the last colon (``:::22``, ``::1:5432``). Without ``-n``
  hosts are names, kept as written but for ``localhost`` (127.0.0.1 or ::1 by the row's family), ``[::]`` is
  ``::``, and ports are service names, looked up (``http-alt`` → 8080, ``common.port_or_service``); a name
  nettop cannot number keeps its row, port None and the name in ``local_service``/``remote_service``. A raw
  socket's "port" is its IP protocol (``0.0.0.0:1``, ``[::]:ipv6-icmp`` → 58), as in ss. Peers ``0.0.0.0:*``,
  ``:::*``, ``[::]:*``, ``*:*`` are wildcards (remote_ip and remote_port None); a ``*`` host (old net-tools) is
  the any address.
- Truncation: without ``-W`` netstat cuts a host so that ``host:port`` is exactly 23 characters (the port is
  kept, the host loses its tail) and the result still looks valid: ``2001:db8:1234:567:18086``,
  ``fe80::70ce:e8ff:f:18088``, ``localhost.localdoma:ssh``. A cell that was not cut can be 23 long too, and
  nothing in the text tells them apart, so every 23-character cell counts as possibly cut: its record gets
  ``truncated=True``. Shorter cells are never cut (an IPv4 ``host:port`` is at most 21). Only wide output is
  exempt: ``wide=True`` from a caller that ran ``-W``, or any cell longer than 23 in the same text (which
  proves ``-W``). Wide output whose cells all fit in 23 is therefore flagged too: better a false alarm than a
  wrong address passed off as real.
- PID/Program: ``6697/python3`` → ``Owner(6697, "python3")``; a bare pid → ``Owner(pid)``; ``-``, a bare
  name or a blank cell → no owner, NOT_REPORTED (not root, or no process holds it), the socket kept. A blank
  cell on the last line of a text that does not end its line may be a cut, and is an issue. netstat shows one
  owner per socket even when several processes hold it, and names it from argv[0]
  (not comm, as ss and psutil do), cut to fit 20 characters (``1817931/zabbix_agen``). ``User`` (``-e``): a
  number (``-n``) fills ``uid``; a name (``systemd-resolve``, long enough to push the Inode right, which
  whitespace tokens absorb) fills the owner's ``user``, as the socket's user is its creator's. ``Inode`` 0
  (TIME_WAIT and the like) → None.
- Numbers are ASCII digits in range (``common.number``): a queue written ``²``, a port above 65535 or a pid
  above 2**31-1 makes its line an issue.
- Other tables in the same output (``Active UNIX domain sockets``, Bluetooth, IPX...) are skipped silently;
  translated titles of other tables are known by the ``Proto`` header after them. Route, interface,
  multicast-group and statistics outputs raise NotASocketTable naming what they are. nettop runs netstat with
  ``LC_ALL=C``; captures may be in any language.

Output: ``ParseResult`` with one ``Connection`` a socket line and one ``ParseIssue`` a line not read.
"""

from __future__ import annotations

import socket
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

from nettop.formats.common import (
    MAX_INODE,
    MAX_PID,
    MAX_PORT,
    MAX_QUEUE,
    MAX_UID,
    STATE_WORDS,
    cached_number,
    head_lines,
    is_lookup_name,
    netstat_without_header,
    number,
    port_or_service,
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

#: Loopback names netstat prints without -n, as the address of the row's family (``localhost`` is either).
_LOOPBACK_NAMES: dict[str, dict[int, str]] = {
    "localhost": {4: "127.0.0.1", 6: "::1"},
    "ip6-localhost": {4: "::1", 6: "::1"},
    "ip6-loopback": {4: "::1", 6: "::1"},
}

# ---- other languages. net-tools translates the title, the header words and the TCP states, never the column
# order, the numbers or the addresses. The two tables below are the output of
# ``python3 tests/data/localised/catalogue_words.py`` over Debian 12's net-tools 2.10 catalogues
# (/usr/share/locale/*/LC_MESSAGES/net-tools.mo: cs de et fr ja pt_BR), plus the Spanish words of Ubuntu's
# translation (not shipped by Debian), taken from public captures: ``Recib Enviad``, ``ESCUCHAR``,
# ``ESTABLECIDO``. A translation equal to the English word is left out: STATE_WORDS has it.

#: A translated TCP state → the state.
LOCALISED_STATES: dict[str, State] = {
    "DESCONHECIDA": State.UNKNOWN,  # pt_BR
    "ESPERANDO_FECHAR": State.CLOSE_WAIT,  # pt_BR
    "ESPERA_FIN1": State.FIN_WAIT1,  # pt_BR
    "ESPERA_FIN2": State.FIN_WAIT2,  # pt_BR
    "ESTABELECIDA": State.ESTABLISHED,  # pt_BR
    "FECHANDO": State.CLOSING,  # pt_BR
    "FECHAR": State.CLOSE,  # pt_BR
    "INCONNU": State.UNKNOWN,  # fr
    "NASLOUCHÁ": State.LISTEN,  # cs
    "NEZNÁM": State.UNKNOWN,  # cs
    "OUÇA": State.LISTEN,  # pt_BR
    "POSLEDNÍ ACK": State.LAST_ACK,  # cs
    "SPOJENO": State.ESTABLISHED,  # cs
    "SYN_ENVIADO": State.SYN_SENT,  # pt_BR
    "SYN_RECEBIDO": State.SYN_RECV,  # pt_BR
    "TUNDMATU": State.UNKNOWN,  # et
    "UNBEKANNT": State.UNKNOWN,  # de
    "VERBUNDEN": State.ESTABLISHED,  # de
    "ZAVÍRÁ": State.CLOSING,  # cs
    "ZAVŘEN": State.CLOSE,  # cs
    "ÚLTIMO_ACK": State.LAST_ACK,  # pt_BR
    "不明": State.UNKNOWN,  # ja
    "ESCUCHAR": State.LISTEN,  # es (Ubuntu; public captures)
    "ESTABLECIDO": State.ESTABLISHED,  # es (Ubuntu; public captures)
}

#: The Recv-Q and Send-Q header words, as translated: how a header in another language is known.
QUEUE_HEADERS: frozenset[tuple[str, str]] = frozenset(
    {
        ("Přích-F", "Odch-F"),  # cs
        ("Recv-Q", "Send-Q"),  # de fr pt_BR, and English
        ("VvJrk", "SaatJrk"),  # et
        ("受信-Q", "送信-Q"),  # ja
        ("Recib", "Enviad"),  # es (Ubuntu; public captures)
    }
)

#: The State column's title, as translated (the header's last fixed word): what tells the internet header from
#: other tables that start ``Proto Recv-Q Send-Q`` (macOS's kernel event sockets).
STATE_HEADERS: frozenset[str] = frozenset(
    {
        "Estado",  # pt_BR, es (Ubuntu; public captures)
        "Etat",  # fr
        "Olek",  # et
        "State",  # de, and English
        "Stav",  # cs
        "状態",  # ja
    }
)

#: Every state word of one token, English and translated: what the parse loop looks up.
_STATES: dict[str, State] = {**STATE_WORDS, **{w: s for w, s in LOCALISED_STATES.items() if " " not in w}}
#: A translated state of two tokens, by its first: (second token, state).
_TWO_WORD_STATES: dict[str, tuple[str, State]] = {
    w.split()[0]: (w.split()[1], s) for w, s in LOCALISED_STATES.items() if " " in w
}

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
    """True for Linux netstat's internet table header, in English or a known translation (``QUEUE_HEADERS``,
    ``STATE_HEADERS``): not the UNIX one (``Proto RefCnt``), nor BSD's (``(state)``), nor macOS's kernel tables."""
    if not line.startswith("Proto"):
        return False
    words = line.split()
    return (
        len(words) >= 6
        and words[0] == "Proto"
        and (words[1], words[2]) in QUEUE_HEADERS
        and not STATE_HEADERS.isdisjoint(words[5:])
    )


def _is_english(line: str) -> bool:
    return line.split(None, 3)[1:3] == ["Recv-Q", "Send-Q"] and "State" in line and "Foreign" in line


def read_header(line: str) -> Layout:
    words = line.split()
    return Layout(
        state="State" in words,
        user_inode="Inode" in words,
        program="PID/Program" in words,
        context="Context" in words,
        timer="Timer" in words,
    )


def looks_like_rows(line: str) -> bool:
    """Headerless output (``netstat -tlnp | grep …``): a first line that is a socket row, ``tcp 0 0 a:p b:p …``.

    Strict, as detection asks it of other tools' rows too: a known Proto, two numbers, two endpoints, then what
    only netstat writes there: a TCP state word, or (UDP, raw) a cell that is not ss's ``key:value``. ``ss -H … state
    established`` rows have the same first five columns but nothing after, or ``users:((…))``, ``ino:…``.
    """
    words = line.split(None, 5)
    if len(words) < 6 or not _row_shape(words):
        return False
    following = words[5].split(None, 1)[0]
    if words[0][:3] == "tcp":
        return following.replace("_", "").replace("-", "").isalpha()
    key, colon, _ = following.partition(":")
    return not (colon and key.isalpha()) and following != "<->"  # ss's "users:((", "ino:", "sk:", "timer:("


def _row_shape(words: list[str]) -> bool:
    """Whether a line's first five words are a netstat row's: Proto, Recv-Q, Send-Q, local and peer endpoints."""
    return (
        len(words) >= 5
        and words[0] in PROTOS
        and words[1].isdigit()
        and words[2].isdigit()
        and _looks_like_endpoint(words[3])
        and _looks_like_endpoint(words[4])
    )


def looks_like_table(text: str) -> bool:
    """A header in a language nettop has no words for: a ``Proto`` line whose next line is a socket row."""
    head = head_lines(text, 8)
    return any(line[:5] == "Proto" and _shape_header(line, following) for line, following in pairwise(head))


def _looks_like_endpoint(cell: str) -> bool:
    host, sep, port = cell.rpartition(":")
    return bool(sep and host and port) and (port == "*" or port.isalnum() or "-" in port or "." in port)


def _shape_header(line: str, following: str) -> bool:
    """A ``Proto`` line that heads a table of socket rows: the internet header, in whatever language."""
    words = line.split(None, 2)
    return (
        len(words) == 3
        and words[0] == "Proto"
        and words[1] != "RefCnt"
        and "(state)" not in line.lower()
        and _row_shape(following.split(None, 5))
    )


def _layout_at(lines: list[str], index: int) -> Layout | None:
    """The layout of the table whose header may be ``lines[index]``; None when it is no internet header.

    An English header names its optional columns; a translated one is read by shape: its rows tell.
    """
    line = lines[index]
    if looks_like_header(line):
        return read_header(line) if _is_english(line) else _infer_layout(lines, index + 1)
    following = next((rest for rest in lines[index + 1 : index + 3] if rest.strip()), "")
    if _shape_header(line, following):
        return _infer_layout(lines, index + 1)
    return None


def _infer_layout(lines: list[str], start: int) -> Layout:
    """The optional columns of the rows from ``lines[start]``, from their shape (up to 64 rows, the first TCP
    ones deciding the state column): ``User Inode`` is a word then a number, ``Timer`` ends ``(…)``, and what
    is left is the program cell."""
    user_inode = program = timer = False
    seen = 0
    for line in lines[start : start + 256]:
        words = line.split()
        if not _row_shape(words):
            continue
        rest = words[5:]
        if words[0][:3] == "tcp":
            two = _TWO_WORD_STATES.get(rest[0]) if rest else None
            rest = rest[2:] if two is not None and rest[1:2] == [two[0]] else rest[1:]
        elif rest and (rest[0] in _STATES or (words[0][:3] == "raw" and rest[0].isdigit())):
            rest = rest[1:]
        if len(rest) >= 2 and rest[-1][:1] == "(" and rest[-1][-1:] == ")":
            timer = True
            rest = rest[:-2]
        if len(rest) >= 2 and "/" not in rest[0] and rest[1].isdigit() and rest[1].isascii():
            user_inode = True
            rest = rest[2:]
        program = program or bool(rest)
        seen += 1
        if seen == 64:
            break
    return Layout(True, user_inode, program, False, timer)


def parse(text: str, source: str = "netstat", *, wide: bool | None = None) -> ParseResult:
    """Parse netstat's internet socket table(s), or its bare rows (``netstat -tlnp | grep …``).

    ``wide`` says whether the output was made with ``-W``; None infers it (see the module docstring on
    truncation).
    """
    lines = text_lines(text)
    # The last line of a text that does not end a line may be cut: a blank owner cell there is a cut, not a
    # blank (1-based; 0 when the text ends its last line).
    cut_line = len(lines) if text and text[-1] != "\n" else 0
    for index, line in enumerate(lines):
        if line[:5] == "Proto":
            layout = _layout_at(lines, index)
            if layout is not None:
                return _parse_rows(lines, index + 1, layout, source, wide, cut_line)
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is not None and _row_shape(lines[first].split(None, 5)):
        return _parse_rows(lines, first, _infer_layout(lines, first), source, wide, cut_line)
    return _without_header(lines)


def _without_header(lines: list[str]) -> ParseResult:
    header = "Proto Recv-Q Send-Q Local Address Foreign Address State"
    return netstat_without_header(lines, FORMAT, "Linux netstat", header, other_table, PROTOS)


def other_table(line: str) -> str | None:
    """What a line of Linux netstat's that opens another kind of output names (``Ip:`` → protocol statistics,
    ``IPv6/IPv4 Group Memberships``, ``eth0: flags=…  mtu``), or None: for detection to name it too."""
    for start, what in _OTHER_TABLES:
        if line.startswith(start) and (start != "Name " or "Mtu" in line):
            return what
    if " flags=" in line and "<" in line and " mtu " in line:
        return "an interface list (netstat -ie)"
    return None


#: A converted address cell: host (None for a wildcard peer), port (or, with _NAMED, the service name nettop
#: cannot number), and flags: 0 for the common cell, else _CUT_EQUAL/_CUT_LONGER (its length against
#: CUT_WIDTH), _V6 (an IPv6 host), _NAMED. The hot loop looks further only at a cell whose flags are not 0.
_Endpoint = tuple[str | None, int | str | None, int]
_CUT_EQUAL, _CUT_LONGER, _CUT = 1, 2, 3
_V6 = 4
_NAMED = 8


def _parse_rows(  # noqa: C901 - the hot loop, long on purpose
    lines: list[str], start: int, layout: Layout, source: str, wide: bool | None, cut_line: int
) -> ParseResult:
    """The records and issues of the table whose first row may be ``lines[start]``, in ``layout``.

    One loop with local names and per-parse caches, long on purpose: it runs for every socket of a busy server,
    and each helper call per line would cost a few percent of the parse (see the README's callgrind figures).
    """
    records: list[Connection] = []
    issues: list[ParseIssue] = []
    # Per parse, so a name lookup or an owner is made once however many lines repeat it: the cell text →
    # its _Endpoint, per Proto cell; the program cell (with the user) → the owners every socket of it shares.
    endpoints: dict[str, tuple[Proto, int, dict[str, _Endpoint], dict[str, _Endpoint]]] = {
        name: (proto, family, {}, {}) for name, (proto, family) in PROTOS.items()
    }
    owners_seen: dict[str, tuple[Owner, ...]] = {}
    queues: dict[str, int] = {}
    maybe_cut: list[int] = []  # indexes into records of lines with a cell exactly CUT_WIDTH long
    longer_than_cut = False
    flag_cut = wide is not True
    current: Layout | None = layout  # None inside a table of other sockets, whose lines are skipped
    has_state, has_user_inode, has_program, has_context, has_timer = layout
    known, not_reported = OwnerStatus.KNOWN, OwnerStatus.NOT_REPORTED
    tcp, udp = Proto.TCP, Proto.UDP
    unconnected, established, unknown, listen = State.UNCONNECTED, State.ESTABLISHED, State.UNKNOWN, State.LISTEN
    state_words = _STATES
    new = new_connection  # a record without NamedTuple's Python-level __new__ (see model)

    for line_no, line in enumerate(lines[start:], start + 1):
        parts = line.split(None, 5)
        spec = endpoints.get(parts[0]) if parts else None
        if spec is None or current is None:
            if parts:
                current = _section_line(lines, line_no, parts[0], current, issues)
                if current is not None:
                    has_state, has_user_inode, has_program, has_context, has_timer = current
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
                    # A translation nettop has no word for (None: decided by the peer below), or two words.
                    state, rest = _odd_tcp_state(word, tail)
                elif proto is not udp:
                    # A raw socket's number; UDP's empty cell leaves ``rest`` to the next column.
                    if not word.isdigit():
                        raise ValueError(f"unknown raw socket state {quoted(word, 40)}")
                    state = RAW_STATES.get(word, unknown)
                    rest = tail
            elif proto is tcp and has_state:
                raise ValueError("no State (a cut line?)")

            local_host, local_port, local_flags = local_cells.get(local) or _endpoint(
                local, proto, family, local_cells, False
            )
            remote_ip, remote_port, peer_flags = peer_cells.get(peer) or _endpoint(
                peer, proto, family, peer_cells, True
            )
            if state is None:
                # UDP's empty State cell, or a TCP state in words nettop lacks: the peer tells.
                if proto is tcp:
                    state = listen if remote_ip is None else unknown
                else:
                    state = unconnected if remote_ip is None else established

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
                # -Z always prints its cell ("-" for none), so a blank one is a malformed or cut line.
                if not rest or rest.isspace():
                    raise ValueError("no Security Context (a cut line?)")
                rest = rest.rsplit(None, 1)[0] if has_program else ""
            owners: tuple[Owner, ...] = ()
            if has_program:
                cell = rest.strip()
                if cell and cell != "-":
                    seen = owners_seen.get(cell if user is None else f"{cell}\0{user}")
                    if seen is None:
                        if line_no == cut_line and "/" not in cell:  # "1234/sshd" cut to "12"?
                            raise ValueError(f"PID/Program name {quoted(cell, 40)} may be cut (a cut line?)")
                        seen = _owner(cell, user, owners_seen)
                    owners = seen
                elif not cell and line_no == cut_line:
                    raise ValueError("no PID/Program name (a cut line?)")
            elif rest and not rest.isspace():
                raise ValueError(f"unexpected text after the last column: {quoted(rest.strip())}")
        except ValueError as error:
            issues.append(ParseIssue(line_no, line, str(error)))
            continue

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
                    known if owners else not_reported,
                    None,
                    recv_size,
                    send_size,
                    inode,
                    uid,
                    None,
                    False,
                    source,
                    line,
                    None,  # local_service
                    None,  # remote_service
                    None,  # traffic
                    None,  # netns
                    None,  # placement
                    None,  # host
                ),
            )
        )
        if local_flags or peer_flags:
            # The uncommon cells, seen to after the record is made so the common ones pay nothing: cut or possibly
            # cut (flagged below, once the whole text is known), IPv6 under a v4 Proto cell, service names.
            local_cut, peer_cut = local_flags & _CUT, peer_flags & _CUT
            if local_cut == _CUT_LONGER or peer_cut == _CUT_LONGER:
                longer_than_cut = True
            elif (local_cut or peer_cut) and flag_cut:
                maybe_cut.append(len(records) - 1)
            if (local_flags | peer_flags) & (_V6 | _NAMED):
                records[-1] = _odd_record(records[-1], local_flags, peer_flags)

    if maybe_cut and not (longer_than_cut and wide is None):
        # A cell exactly CUT_WIDTH long may have been cut, unless a longer one proves -W.
        for position in maybe_cut:
            records[position] = records[position]._replace(truncated=True)
    return ParseResult(tuple(records), tuple(issues), FORMAT)


def _odd_record(record: Connection, local_flags: int, peer_flags: int) -> Connection:
    """A record whose cells were uncommon (see _Endpoint): the family an IPv6 address gives a row labelled
    ``tcp``, and the service names nettop cannot number moved from the port fields to their own."""
    changes: dict[str, object] = {}
    if local_flags & _V6:
        changes["family"] = 6  # old net-tools (RHEL 5, 6) labels IPv6 sockets "tcp": the address tells
    if local_flags & _NAMED:
        changes["local_port"], changes["local_service"] = None, record.local_port
    if peer_flags & _NAMED:
        changes["remote_port"], changes["remote_service"] = None, record.remote_port
    return record._replace(**changes)


def _odd_tcp_state(word: str, tail: str) -> tuple[State | None, str]:
    """A TCP State cell that is no one-word state nettop knows: a two-word translation (``POSLEDNÍ ACK``), or a
    word of a translation it lacks (None: the caller decides by shape, the word stays in ``raw``). Raises
    ValueError for what cannot be a state word (a number, an owner cell, punctuation: a cut or shifted line)."""
    two = _TWO_WORD_STATES.get(word)
    if two is not None:
        second, _, rest = tail.partition(" ")
        if second == two[0]:
            return two[1], rest
    if not word.replace("_", "").replace("-", "").isalpha():
        raise ValueError(f"unknown TCP state {quoted(word, 40)}")
    return None, tail


def _endpoint(cell: str, proto: Proto, family: int, cache: dict[str, _Endpoint], peer: bool) -> _Endpoint:
    """Convert an ``address:port`` cell and remember it; raises ValueError."""
    host, sep, port_text = cell.rpartition(":")
    if not sep or not host:
        raise ValueError(f"cannot split address and port in {quoted(cell)}")
    if host[0] == "[" or "%" in host:
        split = split_host_port(cell)
        if split is None:
            raise ValueError(f"cannot split address and port in {quoted(cell)}")
        host, port_text, _ = split
    flags = 0 if len(cell) < CUT_WIDTH else _CUT_EQUAL if len(cell) == CUT_WIDTH else _CUT_LONGER
    v6 = ":" in host
    if v6 and family == 4:
        family = 6  # the address decides, whatever the Proto cell says (old net-tools: "tcp" for IPv6)
        flags |= _V6
    service: str | None = None
    if peer and port_text == "*" and host in WILDCARD_HOSTS:
        endpoint: _Endpoint = (None, None, flags)
    else:
        if host == "*":
            host = _ANY[family]
        elif host in _LOOPBACK_NAMES:
            host = _LOOPBACK_NAMES[host][family]
        elif family == 6 and "." in host and not v6 and _is_ipv4(host):
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
            port, service = _port(port_text, proto)  # a name
        endpoint = (host, port, flags) if service is None else (host, service, flags | _NAMED)
    cache[cell] = endpoint
    return endpoint


def _owner(cell: str, user: str | None, owners_seen: dict[str, tuple[Owner, ...]]) -> tuple[Owner, ...]:
    """Read a program cell into the owners it names and remember them; raises ValueError for a pid out of range.

    ``pid/name`` is one owner; a bare pid (a name cut away) is an owner without a name; anything else (a bare
    name, text without a pid) names no process nettop can point at: no owner, the cell stays in ``raw``. Unlike
    ss's ``users:(("name"))``, a bare word here may be another column (a user name where -p was not given), so
    it is not taken for a process.
    """
    pid_text, slash, name = cell.partition("/")
    key = cell if user is None else f"{cell}\0{user}"
    if pid_text.isdigit() and pid_text.isascii():
        owners: tuple[Owner, ...] = (Owner(number(pid_text, MAX_PID, "pid"), (name or None) if slash else None, user),)
    else:
        owners = ()
    owners_seen[key] = owners
    return owners


def _section_line(
    lines: list[str], line_no: int, first: str, layout: Layout | None, issues: list[ParseIssue]
) -> Layout | None:
    """A line that is not an internet socket row (``lines[line_no - 1]``): a title, a header, a row of another
    table, or garbage.

    Returns the layout to read the next rows with, or None inside a table of other sockets.
    """
    line = lines[line_no - 1]
    if first == "Active":
        # "Active Internet connections (...)" opens an internet table; anything else (UNIX, Bluetooth, IPX)
        # opens a table to skip. The header that follows an internet title sets the layout.
        return Layout() if "Internet" in line else None
    if first == "Proto":
        if layout is not None:
            found = _layout_at(lines, line_no - 1)
            if found is not None:
                return found
        return None  # the UNIX table's header ("Proto RefCnt ..."), or IPX's after its title
    if line_no < len(lines) and lines[line_no][:5] == "Proto":
        # A translated title ("Sockets du domaine UNIX actifs (...)"): the header after it decides.
        return layout if layout is not None else Layout()
    if layout is None:
        return None  # a row of a skipped table
    issues.append(ParseIssue(line_no, line, f"not a socket line of a known protocol (first word {quoted(first, 20)})"))
    return layout


def _is_ipv4(host: str) -> bool:
    return host.count(".") == 3 and host.replace(".", "").isdigit()


@lru_cache(maxsize=512)
def _port(text: str, proto: Proto) -> tuple[int | None, str | None]:
    """A port netstat printed as a name (no -n), as (number, None), or (None, name) when nettop cannot number it
    (see ``common.port_or_service``); a raw socket's is an IP protocol. Raises ValueError."""
    if text == "*":
        return None, None  # port 0: an unbound socket
    if proto is Proto.RAW and not text.isdigit():
        protocol = IP_PROTOCOLS.get(text)
        if protocol is not None:
            return protocol, None
        if is_lookup_name(text):
            try:
                return socket.getprotobyname(text), None
            except OSError:
                pass
        raise ValueError(f"raw socket protocol {quoted(text, 40)} is neither a number nor a known protocol")
    return port_or_service(text, proto)
