"""Helpers every parser shares: state spellings, ``addr:port`` splitting, wildcard and family rules, the one
check that turns text into a number a record may hold (``number``), and quoting input in messages.

These sit on the hot path (one call per field of every line), so they use ``str`` methods and dict
look-ups rather than regular expressions or ``ipaddress``. Each runs in time linear in its input: parsers
read captures from anywhere, and a line of a capture may be megabytes long.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Container

from nettop.errors import NotASocketTable, UnknownFormat

# The records' ranges, imported by the formats from here with the other number helpers (explicit re-export).
from nettop.model import MAX_INODE as MAX_INODE
from nettop.model import MAX_PID as MAX_PID
from nettop.model import MAX_PORT as MAX_PORT
from nettop.model import MAX_QUEUE as MAX_QUEUE
from nettop.model import MAX_UID as MAX_UID
from nettop.model import ParseIssue, ParseResult, Proto, State
from nettop.text import cut

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
#: Digits of the largest limit (2**64-1, in decimal): longer text, less its leading zeros, is out of range unread.
_MAX_DIGITS = 20


def number(text: str, high: int, what: str, base: int = 10) -> int:
    """``text`` as a number from 0 to ``high`` (at most 2**64-1); raises ValueError, naming ``what``, for anything
    else.

    The one place where a parser turns a cell into a number, so that every parser takes the same numbers: ASCII
    digits only (hex ones with ``base=16``), so neither ``²`` (which ``str.isdigit`` accepts and ``int`` refuses)
    nor Arabic-Indic digits (which ``int`` reads) become a number; no sign, space or ``_`` (which ``int`` takes);
    leading zeros are read. ``int`` never sees more than 20 digits, so a long cell costs one pass. Hot loops may
    take the obvious cases first (``"0"``, a 4-digit port), as long as what they take is plainly in range;
    anything else comes here.
    """
    if base == 10:
        if not (text.isdigit() and text.isascii()):
            raise ValueError(f"{what} {quoted(text, 40)} is not a number")
    elif not (text and text.isascii() and _HEX_DIGITS.issuperset(text)):
        raise ValueError(f"{what} {quoted(text, 40)} is not a hex number")
    significant = text.lstrip("0") or "0" if len(text) > _MAX_DIGITS else text
    if len(significant) <= _MAX_DIGITS:
        value = int(significant, base)
        if value <= high:
            return value
    raise ValueError(f"{what} {quoted(text, 40)} is out of range (0 to {high})")


def cached_number(text: str, cache: dict[str, int], high: int, what: str) -> int:
    """``number``, each distinct text read once per parse: queue sizes recur (a listener's backlog)."""
    value = cache.get(text)
    if value is None:
        value = cache[text] = number(text, high, what)
    return value


def quoted(text: str, limit: int = 80) -> str:
    """``text`` in quotes for a message: at most ``limit`` characters of it, made safe to print (control
    characters such as ESC escaped; see ``nettop.text.cut``)."""
    return f"'{cut(text, limit)}'"


_NOT_SPACE = re.compile(r"\S")
#: How much of a text format detection reads: its first lines are in there, however long the text.
HEAD_CHARS = 16_384


def head_lines(text: str, count: int, chars: int = HEAD_CHARS) -> list[str]:
    """The first ``count`` lines of ``text`` from its first line that is not blank, within ``chars``
    characters of it: what a detector looks at, without splitting a whole 64 MB text."""
    found = _NOT_SPACE.search(text)
    if found is None:
        return []
    start = text.rfind("\n", 0, found.start()) + 1
    return text_lines(text[start : start + chars])[:count]


#: Every spelling of a state seen in ss, Linux/BSD netstat and Windows netstat, upper-cased.
STATE_WORDS: dict[str, State] = {
    "LISTEN": State.LISTEN,
    "LISTENING": State.LISTEN,
    "ESTAB": State.ESTABLISHED,
    "ESTABLISHED": State.ESTABLISHED,
    "SYN-SENT": State.SYN_SENT,
    "SYN_SENT": State.SYN_SENT,
    "SYN_SEND": State.SYN_SENT,
    "SYN-RECV": State.SYN_RECV,
    "SYN_RECV": State.SYN_RECV,
    "SYN_RCVD": State.SYN_RECV,
    "SYN_RECEIVED": State.SYN_RECV,
    "FIN-WAIT-1": State.FIN_WAIT1,
    "FIN_WAIT1": State.FIN_WAIT1,
    "FIN_WAIT_1": State.FIN_WAIT1,
    "FIN-WAIT-2": State.FIN_WAIT2,
    "FIN_WAIT2": State.FIN_WAIT2,
    "FIN_WAIT_2": State.FIN_WAIT2,
    "TIME-WAIT": State.TIME_WAIT,
    "TIME_WAIT": State.TIME_WAIT,
    "TIMED_WAIT": State.TIME_WAIT,
    "CLOSE": State.CLOSE,
    "CLOSED": State.CLOSE,
    "UNCONN": State.UNCONNECTED,
    "CLOSE-WAIT": State.CLOSE_WAIT,
    "CLOSE_WAIT": State.CLOSE_WAIT,
    "LAST-ACK": State.LAST_ACK,
    "LAST_ACK": State.LAST_ACK,
    "CLOSING": State.CLOSING,
    "UNKNOWN": State.UNKNOWN,
}


def text_lines(text: str) -> list[str]:
    """The lines of a tool's output, split at line ends alone (``\n``, ``\r\n``).

    Not ``str.splitlines``, which also splits at ``\x0b``, ``\x1c``-``\x1e``, ``\x85`` and ``\u2028``: a
    program name holding one would be cut in two and every later line number would be off. It also costs
    a socket listing's long lines four times the instructions of ``split``.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines[-1]:
        lines.pop()  # the text's last line end
    return lines


def parse_state(word: str) -> State | None:
    """The state a tool's word names, or None when the word is not a state at all."""
    return STATE_WORDS.get(word.upper())


def split_host_port(text: str) -> tuple[str, str, str | None] | None:
    """Split ``host[%dev]:port`` as ss and Linux netstat print it into (host, port, interface).

    Handles ``[v6]:p``, ``[v6]%dev:p``, ``[v6%zone]:p`` (Windows), ``v4%dev:p``, bare IPv6 where the port
    follows the last colon (``:::22``, ``::1:5432``), and ``*`` ports. Returns None when there is no port.
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        return None
    interface: str | None = None
    if host[0] == "[":
        close = host.find("]")
        if close < 0:
            return None
        tail = host[close + 1 :]
        inner = host[1:close]
        if tail:
            if tail[0] != "%":
                return None
            interface = tail[1:]
        if "%" in inner:
            inner, _, interface = inner.partition("%")
        return inner, port, interface
    if "%" in host:
        host, _, interface = host.partition("%")
    return host, port, interface


def port_number(text: str, proto: Proto) -> int | None:
    """A port as a number (0-65535); ``*`` is None; a service name (output made without -n) is looked up in
    the bundled table (``nettop.formats.services``), then in this machine's database.

    Raises ValueError when the text is neither a number in range nor a known service.
    """
    port, service = port_or_service(text, proto)
    if service is not None:
        raise ValueError(f"port {quoted(text, 40)} is neither a number nor a known service name")
    return port


def port_or_service(text: str, proto: Proto) -> tuple[int | None, str | None]:
    """A port cell as (number, None); ``*`` as (None, None); a name nettop cannot number as (None, name), so that
    its row is kept (``Connection.local_service``). For a raw socket the cell holds its protocol (``ipv6-icmp``).

    Raises ValueError for what is neither a number in range nor shaped like a service name.
    """
    if text.isdigit():
        return number(text, MAX_PORT, "port"), None
    if text == "*":
        return None, None
    if not _SERVICE_NAME.fullmatch(text):
        raise ValueError(f"port {quoted(text, 40)} is neither a number nor a service name")
    from nettop.formats.services import PORTS, PROTOCOLS  # only captures made without -n need it

    known = (PROTOCOLS if proto is Proto.RAW else PORTS).get(text.lower())
    if known is not None:
        return known, None
    try:
        if proto is Proto.RAW:
            return socket.getprotobyname(text), None
        return socket.getservbyname(text, proto.value), None
    except OSError:
        return None, text


#: What a service or protocol name may look like: IANA's are letters, digits and hyphens, up to 15; older
#: databases also hold dots, underscores, pluses and slashes (``z39.50``, ``nfs.lockd``, ``sql*net``).
_SERVICE_NAME = re.compile(r"(?=[^\s]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9._+*/-]{0,63}", re.ASCII)


def is_lookup_name(text: str) -> bool:
    """Whether ``text`` may be a service or protocol name worth asking the system's database about: short,
    printable ASCII. Anything else cannot be one, and the C library is not handed NULs or megabytes."""
    return 0 < len(text) <= 64 and text.isascii() and text.isprintable()


def family_of(host: str, default: int = 4) -> int:
    """6 for an IPv6 literal (or ss's ``*``, its dual-stack IPv6 wildcard), 4 for IPv4, else ``default``."""
    if ":" in host or host == "*":
        return 6
    if host[:1].isdigit() and host.count(".") == 3:
        return 4
    return default


def netstat_without_header(
    lines: list[str],
    format: str,
    tool: str,
    header: str,
    other_table: Callable[[str], str | None],
    protos: Container[str],
) -> ParseResult:
    """What a netstat parser says of text with no socket-table header anywhere: empty, cut after its title,
    another table (``other_table`` names it), bare rows (columns unknowable), or not this tool's output.

    ``tool`` names the netstat ("Linux netstat"), ``header`` how its header starts, for the messages.
    """
    head = []
    for index, line in enumerate(lines):
        if line.strip():
            head.append((index, line.strip()))
            if len(head) == 12:
                break
    if not head:
        return ParseResult((), (), format)
    for position, (index, line) in enumerate(head):
        if line.startswith("Active Internet connections"):
            if position == len(head) - 1:
                issue = ParseIssue(index + 1, lines[index], "a title with no column header after it: the output is cut")
                return ParseResult((), (issue,), format)
            following = head[position + 1][1]
            raise UnknownFormat(f"an internet socket table, but not {tool}'s: its header is {quoted(following)}")
        what = other_table(line)
        if what:
            raise NotASocketTable(f"this is {what}, not a list of internet sockets")
    first = head[0][1]
    if first.split(None, 1)[0] in protos:
        raise UnknownFormat(f"netstat socket lines without their header ({header}): the columns cannot be known")
    raise UnknownFormat(f"not {tool} output: no '{header}' header; first line: {quoted(first)}")
