"""Windows: ``netstat -ano``, with ``tasklist /FO CSV /NH`` for image names (a failing tasklist only costs the
names). Tested on Linux with scripted outputs; the commands come from ``formats.registry``.
"""

from __future__ import annotations

from nettop.aio import both
from nettop.errors import CommandError
from nettop.formats import windows
from nettop.formats.registry import command
from nettop.runner import Runner
from nettop.sources.command import ListingCommand, Steps, steps_command

_NETSTAT = command("win32", "netstat")
WINDOWS_NETSTAT = _NETSTAT.argv
(TASKLIST,) = _NETSTAT.more


async def windows_netstat(runner: Runner, timeout: float) -> Steps:
    listing, names = await both(runner(WINDOWS_NETSTAT, timeout), _tasklist(runner, timeout))
    mapping, notes = names
    return windows.parse(listing, names=mapping), notes


async def _tasklist(runner: Runner, timeout: float) -> tuple[dict[int, str], tuple[str, ...]]:
    try:
        return windows.parse_tasklist(await runner(TASKLIST, timeout)), ()
    except CommandError as error:
        return {}, (f"program names unknown: {error}",)


COMMANDS: dict[str, ListingCommand] = {"netstat": steps_command("netstat", WINDOWS_NETSTAT, windows_netstat)}
