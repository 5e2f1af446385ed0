"""Parse the text of iproute2's ``ss`` (``-tuna``, with any of ``-p -e -i -H -O``) into records.

Input, one socket a line, columns found from the header (or, with ``-H``, from the first row)::

    Netid State  Recv-Q Send-Q  Local Address:Port  Peer Address:Port Process
    tcp   LISTEN 0      5           127.0.0.1:8080       0.0.0.0:*     users:(("python3",pid=6696,fd=3)) ino:1 ...

- ``Netid`` is printed only when several socket types were asked for, ``State`` only by newer iproute2;
  the glued ``Peer Address:PortProcess`` header of some versions is read as two columns.
- Addresses: ``127.0.0.1``, ``[::1]``, ``[fe80::1]%v0`` and ``127.0.0.1%lo`` (bound device or scope),
  ``[::ffff:127.0.0.1]`` (kept as written, family 6), ``*`` (newer ss: IPv6 any, not v6only; older ss,
  whose IPv6 is bare ``:::22``: the IPv4 any address).
- ``users:(("name",pid=1,fd=3),...)``: every owner, in ss's order; old ``users:(("sshd",1231,3))``
  without keys too. ss cuts a name at its first ``)``, so ``my srv:x (1)`` arrives as ``my srv:x (1``.
- ``-e`` extras ``uid:N ino:N sk:… cgroup:… v6only:0|1`` fill ``uid``, ``inode`` and ``v6only``.
- ``-i`` continuation lines (indented) and non-internet sockets (``nl``, ``u_str``…) are skipped; the latter
  are reported as issues so nothing is dropped silently. A listing of nothing but such sockets (``ss -x``) is
  refused (NotASocketTable), naming what it lists.
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
    port_number,
    quoted,
    split_host_port,
    text_lines,
)
from nettop.model import WILDCARD_HOSTS, Owner, OwnerStatus, ParseIssue, ParseResult, Proto, State, new_connection

FORMAT = "ss"

NETIDS: dict[str, Proto] = {"tcp": Proto.TCP, "udp": Proto.UDP, "raw": Proto.RAW}
#: Netids of sockets that are not internet sockets; their lines are skipped and reported.
OTHER_NETIDS = frozenset(
    {"nl", "u_str", "u_dgr", "u_seq", "p_raw", "p_dgr", "v_str", "v_dgr", "icmp6", "sctp", "mptcp", "xdp", "tipc"}
)
#: What the sockets of each other netid are, and the ss option that lists them, for refusing such a listing.
_OTHER_KINDS: dict[str, tuple[str, str]] = {
    "u_str": ("UNIX", "ss -x"),
    "u_dgr": ("UNIX", "ss -x"),
    "u_seq": ("UNIX", "ss -x"),
    "nl": ("netlink", "ss --netlink"),
    "p_raw": ("packet", "ss -0"),
    "p_dgr": ("packet", "ss -0"),
    "v_str": ("vsock", "ss --vsock"),
    "v_dgr": ("vsock", "ss --vsock"),
    "icmp6": ("ICMPv6", "ss -a"),
    "sctp": ("SCTP", "ss -S"),
    "mptcp": ("MPTCP", "ss -M"),
    "xdp": ("XDP", "ss --xdp"),
    "tipc": ("TIPC", "ss --tipc"),
}

#: ``timer:(timewait,59sec,0)`` and the like: what changes in a line from one second to the next by itself.
#: Bounded, so that a line holding `` timer:(`` many times without a ``)`` is not read once per occurrence.
_TIMER = re.compile(r" timer:\([^)\n]{0,100}\)")


def without_timers(text: str) -> str:
    """``text`` less its ``timer:(…)`` cells, which count down by themselves (one pass over the text)."""
    return _TIMER.sub("", text) if " timer:(" in text else text


def older_wildcards(text: str) -> bool:
    """True when ``*`` in ``text`` is the IPv4 any address, as older ss wrote it, not a dual-stack IPv6 one.

    Older ss (iproute2 3.x, formatted_print) wrote the IPv4 any address as ``*`` and IPv6 addresses bare
    (``:::22``); newer ss writes ``0.0.0.0``, brackets IPv6 and keeps ``*`` for an IPv6 any socket that is not
    v6only. The older form shows as a bare IPv6 address or an IPv4 address whose peer is ``*:*`` (newer ss:
    ``0.0.0.0:*``). A text with neither form (only ``*`` listeners and IPv4 peers) is taken for newer ss.
    """
    if "[" in text or "0.0.0.0" in text:
        return False
    return "::" in text or _ipv4_cell_before_star_peer(text)


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
    """``ss -H``: a first line that is a row, with its Netid (``tcp LISTEN 0 …``)."""
    return line.split(None, 1)[0] in NETIDS


def parse(text: str, proto_hint: Proto | None = None, source: str = FORMAT) -> ParseResult:
    """Parse ss output. ``proto_hint`` names the protocol when the output has no Netid column."""
    lines = text_lines(text)
    found = layout(lines)
    if found is None:
        return ParseResult((), (), FORMAT)
    start, has_netid, has_state = found
    rows = range(start, len(lines))
    older = older_wildcards(text)
    records, issues = parse_rows(lines, rows, has_netid, has_state, proto_hint, source, older)
    if issues and not records:
        _refuse_other_sockets(issues, has_netid, has_state)
    return ParseResult(tuple(records), tuple(issues), FORMAT)


def _refuse_other_sockets(issues: list[ParseIssue], has_netid: bool, has_state: bool) -> None:
    """Raise NotASocketTable, naming them, when every row read was a socket of another kind (``ss -x``)."""
    kinds: dict[str, str] = {}  # kind → option, in the order seen
    for issue in issues:
        words = issue.text.split()
        if not words:
            return  # a line of odd spaces (``\x0b``): no socket at all
        if has_netid:
            kind = _OTHER_KINDS.get(words[0])
        else:
            # Without a Netid column (one socket type asked for: ``ss -A unix_stream``, ``ss --netlink``) the
            # cells tell: a UNIX row's "peer" is its inode (the path and the inode are two cells), a netlink
            # row's peer is a bare ``*``. An internet socket's peer always holds a ``:``.
            at = 3 + has_state  # [State] Recv-Q Send-Q Local Peer
            peer = words[at] if len(words) > at else ":"
            kind = ("UNIX", "ss -x") if peer.isdigit() else ("netlink", "ss --netlink") if peer == "*" else None
        if kind is None:
            return
        kinds.setdefault(kind[0], kind[1])
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
    has_state = bool(rest) and rest[0].upper() in STATE_WORDS
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
) -> tuple[list[Any], list[ParseIssue]]:
    """The records of ``lines[i]`` for each i in ``rows`` (with ``numbered``, as ``(i, record)`` pairs), and
    the lines that could not be read. A live reader (``nettop.sources.linux``) passes only the rows it has
    not seen before."""
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
    udp = Proto.UDP
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
                reason = "not an internet socket" if netid in OTHER_NETIDS else "unknown socket type"
                raise ValueError(f"{reason} ({netid!r}); skipped")
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
                proto = udp if state is State.UNCONNECTED else Proto.TCP
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
                    whole = (cell[0], int(port), cell[1], cell[2], cell[3])
                else:
                    whole = _local_cell(local, proto, older)
                    if port.isdigit():
                        local_hosts[host] = (whole[0], whole[2], whole[3], whole[4])
                local_cells[local] = whole
            local_host, local_port, interface, family, v6only = whole
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
                    whole_peer = (peer_cell[0], int(port), peer_cell[1])
                else:
                    whole_peer = _peer_cell(peer, proto, older)
                    if port.isdigit():
                        peer_hosts[host] = (whole_peer[0], whole_peer[2])
                peer_cells[peer] = whole_peer
            remote_ip, remote_port, peer_says_dual = whole_peer
            if peer_says_dual:
                v6only = False
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
                        owners, rest = _owners(rest, cache)
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
            if line[0] not in " \t":  # else a -i continuation line, which no column check lets through
                issues.append(ParseIssue(index + 1, line, str(error)))
            continue
        status = known if owners else not_reported
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
                None,
                None,
            ),
        )
        append((index, record) if numbered else record)
    return records, issues


_LocalCell = tuple[str, int | None, str | None, int, bool | None]
_PeerCell = tuple[str | None, int | None, bool]


def _split(text: str, proto: Proto) -> tuple[str, int | None, str | None, str]:
    split = split_host_port(text)
    if split is None:
        raise ValueError(f"cannot split address and port in {text!r}")
    host, port_text, interface = split
    return host, port_number(port_text, proto), interface, port_text


def _local_cell(text: str, proto: Proto, older: bool = False) -> _LocalCell:
    """(host, port, interface, family, v6only) of a local address cell; all but the port follow from the text
    before the last ``:``."""
    host, port, interface, _ = _split(text, proto)
    # Newer ss prints the IPv6 any address as `*` only on a socket that is not v6only; older ss so printed the
    # IPv4 any address.
    if host == "*":
        cell: _LocalCell = ("0.0.0.0", port, interface, 4, None) if older else ("::", port, interface, 6, False)
    else:
        cell = (host, port, interface, 6 if ":" in host else 4, None)
    return cell


def _peer_cell(text: str, proto: Proto, older: bool = False) -> _PeerCell:
    """(remote ip, remote port, whether it shows a dual-stack socket) of a peer cell; None for a wildcard. With a
    numeric port, all but the port follow from the text before the last ``:``."""
    host, port, _, port_text = _split(text, proto)
    dual = host == "*" and not older
    if port_text == "*" and host in WILDCARD_HOSTS:
        cell: _PeerCell = (None, None, dual)
    elif host == "*":
        cell = ("0.0.0.0" if older else "::", port, dual)
    else:
        cell = (host, port, False)
    return cell


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
