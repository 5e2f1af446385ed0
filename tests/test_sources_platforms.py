"""Each platform's command set (commands, flags, fallback order, pid-to-name mapping) through a scripted runner.

The outputs are recorded or cited ones from tests/data/handmade (see its READMEs) or short excerpts of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from nettop.errors import CommandFailed, CommandNotFound, NettopError, SourceUnavailable
from nettop.formats import registry
from nettop.model import OwnerStatus, Proto, State
from nettop.sources import platform_commands, platform_source
from nettop.sources.freebsd import FREEBSD_NETSTAT, SOCKSTAT, SOCKSTAT_OLD
from nettop.sources.linux import COMMANDS as LINUX_COMMANDS
from nettop.sources.macos import LSOF, MACOS_NETSTAT_TCP, MACOS_NETSTAT_UDP
from nettop.sources.windows import TASKLIST, WINDOWS_NETSTAT

#: Every platform's commands by ``--source`` name, as ``platform_source`` finds them.
PLATFORM_COMMANDS = {platform: platform_commands(platform) for platform in registry.platforms()}

HANDMADE = Path(__file__).parent / "data" / "handmade"

MACOS_NO_PIDS = """\
Active Internet connections (including servers)
Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)
tcp4       0      0  *.22                   *.*                    LISTEN
tcp4       0      0  127.0.0.1.5432         127.0.0.1.50000        ESTABLISHED
"""
MACOS_UDP_NO_PIDS = """\
Active Internet connections (including servers)
Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)
udp4       0      0  *.5353                 *.*
"""
LSOF_OUT = """\
COMMAND     PID   USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME
sshd        101   root    3u  IPv4 0x8b17115bf97d4e6d      0t0  TCP *:22 (LISTEN)
postgres    202   pg      9u  IPv4 0x8b17115bf97d4e70      0t0  TCP 127.0.0.1:5432->127.0.0.1:50000 (ESTABLISHED)
mDNSRespo   303   _mdns   7u  IPv4 0x8b17115bfaae582d      0t0  UDP *:5353
"""
WINDOWS_ANO = """\r
Active Connections\r
\r
  Proto  Local Address          Foreign Address        State           PID\r
  TCP    0.0.0.0:22             0.0.0.0:0              LISTENING       2016\r
  TCP    0.0.0.0:445            0.0.0.0:0              LISTENING       4\r
  UDP    0.0.0.0:5353           *:*                                    5120\r
