"""Which tool wrote a text, from its header lines, and the parser for it: the tests of ``registry.FORMATS``.

Detection reads a bounded head of the text (``common.head_lines``), however long the text is, and a message
that quotes the text quotes a short, printable cut of it (``common.quoted``). Loading every format's module is
fine here: only a capture is detected, never a live listing.
"""

from __future__ import annotations

from nettop.errors import NotASocketTable, UnknownFormat
from nettop.formats.common import head_lines, quoted
from nettop.formats.registry import BY_NAME, FORMATS
from nettop.model import ParseResult

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
    from nettop.formats.netstat_bsd import solaris_netstat

    if solaris_netstat(text):  # host.port cells like BSD's, in other columns: refused by name, not misread
        raise UnknownFormat("Solaris netstat output is not supported")
    for line in head:
        for spec in FORMATS:
            if spec.test("header", line):
                return spec.name
    for spec in FORMATS:
        if spec.test("text", text):
            return spec.name
    _refuse_other_tables(head)
    # Headerless rows: Linux netstat's test first, the strictest (its second and third tokens are numbers);
    # ss's and the others' may not claim a row it takes.
    for spec in sorted(FORMATS, key=lambda spec: spec.name != "netstat-linux"):
        if spec.test("rows", head[0]):
            return spec.name
    names = ", ".join(spec.name for spec in FORMATS)
    raise UnknownFormat(f"cannot tell which tool wrote this (tried: {names}); first line: {quoted(head[0])}")


#: The section names of Linux ``netstat -s`` and of the kernel's counters it reads.
_STATISTICS_SECTIONS = frozenset(
    {"Ip:", "Icmp:", "IcmpMsg:", "Tcp:", "Udp:", "UdpLite:", "TcpExt:", "IpExt:", "MPTcpExt:", "Ip6:", "Icmp6:",
     "Udp6:", "UdpLite6:"}
)  # fmt: skip


def _statistics(head: list[str]) -> str | None:
    """What a text of protocol counters is, from its first lines; None when it is none of them."""
    first = head[0].split()
    if first[0] not in _STATISTICS_SECTIONS:
        if first[0] == "Total:" and len(head) > 1 and head[1].startswith("TCP:") and "(estab" in head[1]:
            return "a socket summary (ss -s)"
        return None
    if len(first) == 1:
        return "protocol statistics (netstat -s)"
    if first[0] in ("TcpExt:", "IpExt:", "MPTcpExt:"):
        return "the kernel's protocol counters (/proc/net/netstat)"
    return "the kernel's protocol counters (/proc/net/snmp)"


def _refuse_other_tables(head: list[str]) -> None:
    from nettop.formats import netstat_linux
    from nettop.formats.netstat_bsd import other_table

    what = _statistics(head)
    if what:
        raise NotASocketTable(f"this is {what}, not a socket list")
    for line in head[:3]:
        what = other_table(line) or netstat_linux.other_table(line)  # FreeBSD's "Name  Mtu"; localised Linux
        if what:
            raise NotASocketTable(f"this is {what}, not a socket list")
        for start, what in _OTHER_TABLES:
            if line.startswith(start):
                raise NotASocketTable(f"this is {what}, not a socket list")


def parse_text(text: str, format: str = "auto") -> ParseResult:
    """Parse a listing, detecting its format unless one is named."""
    if format == "auto":
        format = detect_format(text)
    spec = BY_NAME.get(format)
    if spec is None:
        raise UnknownFormat(f"unknown format {quoted(format, 40)} (known: {', '.join(BY_NAME)})")
    return spec.parse(text)
