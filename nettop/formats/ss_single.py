"""Parse ``ss -H`` of a single socket type (``ss -tlnH``, ``ss -tnaeH``, ``ss -unaH``): rows with neither a header
nor a Netid column, each starting with its state::

    LISTEN 0      128        127.0.0.1:22        0.0.0.0:*     ino:4242 sk:1 cgroup:/ <->
    ESTAB  0      0          127.0.0.1:22      127.0.0.1:50000 ino:4243 sk:2 cgroup:/ <->

- The rows are ss's (``-p``, ``-e``, ``%dev`` and the rest read as in ``ss``); only the protocol is not written.
  It is the text's, not a row's: a row in a state only TCP has (``LISTEN``, ``TIME-WAIT``, ``SYN-SENT``…) makes
  every row TCP; else an ``UNCONN`` row makes every row UDP (``ss -unaH``, whose connected sockets are
  ``ESTAB``); a text of ``ESTAB`` rows alone cannot tell, and is read as TCP.
- Sniffed by its first row: a state word, then two queue sizes and two ``host:port`` cells.

Output: ``ParseResult`` with one ``Connection`` a socket line and one ``ParseIssue`` a line not read.
"""

from __future__ import annotations

from nettop.formats import ss
from nettop.formats.common import STATE_WORDS
from nettop.model import ParseResult, Proto, State

FORMAT = "ss-single"

#: What ss prints for states a UDP socket never has.
_TCP_ONLY = frozenset(
    word for word, state in STATE_WORDS.items() if state not in (State.UNCONNECTED, State.ESTABLISHED)
)


def looks_like_rows(line: str) -> bool:
    words = line.split(None, 5)
    return (
        len(words) >= 5
        and words[0].upper() in STATE_WORDS
        and words[1].isdigit()
        and words[2].isdigit()
        and ":" in words[3]
        and ":" in words[4]
    )


def parse(text: str) -> ParseResult:
    result = ss.parse(text, proto_hint=protocol_of(text), source="ss")
    return ParseResult(result.records, result.issues, FORMAT)


def protocol_of(text: str) -> Proto:
    """The protocol of every row (see the module's docstring)."""
    states = {line.split(None, 1)[0].upper() for line in text.split("\n") if line[:1].isalpha()}
    if states & _TCP_ONLY or "UNCONN" not in states:
        return Proto.TCP
    return Proto.UDP
