"""Read a ``nettop check`` policy: which ports must listen, which must not, and how many listeners may.

The policy is TOML, read with the standard library's ``tomllib``::

    [[listen]]              # an expected listener; one table per listener
    port = 22
    proto = "tcp"           # tcp or udp (required)
    bind = "any"            # optional: an address, "any" or "loopback"; left out, any address will do
    program = "sshd"        # optional: an owner's exact name (or program_regex = "...", a full match)
    user = "root"           # optional: that owner's user
    unit = "ssh.service"    # optional: that owner's systemd unit (Linux; from its cgroup)
    [[forbid]]              # a port that must not be listening
    port = 25
    proto = "tcp"           # optional: tcp and udp when left out
    [listeners]
    count = 4               # optional: exact number of listeners (or max = 4)
    only_listed = false     # optional: when true, a listener no [[listen]] names fails

Every mistake is a ``PolicyError`` naming the file, the line and the key, since a policy lives in a
repository and its author needs to find the line. ``tomllib`` reports lines only for syntax errors, so
for the rest the line is found again in the text (see ``_Lines``). Whatever the text, reading it gives a
``Policy`` or a ``PolicyError``: a file larger than ``POLICY_LIMIT``, bytes that are not UTF-8, arrays or
inline tables nested so deep that ``tomllib`` would exhaust the stack, and integers too long to convert are
errors like the others. Values quoted in messages are cut short and made safe to print (``nettop.text.cut``).
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nettop.errors import NettopError
from nettop.inputs import POLICY_LIMIT, InputError, read_input
from nettop.model import Proto
from nettop.text import cut, safe

#: The protocols a policy may name; raw sockets do not listen.
POLICY_PROTOS = {"tcp": Proto.TCP, "udp": Proto.UDP}
BIND_SCOPES = ("any", "loopback")

LISTEN_KEYS = ("port", "proto", "bind", "program", "program_regex", "user", "unit")
FORBID_KEYS = ("port", "proto")
LIMIT_KEYS = ("count", "max", "only_listed")
TABLES = ("listen", "forbid", "listeners")


class PolicyError(NettopError):
    """A policy that cannot be used; the message reads ``file:line: key: problem``."""

    def __init__(self, path: str, line: int | None, key: str | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.problem = problem
        where = f"{safe(path)}:{line}" if line else safe(path)
        super().__init__(f"{where}: {cut(key)}: {problem}" if key else f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class ListenRule:
    """A listener the policy expects; ``None`` fields do not constrain. ``line``: where its table starts."""

    port: int
    proto: Proto
    bind: str | None = None
    program: str | None = None
    program_regex: str | None = None
    user: str | None = None
    line: int | None = None
    #: The systemd unit an owner runs in, as ``systemctl`` names it (``nginx.service``).
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class ForbidRule:
    """A port that must not listen; ``proto`` None forbids both TCP and UDP."""

    port: int
    proto: Proto | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class ListenerLimits:
    count: int | None = None
    max: int | None = None
    only_listed: bool = False
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    #: The file it was read from, for reports.
    name: str
    listen: tuple[ListenRule, ...] = ()
    forbid: tuple[ForbidRule, ...] = ()
    limits: ListenerLimits = ListenerLimits()


def load_policy(path: str | Path) -> Policy:
    """Read and check the policy file at ``path`` (``-``: standard input), at most ``POLICY_LIMIT`` bytes."""
    name = str(path)
    try:
        data = read_input(name, POLICY_LIMIT, "policy")
    except InputError as error:
        problem = error.reason if error.too_large else f"cannot read the policy: {error.reason}"
        raise PolicyError(name, None, None, problem) from None
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark is how some Windows editors start UTF-8
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        bad = data[error.start : error.start + 1].hex()
        raise PolicyError(name, line, None, f"not UTF-8 text (byte 0x{bad})") from None
    return parse_policy(text, name)


def parse_policy(text: str, name: str = "<policy>") -> Policy:
    """Check the policy in ``text``; ``name`` is the file name errors give."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _syntax_error(text, name, error) from None
    except RecursionError:  # tomllib recurses once per level of arrays and inline tables
        raise PolicyError(name, None, None, "arrays or inline tables nested too deeply") from None
    except ValueError as error:  # an integer of more than 4300 digits, which int() refuses to convert
        reason = re.split("[:;]", str(error), maxsplit=1)[0]
        raise PolicyError(name, None, None, f"TOML value that cannot be read: {reason}") from None
    lines = _Lines(text)
    unknown = [key for key in document if key not in TABLES]
    if unknown:
        raise PolicyError(name, lines.top_level(unknown[0]), unknown[0], f"unknown table or key ({_choices(TABLES)})")
    reader = _Reader(name, lines)
    return Policy(
        name,
        tuple(reader.tables(document, "listen", _listen_rule)),
        tuple(reader.tables(document, "forbid", _forbid_rule)),
        reader.limits(document.get("listeners")),
    )


