"""Parse the kernel's own tables, ``/proc/net/{tcp,tcp6,udp,udp6}`` (captured text), into records.

Input::

      sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
       0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   120        0 46262 1 ...

- Addresses are hex: IPv4 one 32-bit word, IPv6 four, each printed in the kernel's (host) byte order, which
  is little-endian on every common machine (x86, arm64): ``0100007F`` is 127.0.0.1. Ports are plain hex.
- The text does not name its protocol: UDP tables end their header with ``ref pointer drops``, TCP ones do
  not. The family follows from the address width.
- ``st`` is the kernel's state number (0A LISTEN, 01 ESTABLISHED, 06 TIME_WAIT, ...); a UDP socket is 07
  (unconnected) or 01 (connected). Queues are ``tx:rx`` in hex; uid and inode are decimal.
- An IPv4-mapped IPv6 address is written as every tool writes it, ``::ffff:127.0.0.1``.
- No owners: only an inode (``OwnerStatus.NOT_REPORTED``). ``/proc/net/unix`` is refused: not internet sockets.
- Numbers are ASCII (hex) digits in range (``common.number``): a port above FFFF, a uid above 2**32-1 or an
  inode of 2**64 or more makes its line an issue.
"""

from __future__ import annotations

import ipaddress

from nettop.errors import NotASocketTable, UnknownFormat
from nettop.formats.common import MAX_INODE, MAX_PORT, MAX_QUEUE, MAX_UID, number, quoted, text_lines
from nettop.model import (
    IPV4_MAPPED_PREFIX,
    KERNEL_TCP_STATES,
    Connection,
    OwnerStatus,
    ParseIssue,
    ParseResult,
    Proto,
    State,
)

FORMAT = "proc-net"


def looks_like_header(line: str) -> bool:
    words = line.split()
    return words[:3] == ["sl", "local_address", "rem_address"] or words[:3] == ["sl", "local_address", "remote_address"]


def is_unix_table(line: str) -> bool:
    return line.split()[:3] == ["Num", "RefCount", "Protocol"]


def claims_header(line: str) -> bool:
    """A header of ``/proc/net/tcp`` and the like, or of ``/proc/net/unix`` (which ``parse`` refuses by name)."""
    return looks_like_header(line) or is_unix_table(line)


def parse(text: str, source: str = "proc") -> ParseResult:
    lines = text_lines(text)
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        return ParseResult((), (), FORMAT)
    header = lines[header_at]
    if is_unix_table(header):
        raise NotASocketTable("this is /proc/net/unix (UNIX domain sockets), not an internet socket list")
    if not looks_like_header(header):
        raise UnknownFormat(f"not a /proc/net table: {quoted(header.strip())}")
    proto = table_proto(header)
    records: list[Connection] = []
    issues: list[ParseIssue] = []
    for index in range(header_at + 1, len(lines)):
        line = lines[index]
        if not line.strip():
            continue
        try:
            records.append(_row(line, proto, source))
        except ValueError as error:
            issues.append(ParseIssue(index + 1, line, str(error)))
    return ParseResult(tuple(records), tuple(issues), FORMAT)


def table_proto(header: str) -> Proto:
    """The protocol a table's header says: UDP tables end it with ``ref pointer drops``, TCP ones do not."""
    return Proto.UDP if header.split()[-1] == "drops" else Proto.TCP


def parse_row(line: str, proto: Proto, source: str = "proc") -> Connection:
    """One line of a table whose header said ``proto``; ValueError with what is wrong (a line read on its own,
    as a remote host's collector sends them: ``nettop.remote.state``)."""
    return _row(line, proto, source)


def _row(line: str, proto: Proto, source: str) -> Connection:
    words = line.split()
    if len(words) < 10 or not words[0].endswith(":"):
        raise ValueError(f"expected at least 10 columns starting with 'N:', found {len(words)}")
    local_ip, local_port, family = _endpoint(words[1])
    remote_ip, remote_port, _ = _endpoint(words[2])
    state_number = number(words[3], 0xFF, "st", 16)
    tx, _, rx = words[4].partition(":")
    send_q = number(tx, MAX_QUEUE, "tx_queue", 16)
    recv_q = number(rx, MAX_QUEUE, "rx_queue", 16)
    if remote_port == 0 and remote_ip in ("0.0.0.0", "::"):
        remote_ip, remote_port = None, None
    if proto is Proto.UDP:
        state = State.ESTABLISHED if state_number == 1 else State.UNCONNECTED
    else:
        state = KERNEL_TCP_STATES.get(state_number, State.UNKNOWN)
    uid = number(words[7], MAX_UID, "uid")
    inode = number(words[9], MAX_INODE, "inode") or None
    return Connection(
        proto, family, local_ip, local_port, remote_ip, remote_port, state, (), OwnerStatus.NOT_REPORTED,
        recv_q=recv_q, send_q=send_q, inode=inode, uid=uid, source=source, raw=line,
    )  # fmt: skip


def _endpoint(cell: str) -> tuple[str, int, int]:
    """(address, port, family) of ``HEX:PORT``, the address words read little-endian."""
    hex_address, _, hex_port = cell.partition(":")
    if len(hex_address) not in (8, 32) or not hex_port:
        raise ValueError(f"cannot read the address {quoted(cell)}")
    raw = bytes.fromhex(hex_address)  # 8 or 32 characters, none of them a space: hex digits or ValueError
    packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(packed)
    mapped = getattr(address, "ipv4_mapped", None)
    # Python writes an IPv4-mapped address ::ffff:7f00:1; ss, netstat and psutil write ::ffff:127.0.0.1, and
    # a record's key must not depend on the tool that listed it.
    text = f"{IPV4_MAPPED_PREFIX}{mapped}" if mapped is not None else str(address)
    return text, number(hex_port, MAX_PORT, "port", 16), address.version
