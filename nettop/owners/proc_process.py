"""A process's name, user, command line and start time read from ``/proc`` (Linux): what the enricher asks of
psutil elsewhere, without importing it (a tenth of ``nettop list``'s start) or its per-call overhead.

The start time is computed as psutil computes ``create_time`` (start ticks / clock ticks + boot time, both from
``/proc``), to the same float: ``kill`` compares the two to refuse a reused pid.
"""

from __future__ import annotations

import os
import pwd
from typing import NamedTuple

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ProcessFacts(NamedTuple):
    name: str
    user: str | None
    cmdline: tuple[str, ...] | None
    start_time: float


class ProcessGone(Exception):
    """The process exited (or became a zombie) while it was read."""


class ProcessHidden(Exception):
    """``/proc`` refuses to show this process (``hidepid``, another user's namespace)."""


_BOOT_TIMES: dict[str, float] = {}
_USERS: dict[int, str | None] = {}


def boot_time(proc_root: str = "/proc") -> float:
    found = _BOOT_TIMES.get(proc_root)
    if found is None:
        with open(f"{proc_root}/stat", "rb") as file:
            for line in file:
                if line.startswith(b"btime"):
                    found = _BOOT_TIMES[proc_root] = float(line.split()[1])
                    break
            else:
                raise OSError(f"no btime line in {proc_root}/stat")
    return found


def start_ticks(pid: int, proc_root: str = "/proc") -> tuple[str, int]:
    """The process's comm and its start time in clock ticks since boot (``/proc/PID/stat``, fields 2 and 22)."""
    data = _read(f"{proc_root}/{pid}/stat")
    # The comm is between the first "(" and the last ")": it may hold spaces and parentheses itself.
    opened, closed = data.find(b"("), data.rfind(b")")
    fields = data[closed + 2 :].split()
    if opened < 0 or closed < opened or len(fields) < 20:
        raise ProcessGone(pid)
    return os.fsdecode(data[opened + 1 : closed]), int(fields[19])


def facts(pid: int, proc_root: str = "/proc") -> ProcessFacts:
    """Raises ``ProcessGone`` or ``ProcessHidden``."""
    comm, ticks = start_ticks(pid, proc_root)
    start_time = float(ticks) / CLOCK_TICKS + boot_time(proc_root)
    cmdline = _cmdline(pid, proc_root)
    user = _user(pid, proc_root)
    name = comm
    if len(comm) >= 15 and cmdline:  # comm is cut at 15 characters: the command's own name, as psutil gives it
        first = os.path.basename(cmdline[0])
        if first.startswith(comm):
            name = first
    if start_ticks(pid, proc_root)[1] != ticks:  # the pid went to another process while it was read
        raise ProcessGone(pid)
    return ProcessFacts(name, user, cmdline, start_time)


def _cmdline(pid: int, proc_root: str) -> tuple[str, ...] | None:
    try:
        data = _read(f"{proc_root}/{pid}/cmdline")
    except ProcessHidden:
        return None
    if not data:
        return None  # a kernel thread, or a zombie
    if data.endswith(b"\0"):
        data = data[:-1]
    # A process that rewrote its title with spaces (setproctitle) has one word: split as psutil does.
    words = data.split(b"\0")
    if len(words) == 1 and b" " in data:
        words = data.split(b" ")
    return tuple(os.fsdecode(word) for word in words)


def _user(pid: int, proc_root: str) -> str | None:
    try:
        data = _read(f"{proc_root}/{pid}/status")
    except ProcessHidden:
        return None
    at = data.find(b"\nUid:")
    if at < 0:
        return None
    uid = int(data[at + 5 :].split(None, 1)[0])  # the real uid, as psutil's username()
    if uid not in _USERS:
        try:
            _USERS[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            _USERS[uid] = str(uid)
    return _USERS[uid]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessGone(path) from None
    except PermissionError:
        raise ProcessHidden(path) from None
