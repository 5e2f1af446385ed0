"""A remote host's sockets as the collector's answers build them up (``nettop.remote.collector``): the tables' lines
by number, the sockets' holders, the holders' descriptions; and from them, records.

Everything here is read from another machine: each answer is checked as it is applied, and one that does not hold
together raises ``ProtocolError`` (the session then starts again from a full answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nettop.formats import procnet
from nettop.model import Connection, Owner, OwnerStatus, ParseIssue, State, new_connection

PROTOCOL = 1
TABLES = ("tcp", "tcp6", "udp", "udp6")


class ProtocolError(ValueError):
    """An answer that is not what the collector writes."""


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} is not an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError(f"{what} is not a list")
    return value


class RemoteTables:
    """What one collector session has said so far."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.lines: dict[str, dict[int, str]] = {name: {} for name in TABLES}
        #: Each line parsed once, by its number (a line never changes under its number): a refresh parses only
        #: the lines it brought (10,000 sockets: 120 ms a refresh before, to re-parse them all).
        self._parsed: dict[str, dict[int, Connection | ParseIssue]] = {name: {} for name in TABLES}
        self.holders: dict[int, tuple[int, ...]] = {}
        self.processes: dict[int, Owner] = {}
        self.euid: int | None = None
        self.hidden = 0
        self.taken_at = 0.0

    def apply(self, answer: object) -> None:
        """Take one answer. ProtocolError when it does not hold together (the state is then unusable)."""
        answer = _mapping(answer, "the answer")
        if answer.get("v") != PROTOCOL:
            raise ProtocolError(f"protocol {answer.get('v')!r}, expected {PROTOCOL}")
        try:
            self.taken_at = float(answer["t"])
            self.euid = int(answer["euid"])
            self.hidden = int(answer.get("hidden", 0))
            for name, table in _mapping(answer.get("tables", {}), "tables").items():
                self._table(name, _mapping(table, f"table {name}"))
            self._holders(_mapping(answer.get("holders", {}), "holders"))
            self._processes(_mapping(answer.get("processes", {}), "processes"))
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, ProtocolError):
                raise
            raise ProtocolError(f"malformed answer: {type(error).__name__}: {error}") from None

    def _table(self, name: str, table: Mapping[str, Any]) -> None:
        if name not in TABLES:
            raise ProtocolError(f"unknown table {name!r}")
        if "header" in table:
            self.headers[name] = str(table["header"])
        lines, parsed = self.lines[name], self._parsed[name]
        for number in _list(table.get("del", []), "del"):
            lines.pop(int(number), None)
            parsed.pop(int(number), None)
        for number, line in _list(table.get("add", []), "add"):
            if not isinstance(line, str):
                raise ProtocolError("a table line is not text")
            lines[int(number)] = line

    def _holders(self, holders: Mapping[str, Any]) -> None:
        for inode in _list(holders.get("del", []), "holders' del"):
            self.holders.pop(int(inode), None)
        for inode, pids in _mapping(holders.get("add", {}), "holders' add").items():
            self.holders[int(inode)] = tuple(int(pid) for pid in _list(pids, "pids"))

    def _processes(self, processes: Mapping[str, Any]) -> None:
        for pid in _list(processes.get("del", []), "processes' del"):
            self.processes.pop(int(pid), None)
        for pid, described in _mapping(processes.get("add", {}), "processes' add").items():
            name, _uid, user, cmdline, started = _list(described, "a process")
            self.processes[int(pid)] = Owner(
                int(pid),
                str(name),
                str(user),
                tuple(str(word) for word in _list(cmdline, "a command line")),
                float(started) if started is not None else None,
            )

    def records(self, source: str, host: str) -> tuple[tuple[Connection, ...], tuple[ParseIssue, ...]]:
        """Every socket, parsed by nettop's ``/proc/net`` parser (each line once), with its owners from the
        remote scan, and ``host`` as its host. A line that does not parse is an issue, numbered by its id."""
        records: list[Connection] = []
        issues: list[ParseIssue] = []
        for name in TABLES:
            header = self.headers.get(name)
            if header is None:
                continue
            proto, parsed = procnet.table_proto(header), self._parsed[name]
            for number, line in sorted(self.lines[name].items()):
                found = parsed.get(number)
                if found is None:
                    try:
                        found = procnet.parse_row(f"   0: {line}", proto, source)
                    except ValueError as error:
                        found = ParseIssue(number, line, str(error))
                    parsed[number] = found
                if isinstance(found, ParseIssue):
                    issues.append(found)
                else:
                    records.append(self._owned(found, host))
        return tuple(records), tuple(issues)

    def _owned(self, record: Connection, host: str) -> Connection:
        pids = self.holders.get(record.inode or 0, ())
        owners = tuple(self.processes[pid] for pid in pids if pid in self.processes)
        if owners:
            status = OwnerStatus.KNOWN
        elif not record.inode or record.state is State.TIME_WAIT or self.euid in (0, record.uid):
            status = OwnerStatus.NO_PROCESS  # the scan sees root's every holder, and a user's own: none is there
        else:
            status = OwnerStatus.NOT_PERMITTED
        fields = list(record)
        fields[7], fields[8], fields[23] = owners, status, host
        return new_connection(tuple(fields))
