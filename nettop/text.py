"""Untrusted text made safe to show: the one place that does it for every screen and writer.

Process names, command lines, users, paths, interface names, captured lines and commands' error output come
from other users or other machines. Any local user can name a process ``ESC]0;…BEL`` (retitles the terminal
of whoever runs nettop) or ``ESC[2J`` (clears it). ``safe`` shows such characters escaped, as htop and ps do:
``\\x1b``, ``\\n``, ``\\u202e``; everything else is kept as it is. Its output holds no C0 or C1 control, no
DEL, no bidirectional or invisible formatting character, no lone surrogate and no XML non-character, so it is
also valid in XML 1.0 (JUnit) and cannot spoof what a terminal shows around it.

JSON keeps exact values instead (``json_safe_bytes``): JSON's own escapes are lossless.

Never build Textual or Rich markup from such text either: give widgets ``rich.text.Text`` or plain strings
with markup off. ``safe`` escapes control characters, not markup.

It is also the one place that spells endpoints (``[::1]:80``), addresses, ports and owners (``880/exim4``) for
every writer and screen; those spellings are not made safe here, the caller does it for the whole line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nettop.model import Connection, Owner

#: What a terminal could act on or that hides what follows it: every character of Unicode's categories Cc (C0,
#: DEL, C1: 0x9b is a one-byte CSI to some terminals), Cf (format: soft hyphen, zero-width and directional marks
#: and overrides, invisible operators, the byte-order mark, tag characters), Cs (lone surrogates: bytes that
#: were not UTF-8, kept by ``surrogateescape``), Zl and Zp (line and paragraph separators), as of Unicode 15;
#: and the non-characters U+FFFE and U+FFFF, which XML refuses. A test checks the list against ``unicodedata``.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb\ufffe\uffff\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as os.fsdecode and psutil keep it
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return _SHORT.get(char) or f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def safe(text: str) -> str:
    """``text`` with every control, formatting or invalid character shown as an escape (``\\x1b``)."""
    if text.isascii() and text.isprintable():  # nearly always: one C-level pass, no regex
        return text
    return _UNSAFE.sub(_escaped, text)


def safe_or(text: str | None, default: str = "") -> str:
    """``safe`` for a value that may be missing."""
    return default if text is None else safe(text)


def safe_words(words: tuple[str, ...] | list[str] | None, default: str = "") -> str:
    """A command line (argv) as one safe line: its words joined by spaces."""
    return safe(" ".join(words)) if words else default


def cut(text: str, limit: int = 100) -> str:
    """At most ``limit`` characters of ``text``, made safe, marking a cut: for quoting input in a message."""
    return safe(text[:limit]) + ("…" if len(text) > limit else "")


#: In UTF-8 JSON, DEL and C1 controls may stand raw inside strings (JSON escapes only what is below 0x20), and
#: 0xc2 0x80-0x9f is the UTF-8 form of exactly U+0080-U+009F.
_RAW_JSON_CONTROLS = re.compile(rb"\x7f|\xc2[\x80-\x9f]")


def json_safe_bytes(data: bytes) -> bytes:
    """UTF-8 JSON with DEL and the C1 controls written as ``\\u`` escapes too: the same values, but nothing a
    terminal could act on when the JSON is printed (``nettop list --format json`` on a terminal)."""
    # bytes.find runs at memory speed: the regular expression took 190 ms over 60,000 sockets' 43 MB, and most
    # outputs hold neither byte (0xc2 also leads U+00A0-U+00BF: only then is the expression asked).
    if b"\x7f" not in data and b"\xc2" not in data:
        return data
    if not _RAW_JSON_CONTROLS.search(data):
        return data
    return _RAW_JSON_CONTROLS.sub(lambda m: b"\\u%04x" % ord(m.group().decode()), data)


# ---- how nettop writes endpoints, addresses and owners: the one spelling every writer and screen uses


def address_text(ip: str | None, interface: str | None = None) -> str:
    """``10.0.0.1``, ``fe80::1%eth0``; ``*`` for a wildcard peer (no brackets: a column of its own holds the
    port)."""
    if ip is None:
        return "*"
    return f"{ip}%{interface}" if interface else ip


def port_text(port: int | None, service: str | None = None) -> str:
    """``443``; ``*`` for any port; the service name a tool wrote when nettop could not number it (``dsf``)."""
    if port is None:
        return service or "*"
    return str(port)


def bytes_text(count: int) -> str:
    """A byte count in at most 8 cells, in decimal units as network tools give them: ``512 B``, ``12.3 kB``."""
    if count < 1000:
        return f"{count} B"
    value = count / 1000
    for unit in ("kB", "MB", "GB"):
        if value < 999.95:  # what rounds to 1000.0 is the next unit's 1.0
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def rtt_text(microseconds: int) -> str:
    """A round-trip time in at most 7 cells: ``0.05 ms``, ``12.4 ms``, ``130 ms``, ``1.2 s``."""
    # Each bound is where the next format's rounding begins: 9,995 µs is "10.0 ms", not "10.00 ms".
    if microseconds < 9_995:
        return f"{microseconds / 1000:.2f} ms"
    if microseconds < 99_950:
        return f"{microseconds / 1000:.1f} ms"
    if microseconds < 999_500:
        return f"{round(microseconds / 1000)} ms"
    return f"{microseconds / 1_000_000:.1f} s"


def endpoint_text(ip: str | None, port: int | None, interface: str | None = None, service: str | None = None) -> str:
    """``127.0.0.1:80``, ``[::1]:80``, ``[fe80::1]%eth0:80``, ``10.0.0.1:dsf``; ``*`` for a wildcard peer."""
    if ip is None:
        return "*"
    host = f"[{ip}]" if ":" in ip else ip
    if interface:
        host += f"%{interface}"
    return f"{host}:{port_text(port, service)}"


def local_text(record: Connection) -> str:
    """A record's local end as ``endpoint_text`` writes it."""
    return endpoint_text(record.local_ip, record.local_port, record.interface, record.local_service)


def remote_text(record: Connection, name: str | None = None) -> str:
    """A record's peer as ``endpoint_text`` writes it (the interface is the local end's); by its host ``name``
    when one is given (``db.example:5432``: no brackets, a name has no colons to confuse with the port's)."""
    if name is not None and record.remote_ip is not None:
        return f"{name}:{port_text(record.remote_port, record.remote_service)}"
    return endpoint_text(record.remote_ip, record.remote_port, None, record.remote_service)


def owner_text(pid: int | None, name: str | None, unknown: str = "?") -> str:
    """``880/exim4``; ``880/?`` when the name is not known (CSV leaves it empty: ``880/``), ``?/exim4`` the pid."""
    return f"{unknown if pid is None else pid}/{name or unknown}"


def owners_text(owners: Iterable[Owner], unknown: str = "?", sep: str = ",") -> str:
    """Every owner of a socket, ``880/exim4,881/exim4``; "" when it has none."""
    return sep.join(owner_text(owner.pid, owner.name, unknown) for owner in owners)


def skipped_text(skipped: Iterable[tuple[str, int]]) -> str:
    """What a parser left out on purpose, for a note: ``left out 12 UNIX and 3 netlink sockets (not internet
    sockets)``."""
    parts = [f"{count} {kind}" for kind, count in skipped]
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"left out {listed} sockets (not internet sockets)"
