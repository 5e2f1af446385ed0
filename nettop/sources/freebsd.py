"""FreeBSD: ``sockstat -46 -s`` (owners and states); older sockstat without ``-s``: ``sockstat -46``; with no
sockstat, ``netstat -an`` (no owners). Tested on Linux with scripted outputs; the commands come from
``formats.registry``.
"""

from __future__ import annotations

from nettop.errors import CommandError
from nettop.formats import netstat_bsd, sockstat
from nettop.formats.registry import command
from nettop.runner import Runner
from nettop.sources.command import ListingCommand, Steps, steps_command

_SOCKSTAT = command("freebsd", "sockstat")
SOCKSTAT = _SOCKSTAT.argv
(SOCKSTAT_OLD,) = _SOCKSTAT.more
FREEBSD_NETSTAT = command("freebsd", "netstat").argv


async def freebsd_sockstat(runner: Runner, timeout: float) -> Steps:
    try:
        text = await runner(SOCKSTAT, timeout)
    except CommandError:
        # sockstat before FreeBSD 12 has no -s: owners, but no TCP states.
        return sockstat.parse(await runner(SOCKSTAT_OLD, timeout)), ("this sockstat shows no TCP states (no -s)",)
    return sockstat.parse(text), ()


async def freebsd_netstat(runner: Runner, timeout: float) -> Steps:
    return netstat_bsd.parse(await runner(FREEBSD_NETSTAT, timeout)), ("FreeBSD netstat shows no owners",)


COMMANDS: dict[str, ListingCommand] = {
    "sockstat": steps_command("sockstat", SOCKSTAT, freebsd_sockstat),
    "netstat": steps_command("netstat", FREEBSD_NETSTAT, freebsd_netstat),
}
