"""Which tool wrote a text, from its header lines, and the parser for it.

Detection reads a bounded head of the text (``common.head_lines``), however long the text is, and a message
that quotes the text quotes a short, printable cut of it (``common.quoted``).
"""

from __future__ import annotations

from collections.abc import Callable

from nettop.errors import NotASocketTable, UnknownFormat
from nettop.model import ParseResult
from nettop.parsers import lsof, netstat_bsd, netstat_linux, procnet, sockstat, ss, windows
from nettop.parsers.common import head_lines, quoted

Parser = Callable[[str], ParseResult]

#: Format name → parser, in the order detection tries them.
PARSERS: dict[str, Parser] = {
    ss.FORMAT: ss.parse,
    netstat_bsd.FORMAT: netstat_bsd.parse,
    netstat_linux.FORMAT: netstat_linux.parse,
    lsof.FORMAT: lsof.parse,
    sockstat.FORMAT: sockstat.parse,
    windows.FORMAT: windows.parse,
    procnet.FORMAT: procnet.parse,
}

#: Header words of tables that are not socket lists, and what they are.
_OTHER_TABLES: tuple[tuple[str, str], ...] = (
    ("Kernel IP routing table", "a routing table (netstat -r)"),
    ("Routing tables", "a routing table (netstat -r)"),
    ("Kernel Interface table", "an interface table (netstat -i)"),
    ("Iface", "an interface table (netstat -i)"),
    ("Destination", "a routing table (netstat -r)"),
    ("Name  Mtu", "an interface table (netstat -i)"),
    ("Name       Mtu", "an interface table (netstat -i)"),
)


def detect_format(text: str) -> str:
    """Name the format of ``text`` from its header lines, or raise a clear error."""
    head = [line.strip() for line in head_lines(text, 6) if line.strip()]
    if not head:
        raise UnknownFormat("the input is empty")
    for line in head:
        if ss.looks_like_header(line):
            return ss.FORMAT
        # Before Linux netstat's: macOS 14 writes the BSD state column "(State)", which contains "State".
        if netstat_bsd.looks_like_header(line):
            return netstat_bsd.FORMAT
        if netstat_linux.looks_like_header(line):
            return netstat_linux.FORMAT
        if sockstat.looks_like_header(line):
            return sockstat.FORMAT
        if lsof.looks_like_header(line):
            return lsof.FORMAT
        if procnet.looks_like_header(line) or procnet.is_unix_table(line):
            return procnet.FORMAT  # which refuses /proc/net/unix by name
    if windows.looks_like(text):
        return windows.FORMAT  # windows.parse names its own route and statistics tables
    for line in head[:3]:
        what = netstat_bsd.other_table(line)  # also FreeBSD's "Name    Mtu" and "tcp:" statistics
        if what:
            raise NotASocketTable(f"this is {what}, not a socket list")
        for start, what in _OTHER_TABLES:
            if line.startswith(start):
                raise NotASocketTable(f"this is {what}, not a socket list")
    first = head[0].split(None, 1)[0]
    if first in ss.NETIDS:
        return ss.FORMAT  # ss -H: rows without a header
    raise UnknownFormat(
        f"cannot tell which tool wrote this (tried: {', '.join(PARSERS)}); first line: {quoted(head[0])}"
    )


def parse_text(text: str, format: str = "auto") -> ParseResult:
    """Parse a listing, detecting its format unless one is named."""
    if format == "auto":
        format = detect_format(text)
    parser = PARSERS.get(format)
    if parser is None:
        raise UnknownFormat(f"unknown format {quoted(format, 40)} (known: {', '.join(PARSERS)})")
    return parser(text)
