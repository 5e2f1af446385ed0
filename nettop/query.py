"""Select records: the filters of ``nettop list`` and the API, as pure functions over records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nettop.formats.common import parse_state
from nettop.model import Connection, Proto, State

#: Words users type for states, beyond the tools' own spellings (``listen``, ``time-wait``, ``estab``).
_STATE_ALIASES = {"UDP": State.UNCONNECTED, "NONE": State.UNCONNECTED, "UNCONNECTED": State.UNCONNECTED}


def state_from_user(word: str) -> State:
    """Read a state as a user types it; raise ValueError naming the valid ones."""
    upper = word.strip().upper().replace(" ", "_")
    state = _STATE_ALIASES.get(upper) or parse_state(upper) or parse_state(upper.replace("_", "-"))
    if state is None:
        valid = ", ".join(s.value.lower() for s in State)
        raise ValueError(f"unknown state {word!r} (valid: {valid})")
    return state


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Conditions that all must hold; a field left as None (or empty) does not filter."""

    proto: Proto | None = None
    states: frozenset[State] = frozenset()
    #: Matches the local or the remote port.
    port: int | None = None
    #: Matches any owner's pid.
    pid: int | None = None
    #: Matches any owner's name exactly.
    program: str | None = None
    listening: bool = False
    family: int | None = None

    def matches(self, record: Connection) -> bool:
        if self.proto is not None and record.proto is not self.proto:
            return False
        if self.family is not None and record.family != self.family:
            return False
        if self.states and record.state not in self.states:
            return False
        if self.listening and not record.is_listener:
            return False
        if self.port is not None and self.port not in (record.local_port, record.remote_port):
            return False
        if self.pid is not None and all(owner.pid != self.pid for owner in record.owners):
            return False
        return self.program is None or any(owner.name == self.program for owner in record.owners)


def filter_records(records: Iterable[Connection], record_filter: RecordFilter) -> list[Connection]:
    return [record for record in records if record_filter.matches(record)]