_SYNTAX_AT = re.compile(r"\(at line (\d+), column \d+\)")
_KEY_AT_START = re.compile(r'\s*"?([A-Za-z0-9_-]+)"?\s*=')


def _syntax_error(text: str, name: str, error: tomllib.TOMLDecodeError) -> PolicyError:
    """tomllib's message ends in ``(at line L, column C)``: lift the line out, and name the key written there."""
    message = safe(str(error))
    lines = _toml_lines(text)
    found = _SYNTAX_AT.search(message)
    if found is None:  # "(at end of document)"
        last = len(lines) - 1 if lines[-1] == "" else len(lines)
        return PolicyError(name, last or None, None, f"TOML syntax error: {message}")
    line = int(found.group(1))
    source = lines[line - 1] if line <= len(lines) else ""
    key = _KEY_AT_START.match(source)
    return PolicyError(name, line, key.group(1) if key else None, f"TOML syntax error: {message}")


def _toml_lines(text: str) -> list[str]:
    """The lines as TOML (and tomllib's line numbers) count them: split at ``\\n`` only. ``splitlines`` would
    also split at form feeds, ``\\x1c``-``\\x1e``, ``\\x85`` and ``\\u2028``, which TOML allows in
    strings and comments, and every line number after one would be off."""
    return text.split("\n")


def _choices(names: tuple[str, ...]) -> str:
    return "expected one of: " + ", ".join(names)


class _Lines:
    """Finds the line of a table or key again, since tomllib keeps no positions.

    The text is scanned once for table headers (``[[listen]]``, ``[listeners]``, spaces and quotes allowed),
    indexed by name; the N-th ``[[listen]]`` header opens the N-th listen table, which runs to the next
    header, and a key's line is the first line in it that starts with ``key =``. Finding a table is a look-up
    and finding a key reads only its table, so a policy of 20,000 rules is read in linear time. This covers
    policies written as the documentation shows them. A key inside a multi-line string or an inline table
    (``listen = [{port = 22}]``) is not found this way; the error then gives the table's line (or none), and
    still names the table and key.
    """

    _HEADER = re.compile(r'\s*\[\[?\s*"?([A-Za-z0-9_-]+)"?\s*\]\]?')

    def __init__(self, text: str) -> None:
        self._lines = _toml_lines(text)
        #: Table name → the lines of its headers, in order.
        self._starts: dict[str, list[int]] = {}
        #: A header's line → the line of the next header, or one past the last line.
        self._ends: dict[int, int] = {}
        #: The first header's line: top-level keys are written above it.
        self._first_header = len(self._lines) + 1
        previous = None
        for number, line in enumerate(self._lines, 1):
            header = self._HEADER.match(line)
            if header:
                self._starts.setdefault(header.group(1), []).append(number)
                if previous is None:
                    self._first_header = number
                else:
                    self._ends[previous] = number
                previous = number

    def table(self, table: str, index: int | None) -> int | None:
        """The header line of table ``table`` (its ``index``-th occurrence for an array of tables)."""
        found = self._starts.get(table, ())
        position = index or 0
        return found[position] if position < len(found) else None

    def key(self, table: str, index: int | None, key: str) -> int | None:
        """The line of ``key`` in that table, else the table's header line."""
        start = self.table(table, index)
        if start is None:
            return None
        end = self._ends.get(start, len(self._lines) + 1)
        for number in range(start + 1, end):
            written = _KEY_AT_START.match(self._lines[number - 1])
            if written and written.group(1) == key:
                return number
        return start

    def top_level(self, key: str) -> int | None:
        """A top-level table's header, or a key written before the first header."""
        header = self.table(key, None)
        if header is not None:
            return header
        for number in range(1, self._first_header):
            written = _KEY_AT_START.match(self._lines[number - 1])
            if written and written.group(1) == key:
                return number
        return None


