"""macOS: ``netstat -anv -p tcp`` and ``-p udp`` (``-v`` shows the owning pid); when a release's layout has no pid
column, ``lsof -nP -i`` gives the owners, joined by endpoint. If netstat fails, ``lsof -nP -i`` alone.

Everything goes through the injectable runner, so this path is tested on Linux with scripted outputs. The
commands come from ``formats.registry``.
"""

from __future__ import annotations

from nettop.aio import both
from nettop.errors import NettopError
from nettop.formats import lsof, netstat_bsd
from nettop.formats.registry import command
from nettop.model import ParseResult
from nettop.owners.join import join_by_endpoint, owners_by_endpoint
from nettop.runner import Runner
from nettop.sources.command import ListingCommand, Steps, joined, steps_command

_NETSTAT = command("darwin", "netstat")
MACOS_NETSTAT_TCP = _NETSTAT.argv
(MACOS_NETSTAT_UDP,) = _NETSTAT.more
LSOF = command("darwin", "lsof").argv


async def macos_netstat(runner: Runner, timeout: float) -> Steps:
    tcp, udp = await both(runner(MACOS_NETSTAT_TCP, timeout), runner(MACOS_NETSTAT_UDP, timeout))
    result = joined([netstat_bsd.parse(tcp), netstat_bsd.parse(udp)])
    if netstat_bsd.has_pids(tcp):
        return result, ()
    # This release's netstat shows no pids: ask lsof, matching sockets by their two ends.
    try:
        owners = owners_by_endpoint(lsof.parse(await runner(LSOF, timeout)))
    except NettopError as error:
        return result, (f"owners unknown: netstat shows no pids and lsof failed ({error})",)
    return ParseResult(join_by_endpoint(result.records, owners), result.issues, result.format), ()


async def macos_lsof(runner: Runner, timeout: float) -> Steps:
    return lsof.parse(await runner(LSOF, timeout)), ()


COMMANDS: dict[str, ListingCommand] = {
    "netstat": steps_command("netstat", MACOS_NETSTAT_TCP, macos_netstat),
    "lsof": steps_command("lsof", LSOF, macos_lsof),
}