"""
FREEBSD_NETSTAT_AN = """\
Active Internet connections (including servers)
Proto Recv-Q Send-Q Local Address          Foreign Address        (state)
tcp4       0      0 *.22                   *.*                    LISTEN
"""


class ScriptedRunner:
    """Answers each argv from a script (text, or an error to raise) and records what was run."""

    def __init__(self, answers: dict[tuple[str, ...], str | Exception]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    async def __call__(self, argv: Sequence[str], timeout: float = 10.0) -> str:
        self.calls.append(tuple(argv))
        answer = self.answers.get(tuple(argv), CommandNotFound(argv))
        if isinstance(answer, Exception):
            raise answer
        return answer


def by_port(records):  # type: ignore[no-untyped-def]
    return {(r.proto, r.local_port): r for r in records}


async def test_macos_reads_pids_from_netstat_v_without_lsof() -> None:
    runner = ScriptedRunner(
        {
            MACOS_NETSTAT_TCP: (HANDMADE / "macos-15_netstat-natvln.out").read_text(),
            MACOS_NETSTAT_UDP: (HANDMADE / "macos-10.12_netstat-anv-p-udp.out").read_text(),
        }
    )
    snap = await platform_source(runner=runner, platform="darwin").collect()
    assert sorted(runner.calls) == sorted([MACOS_NETSTAT_TCP, MACOS_NETSTAT_UDP]), "no lsof when netstat has pids"
    listener = by_port(snap.records)[(Proto.TCP, 8809)]
    assert (listener.family, listener.local_ip, listener.v6only, listener.pid) == (6, "::", False, 81327)
    assert listener.owners[0].user is None, "pids of another machine are not looked up with psutil"
    assert {r.pid for r in snap.records if r.proto is Proto.UDP} >= {505}
    assert snap.source == "netstat" and snap.notes == ()


async def test_macos_without_pid_column_asks_lsof_for_owners() -> None:
    runner = ScriptedRunner({MACOS_NETSTAT_TCP: MACOS_NO_PIDS, MACOS_NETSTAT_UDP: MACOS_UDP_NO_PIDS, LSOF: LSOF_OUT})
    snap = await platform_source(runner=runner, platform="darwin").collect()
    assert LSOF in runner.calls
    records = by_port(snap.records)
    assert [(o.pid, o.name) for o in records[(Proto.TCP, 22)].owners] == [(101, "sshd")]
    assert records[(Proto.TCP, 5432)].pid == 202 and records[(Proto.UDP, 5353)].pid == 303
    assert records[(Proto.TCP, 22)].owner_status is OwnerStatus.KNOWN


async def test_macos_with_lsof_failing_keeps_the_sockets_and_says_why() -> None:
    failure = CommandFailed(LSOF, 1, "lsof: WARNING: can't stat()")
    runner = ScriptedRunner({MACOS_NETSTAT_TCP: MACOS_NO_PIDS, MACOS_NETSTAT_UDP: MACOS_UDP_NO_PIDS, LSOF: failure})
    snap = await platform_source(runner=runner, platform="darwin").collect()
    assert len(snap.records) == 3 and all(r.owner_status is OwnerStatus.NOT_REPORTED for r in snap.records)
    assert snap.notes[0].startswith("owners unknown: netstat shows no pids and lsof failed")


async def test_macos_falls_back_to_lsof_alone_and_stays_there() -> None:
    runner = ScriptedRunner({LSOF: LSOF_OUT})
    source = platform_source(runner=runner, platform="darwin")
    snap = await source.collect()
    assert snap.source == "lsof" and snap.notes[0].startswith("fell back to lsof: command not found: netstat")
    assert by_port(snap.records)[(Proto.TCP, 22)].pid == 101
    runner.calls.clear()
    await source.collect()
    assert runner.calls == [LSOF], "a missing netstat is not retried every tick"


async def test_windows_names_owners_from_tasklist() -> None:
    runner = ScriptedRunner({WINDOWS_NETSTAT: WINDOWS_ANO, TASKLIST: (HANDMADE / "windows-tasklist.csv").read_text()})
    snap = await platform_source(runner=runner, platform="win32").collect()
    assert sorted(runner.calls) == sorted([WINDOWS_NETSTAT, TASKLIST])
    records = by_port(snap.records)
    assert (records[(Proto.TCP, 22)].pid, records[(Proto.TCP, 22)].program) == (2016, "sshd.exe")
    assert records[(Proto.TCP, 22)].state is State.LISTEN
    assert records[(Proto.UDP, 5353)].program == "My App, Beta.exe"
    assert records[(Proto.TCP, 445)].program == "System"


async def test_windows_without_tasklist_keeps_pids_and_says_so() -> None:
    runner = ScriptedRunner({WINDOWS_NETSTAT: WINDOWS_ANO})
    snap = await platform_source(runner=runner, platform="win32").collect()
    records = by_port(snap.records)
    assert (records[(Proto.TCP, 22)].pid, records[(Proto.TCP, 22)].program) == (2016, None)
    assert records[(Proto.TCP, 445)].program == "System", "pid 4 is the system's, with or without tasklist"
    assert snap.notes == ("program names unknown: command not found: tasklist",)


async def test_freebsd_sockstat_with_states() -> None:
    runner = ScriptedRunner({SOCKSTAT: (HANDMADE / "freebsd-14_sockstat-46s.out").read_text()})
    snap = await platform_source(runner=runner, platform="freebsd14").collect()
    assert runner.calls == [SOCKSTAT] and snap.source == "sockstat"
    ssh = next(r for r in snap.records if r.local_port == 22 and r.remote_port == 62176)
    assert ssh.state is State.ESTABLISHED and [o.pid for o in ssh.owners] == [33340, 33338]


async def test_freebsd_old_sockstat_without_s_then_netstat_without_owners() -> None:
    usage = CommandFailed(SOCKSTAT, 1, "sockstat: illegal option -- s")
    old = ScriptedRunner({SOCKSTAT: usage, SOCKSTAT_OLD: (HANDMADE / "freebsd-13_sockstat-46.out").read_text()})
    snap = await platform_source(runner=old, platform="freebsd13").collect()
    assert old.calls == [SOCKSTAT, SOCKSTAT_OLD]
    assert snap.notes == ("this sockstat shows no TCP states (no -s)",) and snap.records[0].pid == 38848
    bare = ScriptedRunner({FREEBSD_NETSTAT: FREEBSD_NETSTAT_AN})
    snap = await platform_source(runner=bare, platform="freebsd13").collect()
    assert bare.calls == [SOCKSTAT, SOCKSTAT_OLD, FREEBSD_NETSTAT]
    ((record),) = snap.records
    assert (record.local_port, record.state, record.owner_status) == (22, State.LISTEN, OwnerStatus.NOT_REPORTED)
    assert snap.notes[-1] == "FreeBSD netstat shows no owners"


async def test_nothing_works_says_what_each_command_said() -> None:
    with pytest.raises(SourceUnavailable, match=r"command not found: netstat.*command not found: lsof"):
        await platform_source(runner=ScriptedRunner({}), platform="darwin").collect()


def test_choices_and_platforms() -> None:
    assert set(LINUX_COMMANDS) == {"netlink", "ss", "netstat"}
    assert {os: list(commands) for os, commands in PLATFORM_COMMANDS.items()} == {
        "linux": ["netlink", "ss", "netstat"],
        "darwin": ["netstat", "lsof"],
        "win32": ["netstat"],
        "freebsd": ["sockstat", "netstat"],
    }
    with pytest.raises(NettopError, match="unknown source 'lsof' on linux: choose auto, netlink, ss, netstat"):
        platform_source("lsof", platform="linux")
    with pytest.raises(NettopError, match="'sunos5' is not supported"):
        platform_source("auto", platform="sunos5")


def test_the_cli_knows_every_source_name() -> None:
    """`--source` choices come from the format registry, which the CLI reads without importing the sources."""
    names = registry.source_names()
    assert tuple(sorted({name for commands in PLATFORM_COMMANDS.values() for name in commands})) == names


def test_each_platforms_source_names_are_its_commands_in_order() -> None:
    names = {prefix: tuple(registry.commands(prefix)) for prefix in registry.platforms()}
    assert {prefix: tuple(commands) for prefix, commands in PLATFORM_COMMANDS.items()} == names


def test_each_command_runs_what_the_registry_says() -> None:
    for platform, commands in PLATFORM_COMMANDS.items():
        for name, listing in commands.items():
            assert listing.argv == registry.command(platform, name).argv
