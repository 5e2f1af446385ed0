"""Helpers every parser shares: state spellings, ``addr:port`` splitting, wildcard and family rules.

These sit on the hot path (one call per field of every line), so they use ``str`` methods and dict
look-ups rather than regular expressions or ``ipaddress``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Container

from nettop.errors import NotASocketTable, UnknownFormat
from nettop.model import ParseIssue, ParseResult, Proto, State

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


#: Tokens that stand for "any address" in the address part of an endpoint.
WILDCARD_HOSTS = frozenset({"*", "0.0.0.0", "::", "[::]"})


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
    """A port as a number; ``*`` is None; a service name (output made without -n) is looked up.

    Raises ValueError when the text is neither a number nor a known service.
    """
    if text.isdigit():
        return int(text)
    if text == "*":
        return None
    try:
        return socket.getservbyname(text, proto.value)
    except OSError:
        raise ValueError(f"port {text!r} is neither a number nor a known service name") from None


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
    head = [(i, line.strip()) for i, line in enumerate(lines) if line.strip()][:12]
    if not head:
        return ParseResult((), (), format)
    for position, (index, line) in enumerate(head):
        if line.startswith("Active Internet connections"):
            if position == len(head) - 1:
                issue = ParseIssue(index + 1, lines[index], "a title with no column header after it: the output is cut")
                return ParseResult((), (issue,), format)
            following = head[position + 1][1]
            raise UnknownFormat(f"an internet socket table, but not {tool}'s: its header is {following[:80]!r}")
        what = other_table(line)
        if what:
            raise NotASocketTable(f"this is {what}, not a list of internet sockets")
    first = head[0][1]
    if first.split(None, 1)[0] in protos:
        raise UnknownFormat(f"netstat socket lines without their header ({header}): the columns cannot be known")
    raise UnknownFormat(f"not {tool} output: no '{header}' header; first line: {first[:80]!r}")