class _Table:
    """One policy table being read: checks keys and types, and raises errors that name where they are."""

    def __init__(self, name: str, lines: _Lines, table: str, index: int | None, values: dict[str, Any]) -> None:
        self._name = name
        self._lines = lines
        self._table = table
        self._index = index
        self.values = values

    def label(self, key: str) -> str:
        """``listen[2].port``: which table (1-based, as people count) and key."""
        where = self._table if self._index is None else f"{self._table}[{self._index + 1}]"
        return f"{where}.{key}"

    def line(self) -> int | None:
        return self._lines.table(self._table, self._index)

    def error(self, key: str, problem: str) -> PolicyError:
        return PolicyError(self._name, self._lines.key(self._table, self._index, key), self.label(key), problem)

    def check_keys(self, known: tuple[str, ...]) -> None:
        for key in self.values:
            if key not in known:
                raise self.error(key, f"unknown key ({_choices(known)})")

    def require(self, key: str) -> None:
        if key not in self.values:
            raise PolicyError(self._name, self.line(), self.label(key), "missing (it is required)")

    def port(self) -> int:
        self.require("port")
        port = self.integer("port")
        if port is None or not 1 <= port <= 65535:
            raise self.error("port", f"{port} is not a port number (1-65535)")
        return port

    def proto(self) -> Proto | None:
        value = self.string("proto")
        if value is None:
            return None
        if value.lower() not in POLICY_PROTOS:
            raise self.error("proto", f"'{cut(value)}' is not a protocol ({_choices(tuple(POLICY_PROTOS))})")
        return POLICY_PROTOS[value.lower()]

    def integer(self, key: str) -> int | None:
        value = self.values.get(key)
        # bool is an int in Python but not in TOML: `port = true` is a mistake.
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.error(key, f"expected an integer, found {_type_name(value)} {_shown(value)}")
        return value

    def string(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is not None and not isinstance(value, str):
            raise self.error(key, f"expected a string, found {_type_name(value)} {_shown(value)}")
        if value == "":
            raise self.error(key, "is empty")
        return value

    def boolean(self, key: str) -> bool | None:
        value = self.values.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.error(key, f"expected true or false, found {_type_name(value)} {_shown(value)}")
        return value


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array"}
    return names.get(type(value), "a table" if isinstance(value, dict) else "a date or time")


def _shown(value: Any) -> str:
    """The value as a message quotes it, cut short. Arrays and tables are not shown: their repr could be long
    and, nested deep enough, would exhaust the stack."""
    if isinstance(value, str):
        return f'"{cut(value)}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return f"of {len(value)} item{'' if len(value) == 1 else 's'}"
    return cut(repr(value))


class _Reader:
    def __init__(self, name: str, lines: _Lines) -> None:
        self._name = name
        self._lines = lines

    def tables(self, document: dict[str, Any], table: str, build: Callable[[_Table], Any]) -> list[Any]:
        """Each table of the array ``[[table]]``, built into a rule."""
        values = document.get(table)
        if values is None:
            return []
        if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
            line = self._lines.top_level(table)
            raise PolicyError(self._name, line, table, f"must be an array of tables, written [[{table}]]")
        return [build(_Table(self._name, self._lines, table, index, v)) for index, v in enumerate(values)]

    def limits(self, values: Any) -> ListenerLimits:
        if values is None:
            return ListenerLimits()
        if not isinstance(values, dict):
            raise PolicyError(self._name, self._lines.top_level("listeners"), "listeners", "must be a table")
        table = _Table(self._name, self._lines, "listeners", None, values)
        table.check_keys(LIMIT_KEYS)
        count, most = table.integer("count"), table.integer("max")
        if count is not None and most is not None:
            raise table.error("max", "give count (exact) or max, not both")
        for key, value in (("count", count), ("max", most)):
            if value is not None and value < 0:
                raise table.error(key, f"{value} is negative")
        return ListenerLimits(count, most, bool(table.boolean("only_listed")), table.line())


def _listen_rule(table: _Table) -> ListenRule:
    table.check_keys(LISTEN_KEYS)
    port = table.port()
    table.require("proto")
    proto = table.proto()
    assert proto is not None  # required just above
    program, regex = table.string("program"), table.string("program_regex")
    if program is not None and regex is not None:
        raise table.error("program_regex", "give program (an exact name) or program_regex, not both")
    if regex is not None:
        try:
            re.compile(regex)
        except (re.error, OverflowError) as error:  # OverflowError: a repeat count like {4294967296}
            raise table.error("program_regex", f"invalid regular expression: {cut(str(error))}") from None
        except RecursionError:
            raise table.error("program_regex", "invalid regular expression: groups nested too deeply") from None
    return ListenRule(
        port, proto, _bind(table), program, regex, table.string("user"), table.line(), table.string("unit")
    )


def _bind(table: _Table) -> str | None:
    """``any``, ``loopback``, or an address in its canonical spelling (``::1``, brackets dropped)."""
    value = table.string("bind")
    if value is None or value.lower() in BIND_SCOPES:
        return value.lower() if value else None
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        raise table.error("bind", f'\'{cut(value)}\' is not an address, "any" or "loopback"') from None


def _forbid_rule(table: _Table) -> ForbidRule:
    table.check_keys(FORBID_KEYS)
    return ForbidRule(table.port(), table.proto(), table.line())
