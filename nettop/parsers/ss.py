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
  are reported as issues so nothing is dropped silently.

Output: ``ParseResult`` with one ``Connection`` a socket line and one ``ParseIssue`` a line not read.
"""

from __future__ import annotations

import re

from nettop.errors import NotASocketTable
from nettop.model import Connection, Owner, OwnerResolver, OwnerStatus, ParseIssue, ParseResult, Proto, State
from nettop.parsers.common import STATE_WORDS, port_number, split_host_port

FORMAT = "ss"

NETIDS: dict[str, Proto] = {"tcp": Proto.TCP, "udp": Proto.UDP, "raw": Proto.RAW}
#: Netids of sockets that are not internet sockets; their lines are skipped and reported.
OTHER_NETIDS = frozenset(
    {"nl", "u_str", "u_dgr", "u_seq", "p_raw", "p_dgr", "v_str", "v_dgr", "icmp6", "sctp", "mptcp", "xdp", "tipc"}
)

_USER = re.compile(r'\("(.*?)",(?:pid=)?(\d+),(?:fd=)?\d+\)')
_WILDCARD_PEER_HOSTS = frozenset({"0.0.0.0", "::", "*"})


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
    at = text.find(" *:*")
    while at >= 0:
        words = text[text.rfind("\n", 0, at) + 1 : at].split()
        host = words[-1].rpartition(":")[0].partition("%")[0] if words else ""
        if host.count(".") == 3 and host.replace(".", "").isdigit():
            return True
        at = text.find(" *:*", at + 4)
    return False


def looks_like_header(line: str) -> bool:
    return "Recv-Q" in line and "Local" in line and "Address:Port" in line


class LineMemo:
    """The records of the previous parse by line, for a source that lists the same sockets every tick.

    Most lines of a busy server repeat from one tick to the next; a repeated line is not parsed again,
    only its owners are asked for again (a socket can change hands). ``timer:(…)`` counts down every
    second, so it is left out of the key, and such a record keeps the raw line it was first read from
    (rebuilding 10,000 TIME_WAIT records a tick for a timer was the parser's largest cost). Holds exactly
    the lines of the last parse.
    """

    def __init__(self) -> None:
        self.records: dict[str, Connection] = {}


def _memo_key(line: str) -> str:
    at = line.find(" timer:(")
    if at < 0:
        return line
    return line[:at] + line[line.find(")", at) + 1 :]


def parse(
    text: str,
    proto_hint: Proto | None = None,
    source: str = FORMAT,
    owners_for: OwnerResolver | None = None,
    memo: LineMemo | None = None,
) -> ParseResult:
    """Parse ss output. ``proto_hint`` names the protocol when the output has no Netid column;
    ``owners_for`` gives the owners of lines that show none (live sources find them by inode);
    ``memo`` reuses the records of lines seen in the previous parse with the same memo."""
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return ParseResult((), (), FORMAT)
    header = lines[first]
    if looks_like_header(header):
        has_netid = header.lstrip().startswith("Netid")
        has_state = "State" in header.split()
        start = first + 1
    else:
        # -H: no header, so read the layout off the first row.
        tokens = header.split()
        has_netid = tokens[0] in NETIDS or tokens[0] in OTHER_NETIDS
        rest = tokens[1:] if has_netid else tokens
        has_state = bool(rest) and rest[0].upper() in STATE_WORDS
        if not has_netid and not has_state:
            raise NotASocketTable(f"not ss output: the first line has no ss header and no socket row: {header!r}")
        start = first
    older = older_wildcards(text)
    return _parse_rows(lines, start, has_netid, has_state, proto_hint, source, owners_for, memo, older)


def _parse_rows(
    lines: list[str],
    start: int,
    has_netid: bool,
    has_state: bool,
    proto_hint: Proto | None,
    source: str,
    owners_for: OwnerResolver | None,
    memo: LineMemo | None = None,
    older: bool = False,
) -> ParseResult:
    # One loop with local names and per-parse caches: this runs for every socket of a busy server.
    fixed = 4 + has_netid + has_state
    records: list[Connection] = []
    issues: list[ParseIssue] = []
    cache = _Cache()
    local_cells, peer_cells, owner_lists = cache.local_cells, cache.peer_cells, cache.owner_lists
    netids, state_words = NETIDS, STATE_WORDS
    known, not_reported, unknown_state = OwnerStatus.KNOWN, OwnerStatus.NOT_REPORTED, State.UNKNOWN
    new = tuple.__new__  # Connection(...) less its Python-level __new__
    append = records.append
    previous: dict[str, Connection] = memo.records if memo is not None else {}
    seen: dict[str, Connection] = {}
    for index in range(start, len(lines)):
        line = lines[index]
        if not line or line[0] in " \t":
            continue  # blank, or a -i continuation line
        if memo is not None:
            timer = line.find(" timer:(")
            memo_key = line if timer < 0 else line[:timer] + line[line.find(")", timer) + 1 :]  # see _memo_key
            record = previous.get(memo_key)
            if record is not None:
                # No inode, no owner to look for (TIME_WAIT); owners printed in the line are in the key.
                if owners_for is not None and record.inode is not None and "users:(" not in line:
                    record = _reowned(record, owners_for)
                seen[memo_key] = record
                append(record)
                continue
        parts = line.split(None, fixed)
        try:
            if len(parts) < fixed:
                raise ValueError(f"expected at least {fixed} columns, found {len(parts)}")
            proto = proto_hint
            col = 0
            if has_netid:
                netid = parts[0]
                proto = netids.get(netid)
                if proto is None:
                    reason = "not an internet socket" if netid in OTHER_NETIDS else "unknown socket type"
                    raise ValueError(f"{reason} ({netid!r}); skipped")
                col = 1
            if has_state:
                word = parts[col]
                state = state_words.get(word) or state_words.get(word.upper())
                if state is None:
                    raise ValueError(f"unknown state {word!r}")
                col += 1
            else:
                state = unknown_state
            recv_q, send_q, local, peer = parts[col], parts[col + 1], parts[col + 2], parts[col + 3]
            if not (recv_q.isdigit() and send_q.isdigit()):
                raise ValueError(f"queue sizes {recv_q!r} {send_q!r} are not numbers")
            if proto is None:
                # No Netid column and no hint: a stateless row is datagram, anything else stream.
                proto = Proto.UDP if state is State.UNCONNECTED else Proto.TCP
            local_host, local_port, interface, family, v6only = local_cells.get(local) or _local_cell(
                local, proto, local_cells, older
            )
            remote_ip, remote_port, peer_says_dual = peer_cells.get(peer) or _peer_cell(peer, proto, peer_cells, older)
            if peer_says_dual:
                v6only = False
            if state is unknown_state and proto is Proto.UDP:
                state = State.UNCONNECTED if remote_ip is None else State.ESTABLISHED

            owners: tuple[Owner, ...] = ()
            inode = uid = None
            rest = parts[fixed] if len(parts) > fixed else ""
            if rest:
                if rest.startswith("users:("):
                    # Most lines repeat an owner list already read (only the fd differs): see _owners.
                    stop = rest.find("))")
                    head, sep, fd = rest[8:stop].rpartition(",fd=")
                    known_owners = owner_lists.get(head) if sep and stop > 0 else None
                    if known_owners is not None and fd.isdigit():
                        owners, rest = known_owners, rest[stop + 2 :]
                    else:
                        owners, rest = _owners(rest, cache)
                at = rest.find("ino:")
                if at >= 0:
                    # -e: `uid:N` (printed only when not 0) `ino:N` (0 for no file) `v6only:0|1`.
                    end = rest.find(" ", at)
                    digits = rest[at + 4 : end] if end >= 0 else rest[at + 4 :]
                    inode = int(digits) or None if digits.isdigit() else None
                    if inode is not None:
                        uid = _number_after(rest, "uid:") if "uid:" in rest else 0
                    if "v6only:" in rest:
                        v6only = _number_after(rest, "v6only:") == 1
        except ValueError as error:
            issues.append(ParseIssue(index + 1, line, str(error)))
            continue
        if owners:
            status = known
        elif owners_for is not None:
            owners, status = owners_for(inode, state, uid)
        else:
            status = not_reported
        record = new(
            Connection,
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
                0 if recv_q == "0" else int(recv_q),  # most queues are empty: skip int()
                0 if send_q == "0" else int(send_q),
                inode,
                uid,
                v6only,
                False,
                source,
                line,
            ),
        )
        if memo is not None:
            seen[memo_key] = record
        append(record)
    if memo is not None:
        memo.records = seen
    return ParseResult(tuple(records), tuple(issues), FORMAT)


def _reowned(record: Connection, owners_for: OwnerResolver) -> Connection:
    """A remembered record with its owners asked for again; the same record when they did not change."""
    owners, status = owners_for(record.inode, record.state, record.uid)
    if owners == record.owners and status is record.owner_status:
        return record
    return record._replace(owners=owners, owner_status=status)


_LocalCell = tuple[str, int | None, str | None, int, bool | None]
_PeerCell = tuple[str | None, int | None, bool]


def _split(text: str, proto: Proto) -> tuple[str, int | None, str | None, str]:
    split = split_host_port(text)
    if split is None:
        raise ValueError(f"cannot split address and port in {text!r}")
    host, port_text, interface = split
    port = int(port_text) if port_text.isdigit() else port_number(port_text, proto)
    return host, port, interface, port_text


def _local_cell(text: str, proto: Proto, cache: dict[str, _LocalCell], older: bool = False) -> _LocalCell:
    """(host, port, interface, family, v6only) of a local address cell, converted once per parse."""
    host, port, interface, _ = _split(text, proto)
    # Newer ss prints the IPv6 any address as `*` only on a socket that is not v6only; older ss so printed the
    # IPv4 any address.
    if host == "*":
        cell: _LocalCell = ("0.0.0.0", port, interface, 4, None) if older else ("::", port, interface, 6, False)
    else:
        cell = (host, port, interface, 6 if ":" in host else 4, None)
    cache[text] = cell
    return cell


def _peer_cell(text: str, proto: Proto, cache: dict[str, _PeerCell], older: bool = False) -> _PeerCell:
    """(remote ip, remote port, whether it shows a dual-stack socket) of a peer cell; None for a wildcard."""
    host, port, _, port_text = _split(text, proto)
    dual = host == "*" and not older
    if port_text == "*" and host in _WILDCARD_PEER_HOSTS:
        cell: _PeerCell = (None, None, dual)
    elif host == "*":
        cell = ("0.0.0.0" if older else "::", port, dual)
    else:
        cell = (host, port, False)
    cache[text] = cell
    return cell


def _owners(rest: str, cache: _Cache) -> tuple[tuple[Owner, ...], str]:
    """Read ``users:((...),...)``; return the owners and the text after the list."""
    # A process's owner text recurs on every socket it holds, with only the fd changing: key on the
    # text before ",fd=" and skip the regex. ss cuts names at ")", so the first "))" ends the list.
    stop = rest.find("))")
    head, sep, fd = rest[8:stop].rpartition(",fd=") if stop > 0 else ("", "", "")
    cacheable = bool(sep) and fd.isdigit() and "),(" not in head
    if cacheable:
        owners = cache.owner_lists.get(head)
        if owners is not None:
            return owners, rest[stop + 2 :]
    found = []
    end = 7
    for match in _USER.finditer(rest):
        key = (match[1], int(match[2]))
        owner = cache.owners.get(key)
        if owner is None:
            owner = cache.owners[key] = Owner(pid=key[1], name=key[0])
        found.append(owner)
        end = match.end()
    if not found:
        raise ValueError("unreadable users:(...) owner list")
    owners = tuple(found)
    if cacheable:
        cache.owner_lists[head] = owners
    return owners, rest[end + 1 :]


class _Cache:
    """What one parse converts once and reuses: owners, owner lists and address cells."""

    __slots__ = ("local_cells", "owner_lists", "owners", "peer_cells")

    def __init__(self) -> None:
        self.owners: dict[tuple[str, int], Owner] = {}
        self.owner_lists: dict[str, tuple[Owner, ...]] = {}
        # One listener's address recurs on every connection it accepted: convert each cell once.
        self.local_cells: dict[str, _LocalCell] = {}
        self.peer_cells: dict[str, _PeerCell] = {}


def _number_after(text: str, label: str) -> int | None:
    """The number that follows ``label`` in ``text`` (``ino:123`` → 123), or None."""
    start = text.find(label)
    if start < 0:
        return None
    start += len(label)
    end = text.find(" ", start)
    value = text[start:] if end < 0 else text[start:end]
    return int(value) if value.isdigit() else None
