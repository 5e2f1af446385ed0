"""Parse ``ss -H`` of a single socket type (``ss -tlnH``, ``ss -tnaeH``, ``ss -unaH``): rows with neither a header
nor a Netid column, each starting with its state::

    LISTEN 0      128        127.0.0.1:22        0.0.0.0:*     ino:4242 sk:1 cgroup:/ <->
    ESTAB  0      0          127.0.0.1:22      127.0.0.1:50000 ino:4243 sk:2 cgroup:/ <->

- The rows are ss's (``-p``, ``-e``, ``%dev`` and the rest read as in ``ss``); only the protocol is not written.
  It is the text's, not a row's (``ss.protocol_of``): a row in a state only TCP has (``LISTEN``, ``TIME-WAIT``,
  ``SYN-SENT``…) makes every row TCP; else "ports" that are protocols make them raw sockets (``ss -wH``:
  ``0.0.0.0:1``, ``*:ipv6-icmp``); else an ``UNCONN`` row makes every row UDP (``ss -unaH``, whose connected
  sockets are ``ESTAB``); a text of ``ESTAB`` rows alone cannot tell, and is read as TCP.
- A state glued to its queue (``LISTEN0      32``) is read as two columns.
- Sniffed by its first row: a state word, then two queue sizes and two ``host:port`` cells.

Output: ``ParseResult`` with one ``Connection`` a socket line and one ``ParseIssue`` a line not read.
"""

from __future__ import annotations

from nettop.formats import ss
from nettop.formats.common import text_lines
from nettop.model import ParseResult, Proto

FORMAT = "ss-single"


def looks_like_rows(line: str) -> bool:
    """A state word (glued to the queue or not: ``LISTEN0``), queue sizes and two ``host:port`` cells."""
    words = line.split(None, 5)
    if len(words) < 4:
        return False
    state = ss.state_word(words[0])
    if state is not None and len(state) < len(words[0]):  # glued: LISTEN0 32 local peer
        words = [state, words[0][len(state) :], *words[1:]]
    return (
        len(words) >= 5
        and state is not None
        and words[1].isdigit()
        and words[2].isdigit()
        and ":" in words[3]
        and ":" in words[4]
    )


def parse(text: str) -> ParseResult:
    result = ss.parse(text, proto_hint=protocol_of(text), source="ss")
    return ParseResult(result.records, result.issues, FORMAT, result.skipped)


def protocol_of(text: str) -> Proto:
    """The protocol of every row (``ss.protocol_of``); TCP when the rows cannot tell."""
    return ss.protocol_of(text_lines(text)) or Proto.TCP
