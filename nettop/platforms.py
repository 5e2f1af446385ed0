"""How each OS other than Linux lists its sockets: commands, flags, fallback order and pid-to-name mapping.

Linux's source (``ss``/``netstat`` plus a ``/proc`` scan) lives in ``sources``. Everything here goes through
the injectable runner, so each platform's path is tested on Linux with scripted outputs.

- macOS: ``netstat -anv -p tcp`` and ``-p udp`` (``-v`` shows the owning pid); when a release's layout has
  no pid column, ``lsof -nP -i`` gives the owners. If netstat fails, ``lsof -nP -i`` alone.
- Windows: ``netstat -ano`` with ``tasklist /FO CSV /NH`` for image names (a failing tasklist only costs
  the names).
- FreeBSD: ``sockstat -46 -s`` (owners and states); older sockstat without ``-s``: ``sockstat -46``; with
  no sockstat, ``netstat -an`` (no owners).
"""

from __future__ import annotations

from nettop.errors import CommandError, NettopError
from nettop.model import Connection, ParseResult
from nettop.runner import Runner

Steps = tuple[ParseResult, tuple[str, ...]]

MACOS_NETSTAT_TCP = ("netstat", "-anv", "-p", "tcp")
MACOS_NETSTAT_UDP = ("netstat", "-anv", "-p", "udp")
LSOF = ("lsof", "-nP", "-i")
WINDOWS_NETSTAT = ("netstat", "-ano")
TASKLIST = ("tasklist", "/FO", "CSV", "/NH")
SOCKSTAT = ("sockstat", "-46", "-s")
SOCKSTAT_OLD = ("sockstat", "-46")
FREEBSD_NETSTAT = ("netstat", "-an")


def joined(results: list[ParseResult]) -> ParseResult:
    """Several listings (macOS's tcp and udp tables) as one; issues keep their own line numbers."""
    records: list[Connection] = []
    for result in results:
        records += result.records
    return ParseResult(tuple(records), tuple(i for r in results for i in r.issues), results[0].format)


async def macos_netstat(runner: Runner, timeout: float) -> Steps:
    # Imported where used, as every import here: Linux never needs them (see runner and nettop.parsers).
    import asyncio

    from nettop.parsers import lsof, netstat_bsd

    tcp, udp = await asyncio.gather(runner(MACOS_NETSTAT_TCP, timeout), runner(MACOS_NETSTAT_UDP, timeout))
    result = joined([netstat_bsd.parse(tcp), netstat_bsd.parse(udp)])
    if netstat_bsd.has_pids(tcp):
        return result, ()
    # This release's netstat shows no pids: ask lsof, matching sockets by their two ends.
    try:
        owners = lsof.owners_by_endpoint(lsof.parse(await runner(LSOF, timeout)))
    except NettopError as error:
        return result, (f"owners unknown: netstat shows no pids and lsof failed ({error})",)
    return ParseResult(lsof.attach_owners(result.records, owners), result.issues, result.format), ()


async def macos_lsof(runner: Runner, timeout: float) -> Steps:
    from nettop.parsers import lsof

    return lsof.parse(await runner(LSOF, timeout)), ()


async def windows_netstat(runner: Runner, timeout: float) -> Steps:
    import asyncio

    from nettop.parsers import windows

    listing, names = await asyncio.gather(runner(WINDOWS_NETSTAT, timeout), _tasklist(runner, timeout))
    mapping, notes = names
    return windows.parse(listing, names=mapping), notes


async def _tasklist(runner: Runner, timeout: float) -> tuple[dict[int, str], tuple[str, ...]]:
    from nettop.parsers import windows

    try:
        return windows.parse_tasklist(await runner(TASKLIST, timeout)), ()
    except CommandError as error:
        return {}, (f"program names unknown: {error}",)


async def freebsd_sockstat(runner: Runner, timeout: float) -> Steps:
    from nettop.parsers import sockstat

    try:
        text = await runner(SOCKSTAT, timeout)
    except CommandError:
        # sockstat before FreeBSD 12 has no -s: owners, but no TCP states.
        return sockstat.parse(await runner(SOCKSTAT_OLD, timeout)), ("this sockstat shows no TCP states (no -s)",)
    return sockstat.parse(text), ()


async def freebsd_netstat(runner: Runner, timeout: float) -> Steps:
    from nettop.parsers import netstat_bsd

    return netstat_bsd.parse(await runner(FREEBSD_NETSTAT, timeout)), ("FreeBSD netstat shows no owners",)
