"""Parse the text of iproute2's ``ss`` (``-tuna``, with any of ``-p -e -i -H -O``) into records.

Input, one socket a line, columns found from the header (or, with ``-H``, from the first row)::

    Netid State  Recv-Q Send-Q  Local Address:Port  Peer Address:Port Process
    tcp   LISTEN 0      5           127.0.0.1:8080       0.0.0.0:*     users:(("python3",pid=6696,fd=3)) ino:1 ...

- ``Netid`` is printed only when several socket types were asked for, ``State`` only by newer iproute2 (and
  not under a state filter); the glued ``Peer Address:PortProcess`` header of some versions is read as two
  columns; ``-H`` rows are read by their first row. A state glued to its queue (``LISTEN0      32``, ss without
  a terminal in some setups) is read as two columns, off the fast path (``_glued_row``).
- Without a Netid, the protocol is the text's (``protocol_of``): TCP by a TCP-only state, raw (``ss -w``) by
  "ports" that are protocols (``0.0.0.0:1``, ``*:ipv6-icmp``, ``ipproto-255``), else UDP by ``UNCONN``. ss writes
  TCP's CLOSE as ``UNCONN``: a TCP socket so written is State.CLOSE. iproute2 4.x's ``icmp6`` is a raw socket.
- Addresses: ``127.0.0.1``, ``[::1]``, ``[fe80::1]%v0`` and ``127.0.0.1%lo`` (bound device or scope),
  ``[::ffff:127.0.0.1]`` (kept as written, family 6), ``*``: newer ss's IPv6 any (not v6only), older ss's
  IPv4 any, decided per text (``older_wildcards``). ``localhost`` (``ss -r``) is ``127.0.0.1`` or ``::1`` by
  the row's family. A port is a number, ``*``, or a service name (``ssh``); one nettop cannot number keeps its
  row, the port None and the name in ``local_service``/``remote_service``.
- ``users:(("name",pid=1,fd=3),...)``: every owner, in ss's order; old ``users:(("sshd",1231,3))``
  without keys too. ss cuts a name at its first ``)``, so ``my srv:x (1)`` arrives as ``my srv:x (1``. A cell
  cut down (no name, no pid, blank, cut off by the line's end) keeps its socket with the owners it names.
- ``-e`` extras ``uid:N ino:N sk:… cgroup:… v6only:0|1`` fill ``uid``, ``inode`` and ``v6only``.
- ``-i`` continuation lines (indented) are skipped; sockets that are not internet ones (``nl``, ``u_str``…) are
  counted by kind in ``ParseResult.skipped``. A listing of nothing but such sockets (``ss -x``) is refused
  (NotASocketTable), naming what it lists.
- Numbers are ASCII digits in range (``common.number``): a port above 65535, a pid above 2**31-1, an inode
  of 2**64 or a queue written ``²`` makes its line an issue. Every step is linear in the line's length.

Output: ``ParseResult`` with one ``Connection`` a socket line and one ``ParseIssue`` a line not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from nettop.errors import NotASocketTable
from nettop.formats.common import (
    MAX_INODE,
    MAX_PID,
    MAX_QUEUE,
    MAX_UID,
    STATE_WORDS,
    cached_number,
    number,
    port_or_service,
    quoted,
    split_host_port,
    text_lines,
)
from nettop.model import WILDCARD_HOSTS, Owner, OwnerStatus, ParseIssue, ParseResult, Proto, State, new_connection

FORMAT = "ss"

#: iproute2 4.x named a raw socket by its protocol when it had a name for it: ``icmp6`` is a raw ICMPv6 socket
#: (``icmp6 UNCONN 0 0 *%ens33:ipv6-icmp *:*``); ss 6 calls the same socket ``raw`` (``raw UNCONN … *:58``).
NETIDS: dict[str, Proto] = {"tcp": Proto.TCP, "udp": Proto.UDP, "raw": Proto.RAW, "icmp6": Proto.RAW}
#: Netids of sockets that are not internet sockets; their lines are skipped and counted (``ParseResult.skipped``).
OTHER_NETIDS = frozenset(
    {"nl", "u_str", "u_dgr", "u_seq", "p_raw", "p_dgr", "v_str", "v_dgr", "sctp", "mptcp", "xdp", "tipc"}
)
#: What the sockets of each other netid are (``ParseResult.skipped`` counts them so), and the ss option that
#: lists them, for refusing such a listing.
_OTHER_KINDS: dict[str, tuple[str, str]] = {
    "u_str": ("UNIX", "ss -x"),
    "u_dgr": ("UNIX", "ss -x"),
    "u_seq": ("UNIX", "ss -x"),
    "nl": ("netlink", "ss --netlink"),
    "p_raw": ("packet", "ss -0"),
    "p_dgr": ("packet", "ss -0"),
    "v_str": ("vsock", "ss --vsock"),
    "v_dgr": ("vsock", "ss --vsock"),
    "sctp": ("SCTP", "ss -S"),
    "mptcp": ("MPTCP", "ss -M"),
    "xdp": ("XDP", "ss --xdp"),
    "tipc": ("TIPC", "ss --tipc"),
}
_OPTIONS: dict[str, str] = {kind: option for kind, option in _OTHER_KINDS.values()}

#: ``timer:(timewait,59sec,0)`` and the like: what changes in a line from one second to the next by itself.
#: Bounded, so that a line holding `` timer:(`` many times without a ``)`` is not read once per occurrence.
_TIMER = re.compile(r" timer:\([^)\n]{0,100}\)")


def without_timers(text: str) -> str:
    """``text`` less its ``timer:(…)`` cells, which count down by themselves (one pass over the text)."""
    return _TIMER.sub("", text) if " timer:(" in text else text


def older_wildcards(text: str) -> bool:
    """True when ``*`` in ``text`` is the IPv4 any address, as older ss wrote it, not a dual-stack IPv6 one.

    Older ss (iproute2 before about 4.15: 3.x, and RHEL/CentOS 7's 4.11, which already brackets IPv6 as
    ``[::]:22``) wrote the IPv4 any address as ``*``; newer ss writes ``0.0.0.0`` and keeps ``*`` for an IPv6 any
    socket that is not v6only. Decided for the whole text, from what only one of them writes:

    - ``0.0.0.0`` anywhere: newer (older ss never printed it; newer prints it as every IPv4 listener's peer);
    - a bare IPv6 address (``:::22``, iproute2 3.x), or an IPv4 address whose peer is ``*:*``: older;
    - ``*:P`` beside ``[::]:P`` of the same socket type and port: older (a dual-stack ``*:P`` and a ``[::]:P``
      cannot both be bound; an IPv4 and an IPv6 listener can).

    A text with none of these (only ``*`` listeners) is taken for newer ss.
    """
    if "0.0.0.0" in text:
        return False
    if "[" not in text and "::" in text:
        return True
    return _ipv4_cell_before_star_peer(text) or _star_beside_bracketed_any(text)


def _star_beside_bracketed_any(text: str) -> bool:
    """Whether a ``*:P`` local cell and a ``[::]:P`` one share their socket type and port (see older_wildcards)."""
    if " *:" not in text or "[::]:" not in text:
        return False
    stars: set[tuple[str, str]] = set()
    anys: set[tuple[str, str]] = set()
    for line in text_lines(text):
        words = line.split(None, 7)
        netid = words[0] if words and words[0] in NETIDS else ""
        for word in words[1:6]:
            host, _, port = word.rpartition(":")
            host = host.partition("%")[0]
            if host == "*" and port != "*":
                stars.add((netid, port))
                break
            if host == "[::]" and port != "*":
                anys.add((netid, port))
                break
    return not stars.isdisjoint(anys)


def _ipv4_cell_before_star_peer(text: str) -> bool:
    # The cell before each " *:*" is looked for back to the line's start, or to the previous " *:*" on the same
    # line (whose own "*:*" lies in between): each stretch of text is read once, however many times a long
    # line holds " *:*".
    searched_to = 0
    at = text.find(" *:*")
    while at >= 0:
        newline = text.rfind("\n", searched_to, at)
        words = text[newline + 1 if newline >= 0 else searched_to : at].split()
        host = words[-1].rpartition(":")[0].partition("%")[0] if words else ""
        if host.count(".") == 3 and host.replace(".", "").isdigit():
            return True
        searched_to = at + 1
        at = text.find(" *:*", at + 4)
    return False


def looks_like_header(line: str) -> bool:
    return "Recv-Q" in line and "Local" in line and "Address:Port" in line


def looks_like_rows(line: str) -> bool:
    """``ss -H`` of several socket types: a first line that is a row, with its Netid (``tcp LISTEN 0 …``).

    Linux netstat's rows also start with ``tcp``/``udp``, then a number (``tcp 0 0 127.0.0.1:631 0.0.0.0:* LISTEN``):
    after the Netid ss writes a state, glued to the queue or not (``LISTEN0``), except when a state filter left
    the State column out (``ss -tnH state established``). Such a row is ss's only when it holds what netstat never
    writes: a bracketed address, a bound device, ``users:(``/``ino:``, or a TCP row without a state word at its end.
    """
    words = line.split()
    if len(words) < 5 or not (words[0] in NETIDS or words[0] in OTHER_NETIDS):
        return False
    if state_word(words[1]) is not None:
        return True
    if not (words[1].isdigit() and words[2].isdigit() and words[0] in NETIDS):
        return False
    ends = words[3:5]
    if any(end[:1] == "[" or "%" in end for end in ends) or "users:(" in line or "ino:" in line:
        return True
    return words[0] == "tcp" and len(words) == 5


def state_word(word: str) -> str | None:
    """``word`` as a state word of ss, or a state word glued to the queue after it (``LISTEN0``,
    ``ESTAB0``): the state word; None for anything else."""
    upper = word.upper()
    if upper in STATE_WORDS:
        return upper
    glued = upper.rstrip("0123456789")
    if glued[-1:] == "-":  # FIN-WAIT-1 glued to its queue: FIN-WAIT-10
        glued = upper[: len(glued) + 1]
    return glued if glued != upper and glued in STATE_WORDS and word.isascii() else None


def unglued(line: str, has_netid: bool) -> str | None:
    """``line`` with a space put between a state word and the queue size glued to it (``ESTAB0 0`` →
    ``ESTAB 0 0``), as ss writes its columns in some settings; None when the line has no such glue."""
    words = line.split(None, 2)
    at = int(has_netid)
    if len(words) <= at:
        return None
    word = words[at]
    state = state_word(word)
    if state is None or len(state) == len(word):
        return None
    cut = line.index(word) + len(state)
    return f"{line[:cut]} {line[cut:]}"


def parse(text: str, proto_hint: Proto | None = None, source: str = FORMAT) -> ParseResult:
    """Parse ss output. ``proto_hint`` names the protocol when the output has no Netid column; without one, the
    text's rows tell (``protocol_of``)."""
    lines = text_lines(text)
    found = layout(lines)
    if found is None:
        return ParseResult((), (), FORMAT)
    start, has_netid, has_state = found
    rows = range(start, len(lines))
    if proto_hint is None and not has_netid and has_state:
        proto_hint = protocol_of(lines[start:])
    older = older_wildcards(text)
    skipped: dict[str, int] = {}
    records, issues = parse_rows(lines, rows, has_netid, has_state, proto_hint, source, older, skipped=skipped)
    if not records and (issues or skipped):
        _refuse_other_sockets(issues, skipped, has_state)
    return ParseResult(tuple(records), tuple(issues), FORMAT, tuple(skipped.items()))


#: What ss prints for states a UDP or raw socket never has.
_TCP_ONLY = frozenset(
    word for word, state in STATE_WORDS.items() if state not in (State.UNCONNECTED, State.ESTABLISHED)
)
#: Protocols raw sockets are opened for and that no UDP service uses: ICMP, IGMP, ICMPv6, OSPF, PIM, VRRP, and
#: 255 (IPPROTO_RAW).
_RAW_PROTOCOLS = frozenset({"1", "2", "58", "89", "103", "112", "255"})


def protocol_of(rows: list[str]) -> Proto | None:
    """The protocol of rows that start with their state and have no Netid (``ss -tlnH``, ``ss -wan``): one socket
    type was asked for, so it is the text's, not a row's.

    A state only TCP has (``LISTEN``, ``TIME-WAIT``…) makes every row TCP. Else raw sockets (``ss -w``) show by
    their "ports", which are protocols: a name ss gives one (``icmp``, ``ipv6-icmp``, ``ipproto-255``), or, numeric,
    every row ``UNCONN``, every port at most 255 and one of them a protocol raw sockets are for (``0.0.0.0:1``,
    ``*:58``). Else an ``UNCONN`` row makes every row UDP. A text of ``ESTAB`` rows alone cannot tell: None
    (read as TCP).
    """
    states: set[str] = set()
    ports: set[str] = set()
    for line in rows:
        words = line.split(None, 4)
        if len(words) < 4 or line[0] in " \t":
            continue
        state = state_word(words[0]) or ""
        states.add(state)
        local = words[3] if len(state) == len(words[0]) else words[2]  # else glued: LISTEN0 32 local peer
        ports.add(local.rpartition(":")[2])
    if states & _TCP_ONLY:
        return Proto.TCP
    if _raw_ports(ports, states == {"UNCONN"}):
        return Proto.RAW
    return Proto.UDP if "UNCONN" in states else None


def _raw_ports(ports: set[str], unconnected: bool) -> bool:
    """Whether local "ports" are raw sockets' protocols (see protocol_of); numbers count only when every row is
    ``UNCONN``, as raw sockets almost always are."""
    if not ports:
        return False
    if all(port.isdigit() and port.isascii() and len(port) <= 3 and int(port) <= 255 for port in ports):
        return unconnected and not ports.isdisjoint(_RAW_PROTOCOLS)
    from nettop.formats.services import PORTS, PROTOCOLS  # only captures made without -n need it

    return any(
        port.startswith("ipproto-") or (port.lower() in PROTOCOLS and port.lower() not in PORTS) for port in ports
    )


def _refuse_other_sockets(issues: list[ParseIssue], skipped: dict[str, int], has_state: bool) -> None:
    """Raise NotASocketTable, naming them, when every row read was a socket of another kind (``ss -x``)."""
    kinds: dict[str, str] = {kind: _OPTIONS[kind] for kind in skipped}  # kind → option, in the order seen
    for issue in issues:
        words = issue.text.split()
        if not words:
            return  # a line of odd spaces (``\x0b``): no socket at all
        # Without a Netid column (one socket type asked for: ``ss -A unix_stream``, ``ss --netlink``) the
        # cells tell: a UNIX row's "peer" is its inode (the path and the inode are two cells), a netlink
        # row's peer is a bare ``*``. An internet socket's peer always holds a ``:``.
        at = 3 + has_state  # [State] Recv-Q Send-Q Local Peer
        peer = words[at] if len(words) > at else ":"
        kind = "UNIX" if peer.isdigit() else "netlink" if peer == "*" else None
        if kind is None:
            return
        kinds.setdefault(kind, _OPTIONS[kind])
    what = " and ".join(kinds)
    options = ", ".join(dict.fromkeys(kinds.values()))
    raise NotASocketTable(f"this is a list of {what} sockets ({options}), not a list of internet sockets")


def layout(lines: list[str]) -> tuple[int, bool, bool] | None:
    """Where the rows start, and whether they have Netid and State columns; None for no text at all."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None
    header = lines[first]
    if looks_like_header(header):
        return first + 1, header.lstrip().startswith("Netid"), "State" in header.split()
    # -H: no header, so read the layout off the first row.
    tokens = header.split()
    has_netid = tokens[0] in NETIDS or tokens[0] in OTHER_NETIDS
    rest = tokens[1:] if has_netid else tokens
    has_state = bool(rest) and state_word(rest[0]) is not None
    if not has_netid and not has_state:
        raise NotASocketTable(f"not ss output: the first line has no ss header and no socket row: {quoted(header)}")
    return first, has_netid, has_state


def parse_rows(  # noqa: C901 - the hot loop over every line: long on purpose (below)
    lines: list[str],
    rows: Iterable[int],
    has_netid: bool,
    has_state: bool,
    proto_hint: Proto | None,
    source: str,
    older: bool = False,
    numbered: bool = False,
    skipped: dict[str, int] | None = None,
) -> tuple[list[Any], list[ParseIssue]]:
    """The records of ``lines[i]`` for each i in ``rows`` (with ``numbered``, as ``(i, record)`` pairs), and
    the lines that could not be read. Rows of sockets that are not internet ones are counted in ``skipped`` by
    kind. A live reader (``nettop.sources.linux``) passes only the rows it has not seen before."""
    # One loop with local names and per-parse caches: this runs for every socket of a busy server. It stays
    # long on purpose: each helper call per line costs ~5 % of the parse (callgrind), see the README.
    fixed = 4 + has_netid + has_state
    # Rows of older layouts get placeholders for the columns they lack, so that every row unpacks alike.
    pad, pad_at = [""] * (6 - fixed), int(has_netid)
    netids = NETIDS if has_netid else {"": proto_hint}
    state_words = STATE_WORDS if has_state else {"": State.UNKNOWN}
    records: list[Any] = []
    issues: list[ParseIssue] = []
    cache = _Cache()
    local_hosts, peer_hosts, owner_lists = cache.local_hosts, cache.peer_hosts, cache.owner_lists
    local_cells, peer_cells, queues = cache.local_cells, cache.peer_cells, cache.queues
    known, not_reported, unknown_state = OwnerStatus.KNOWN, OwnerStatus.NOT_REPORTED, State.UNKNOWN
    udp, tcp, unconnected = Proto.UDP, Proto.TCP, State.UNCONNECTED
    if skipped is None:
        skipped = {}
    new = new_connection  # a record without NamedTuple's Python-level __new__ (see model)
    append = records.append
    for index in rows:
        line = lines[index]
        parts = line.split(None, fixed)
        try:
            if len(parts) != 7:  # a line without a Process column, or an older layout
                if len(parts) <= fixed:
                    if len(parts) < fixed:
                        if not line or line[0] in " \t":
                            continue  # blank, or a -i continuation line
                        raise ValueError(f"expected at least {fixed} columns, found {len(parts)}")
                    parts.append("")
                if pad:
                    parts[pad_at:pad_at] = pad
            netid, word, recv_q, send_q, local, peer, rest = parts
            proto = netids.get(netid)
            if proto is None and has_netid:
                if netid in OTHER_NETIDS:  # ss -a: UNIX, netlink, packet sockets, counted
                    kind = _OTHER_KINDS[netid][0]
                    skipped[kind] = skipped.get(kind, 0) + 1
                    continue
                raise ValueError(f"unknown socket type ({netid!r}); skipped")
            state = state_words.get(word) or state_words.get(word.upper())
            if state is None:
                raise ValueError(f"unknown state {word!r}")
            if recv_q == "0" and send_q == "0":  # most queues are empty: skip the checks and int()
                recv_size = send_size = 0
            else:
                recv_size = cached_number(recv_q, queues, MAX_QUEUE, "queue size (Recv-Q)")
                send_size = cached_number(send_q, queues, MAX_QUEUE, "queue size (Send-Q)")
            if proto is None:
                # No Netid column and no hint: a stateless row is datagram, anything else stream.
                proto = udp if state is unconnected else tcp
            if state is unconnected and proto is tcp:
                state = State.CLOSE  # ss spells TCP's CLOSE "UNCONN" (its sstate_name table)
            # Cells are cached whole (a server's address, a client's server, a listener's wildcard repeat on
            # many lines) and, for a new cell, by the text before the port (a host repeats on every line).
            # A port taken here is ASCII digits and plainly in range (a 5-digit string compares as its number);
            # any other goes through _split and common.number.
            whole = local_cells.get(local)
            if whole is None:
                host, _, port = local.rpartition(":")
                cell = local_hosts.get(host)
                if (
                    cell is not None
                    and port.isdigit()
                    and port.isascii()
                    and (len(port) < 5 or (len(port) == 5 and port <= "65535"))
                ):
                    whole = (cell[0], int(port), cell[1], cell[2], cell[3], None)
                else:
                    whole = _local_cell(local, proto, older)
                    if port.isdigit():
                        local_hosts[host] = (whole[0], whole[2], whole[3], whole[4])
                local_cells[local] = whole
            local_host, local_port, interface, family, v6only, local_service = whole
            whole_peer = peer_cells.get(peer)
            if whole_peer is None:
                host, _, port = peer.rpartition(":")
                peer_cell = peer_hosts.get(host)
                if (
                    peer_cell is not None
                    and port.isdigit()
                    and port.isascii()
                    and (len(port) < 5 or (len(port) == 5 and port <= "65535"))
                ):
                    whole_peer = (peer_cell[0], int(port), peer_cell[1], None)
                else:
                    whole_peer = _peer_cell(peer, proto, older)
                    if port.isdigit():
                        peer_hosts[host] = (whole_peer[0], whole_peer[2])
                peer_cells[peer] = whole_peer
            remote_ip, remote_port, peer_kind, remote_service = whole_peer
            if peer_kind or not family:  # rare: a dual-stack listener, or a host named "localhost" (ss -r)
                if peer_kind == _DUAL:
                    v6only = False
                if peer_kind == _NAMED or not family:
                    local_host, family, remote_ip = _localhost(local_host, family, remote_ip, peer, rest)
            if state is unknown_state and proto is udp:
                state = State.UNCONNECTED if remote_ip is None else State.ESTABLISHED

            owners: tuple[Owner, ...] = ()
            inode = uid = None
            if rest:
                if rest[:7] == "users:(":
                    # Most lines repeat a one-owner list already read, but for the fd: see _owners.
                    head, _, tail = rest.partition(",fd=")
                    known_owners = owner_lists.get(head)
                    if known_owners is not None and "),(" not in tail:  # not several owners after all
                        owners, rest = known_owners, tail
                    else:
                        try:
                            owners, rest = _owners(rest, cache)
                        except ValueError:
                            owners, rest = _odd_owners(rest)
                if "ino:" in rest:
                    # -e: `uid:N` (printed only when not 0) `ino:N` (0 for no file) `v6only:0|1`.
                    digits = _word_after(rest, "ino:")
                    inode = number(digits, MAX_INODE, "inode") or None if digits.isdigit() else None
                    if inode is not None:
                        uid = 0
                        if "uid:" in rest:
                            digits = _word_after(rest, "uid:")
                            uid = number(digits, MAX_UID, "uid") if digits.isdigit() else None
                    if "v6only:" in rest:
                        v6only = _word_after(rest, "v6only:") == "1"
        except ValueError as error:
            if line[0] in " \t":  # a -i continuation line, which no column check lets through
                continue
            glued = _glued_row(line, has_netid, has_state, proto_hint, source, older, skipped)
            if glued is None:
                issues.append(ParseIssue(index + 1, line, str(error)))
            elif glued:
                append((index, glued[0]) if numbered else glued[0])
            continue
        status = known if owners and owners[0].pid is not None else not_reported
        record = new(
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
                interface,
                recv_size,
                send_size,
                inode,
                uid,
                v6only,
                False,
                source,
                line,
                local_service,
                remote_service,
                None,  # traffic
                None,  # netns
                None,  # placement
                None,  # host
            ),
        )
        append((index, record) if numbered else record)
    return records, issues


_LocalCell = tuple[str, int | None, str | None, int, bool | None, str | None]
_PeerCell = tuple[str | None, int | None, int, str | None]
#: What a peer cell says of its row besides its end (``_PeerCell``'s third field): nothing, a dual-stack
#: listener (``*:*``), or a host written ``localhost`` whose family the row tells.
_PLAIN, _DUAL, _NAMED = 0, 1, 2
#: Loopback names ss writes with ``-r`` (from /etc/hosts), and the family each stands for (0: the row's).
_LOOPBACK_NAMES = {"localhost": 0, "localhost.localdomain": 0, "ip6-localhost": 6, "ip6-loopback": 6}


def _split(text: str, proto: Proto) -> tuple[str, int | None, str | None, str, str | None]:
    """(host, port, interface, port text, service name) of a cell; the service is a name nettop cannot number."""
    split = split_host_port(text)
    if split is None:
        raise ValueError(f"cannot split address and port in {text!r}")
    host, port_text, interface = split
    if proto is Proto.RAW and port_text.startswith("ipproto-"):  # ss's name for a protocol it has no name for
        return host, number(port_text[8:], 255, "protocol"), interface, port_text, None
    port, service = port_or_service(port_text, proto)
    return host, port, interface, port_text, service


def _local_cell(text: str, proto: Proto, older: bool = False) -> _LocalCell:
    """(host, port, interface, family, v6only, service) of a local address cell; all but the port and service
    follow from the text before the last ``:``. Family 0 is a loopback name whose family the row tells."""
    host, port, interface, _, service = _split(text, proto)
    # Newer ss prints the IPv6 any address as `*` only on a socket that is not v6only; older ss so printed the
    # IPv4 any address.
    if host == "*":
        if older:
            return ("0.0.0.0", port, interface, 4, None, service)
        return ("::", port, interface, 6, False, service)
    loopback = _LOOPBACK_NAMES.get(host.lower())
    if loopback is not None:
        return ("::1" if loopback else host, port, interface, loopback, None, service)
    return (host, port, interface, 6 if ":" in host else 4, None, service)


def _peer_cell(text: str, proto: Proto, older: bool = False) -> _PeerCell:
    """(remote ip, remote port, what it says of its row, service) of a peer cell; None for a wildcard. With a
    numeric port, all but the port follow from the text before the last ``:``."""
    host, port, _, port_text, service = _split(text, proto)
    kind = _DUAL if host == "*" and not older else _PLAIN
    if port_text == "*" and host in WILDCARD_HOSTS:
        return (None, None, kind, None)
    if host == "*":
        return ("0.0.0.0" if older else "::", port, kind, service)
    loopback = _LOOPBACK_NAMES.get(host.lower())
    if loopback is not None:
        return ("::1" if loopback else host, port, _NAMED, service)
    return (host, port, _PLAIN, service)


def _localhost(local: str, family: int, remote: str | None, peer: str, rest: str) -> tuple[str, int, str | None]:
    """(local ip, family, remote ip) of a row where ``localhost`` stands for a host: ``::1`` on an IPv6 socket,
    else ``127.0.0.1``. The family is the local end's when it is an address, else the peer cell's (``[::]:*``,
    ``[::1]:22``, ``0.0.0.0:*``), else IPv6 when ``-e`` says ``v6only:`` (printed for IPv6 sockets alone), else
    IPv4."""
    peer_host = peer.rpartition(":")[0].partition("%")[0]
    if family:
        six = family == 6
    elif peer_host.lower() not in _LOOPBACK_NAMES:
        six = ":" in peer_host
    else:
        six = "v6only:" in rest
    loopback = "::1" if six else "127.0.0.1"
    if not family:
        local, family = loopback, 6 if six else 4
    if remote is not None and remote.lower() in _LOOPBACK_NAMES:
        remote = loopback
    return local, family, remote


def _glued_row(
    line: str,
    has_netid: bool,
    has_state: bool,
    proto_hint: Proto | None,
    source: str,
    older: bool,
    skipped: dict[str, int],
) -> list[Any] | None:
    """A row whose state is glued to its queue (``LISTEN0      32``) read with the two apart: [record] (raw
    being the line as written), [] for a skipped socket, None when the line has no such glue or does not read
    even so. Only called for a line the hot loop could not read."""
    if not has_state:
        return None
    fixed = unglued(line, has_netid)
    if fixed is None:
        return None
    records, issues = parse_rows([fixed], [0], has_netid, True, proto_hint, source, older, skipped=skipped)
    if issues:
        return None
    return [record._replace(raw=line) for record in records]


def _owners(rest: str, cache: _Cache) -> tuple[tuple[Owner, ...], str]:
    """Read ``users:((...),...)``; return the owners and the text after the list. Raises ValueError."""
    # A process's owner text recurs on every socket it holds, with only the fd changing: a one-owner list is
    # remembered by its text before ",fd=", so that the next socket of that process skips the reading. ss cuts
    # names at ")", so the first "))" ends the list.
    head, _, tail = rest.partition(",fd=")
    fd, _, after = tail.partition("))")
    cacheable = fd.isdigit()  # not so for several owners, whose first fd is followed by "),("
    if cacheable:
        owners = cache.owner_lists.get(head)
        if owners is not None:
            return owners, after
    else:  # several owners (or old ss's): remembered by the whole list
        group, _, after = rest.partition("))")
        owners = cache.owner_groups.get(group)
        if owners is not None:
            return owners, after
    found = []
    # Entry by entry, each ("name",pid=N,fd=N) ending at the first ")" after it (old ss: ("name",N,N)): one
    # pass over the list, whatever it holds.
    at = 7  # after "users:("
    while rest.startswith('("', at):
        close = rest.find(")", at)
        if close < 0:
            break
        name, quote, numbers = rest[at + 2 : close].rpartition('",')
        pid_text, comma, fd_text = numbers.partition(",")
        if not (quote and comma and fd_text.removeprefix("fd=").isdigit()):
            raise ValueError(f"unreadable users:(...) owner {quoted(rest[at : close + 1])}")
        key = (name, pid_text)
        owner = cache.owners.get(key)
        if owner is None:
            pid = number(pid_text.removeprefix("pid="), MAX_PID, "pid")
            owner = cache.owners[key] = Owner(pid=pid, name=name)
        found.append(owner)
        at = close + 1
        if rest[at : at + 1] != ",":
            break
        at += 1
    if not found:
        raise ValueError("unreadable users:(...) owner list")
    owners = tuple(found)
    if cacheable:
        if len(owners) == 1:
            cache.owner_lists[head] = owners
    elif at - 1 == len(group):  # the list ended at its first "))", as a whole list does
        cache.owner_groups[group] = owners
    return owners, rest[at + 1 :]


#: One entry of a ``users:(...)`` cell in the forms ss's ``("name",pid=N,fd=N)`` may be found cut down to: a bare
#: name ``("sshd")``, a bare pid ``(pid=5,fd=3)``, no fd ``("sshd",pid=5)``; old ss ``("sshd",5,3)`` too. A
#: name here holds no ``",``, so that a broken entry is not read as one long name.
_ODD_ENTRY = re.compile(r'(?:"(?P<name>(?:[^"]|"(?!,))*)"(?:,|$))?(?:(?:pid=)?(?P<pid>\d+)(?P<more>,(?:fd=)?\d+)?)?')
#: The last entry of a list cut off by the end of the line: a name without its closing quote, or a name and
#: the start of ``pid=``. Its pid, if any, may have lost digits: none is taken.
_CUT_ENTRY = re.compile(r'"[^"]*|"(?:[^"]|"(?!,))*",(?:p|pi|pid|pid=|(?:pid=)?\d+)?')


def _odd_owners(rest: str) -> tuple[tuple[Owner, ...], str]:
    """Read a ``users:(...)`` cell that ``_owners`` could not: entries without a name, a pid or an fd
    (``_ODD_ENTRY``), a blank list (``users:()``), or a list cut off by the end of the line (``users:(("ssh``).

    The owners it names (a bare name is an owner without a pid), and the text after the list. The socket is
    kept: with no owner its status says the input did not tell (NOT_REPORTED). Raises ValueError for a pid out
    of range or an entry in none of these forms, as ``_owners`` does."""
    end = rest.find("))")
    cut = end < 0
    body, after = (rest[8:end], rest[end + 2 :]) if not cut else (rest[8:], "")
    if rest[7:8] != "(":  # users:() or users:(
        body = ""
    entries = body.split("),(") if body else []
    found: list[Owner] = []
    for at, entry in enumerate(entries):
        match = _ODD_ENTRY.fullmatch(entry)
        if match is None:
            if cut and at == len(entries) - 1 and _CUT_ENTRY.fullmatch(entry):
                break
            raise ValueError(f"unreadable users:(...) owner {quoted(entry)}")
        pid, name = match["pid"], match["name"] or None
        if cut and at == len(entries) - 1 and match["more"] is None:
            continue  # the end of the line may have cut its pid or name
        if pid is None:
            if name is not None:
                found.append(Owner(pid=None, name=name))
            continue
        found.append(Owner(pid=number(pid, MAX_PID, "pid"), name=name))
    return tuple(found), after


class _Cache:
    """What one parse converts once and reuses: owners, owner lists and address cells."""

    __slots__ = (
        "local_cells",
        "local_hosts",
        "owner_groups",
        "owner_lists",
        "owners",
        "peer_cells",
        "peer_hosts",
        "queues",
    )

    def __init__(self) -> None:
        self.owners: dict[tuple[str, str], Owner] = {}
        self.owner_lists: dict[str, tuple[Owner, ...]] = {}
        #: Owner lists that are not one new-style owner, by their text up to the closing "))".
        self.owner_groups: dict[str, tuple[Owner, ...]] = {}
        self.queues: dict[str, int] = {}
        # By the text before the port: what a local or peer cell says but its port (see _local_cell).
        self.local_hosts: dict[str, tuple[str, str | None, int, bool | None]] = {}
        self.peer_hosts: dict[str, tuple[str | None, bool]] = {}
        # Whole cells, as converted.
        self.local_cells: dict[str, _LocalCell] = {}
        self.peer_cells: dict[str, _PeerCell] = {}


def _word_after(text: str, label: str) -> str:
    """The text that follows ``label`` in ``text`` up to the next space (``ino:123`` → ``123``), or ""."""
    start = text.find(label)
    if start < 0:
        return ""
    start += len(label)
    end = text.find(" ", start)
    return text[start:] if end < 0 else text[start:end]
