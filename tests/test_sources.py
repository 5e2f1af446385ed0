"""Command sources through a scripted runner: fallback order, sticking to what works, clear failure."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from nettop.errors import CommandFailed, CommandNotFound, CommandTimeout, NettopError, SourceUnavailable
from nettop.procfs import SocketOwners
from nettop.sources import CommandSource, TextSource, _owner_notes, platform_source

SS_TEXT = """\
Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
tcp   LISTEN 0      5          127.0.0.1:8080      0.0.0.0:*     ino:0 sk:1 <->
"""
NETSTAT_TEXT = """\
Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       User       Inode
tcp        0      0 127.0.0.1:8081          0.0.0.0:*               LISTEN      0          0
"""


class ScriptedRunner:
    """Answers each command from a script: text, or an error to raise; records what was run."""

    def __init__(self, answers: dict[str, str | Exception]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    async def __call__(self, argv: Sequence[str], timeout: float = 10.0) -> str:
        self.calls.append(tuple(argv))
        answer = self.answers[argv[0]]
        if isinstance(answer, Exception):
            raise answer
        return answer


def linux_source(runner: ScriptedRunner) -> CommandSource:
    return platform_source("auto", runner=runner, platform="linux")


async def test_ss_first_with_inodes_not_p() -> None:
    runner = ScriptedRunner({"ss": SS_TEXT})
    snap = await linux_source(runner).collect()
    assert runner.calls == [("ss", "-tunae")]
    assert (snap.source, [r.local_port for r in snap.records], snap.notes[:1]) == ("ss", [8080], snap.notes[:1])


@pytest.mark.parametrize(
    "failure",
    [
        CommandNotFound(["ss"], "install iproute2"),
        CommandFailed(["ss"], 1, "Cannot open netlink socket"),
        CommandTimeout(["ss"], 10.0),
    ],
)
async def test_falls_back_to_netstat_and_stays_there(failure: NettopError) -> None:
    runner = ScriptedRunner({"ss": failure, "netstat": NETSTAT_TEXT})
    source = linux_source(runner)
    first = await source.collect()
    assert runner.calls == [("ss", "-tunae"), ("netstat", "-tunaeW")]
    assert first.source == "netstat" and [r.local_port for r in first.records] == [8081]
    assert first.notes[0] == f"fell back to netstat: {failure}"
    await source.collect()
    assert runner.calls[2:] == [("netstat", "-tunaeW")], "a failed ss is not retried every tick"


async def test_every_command_failing_names_each_reason() -> None:
    runner = ScriptedRunner(
        {
            "ss": CommandNotFound(["ss"], "install iproute2"),
            "netstat": CommandNotFound(["netstat"], "install net-tools"),
        }
    )
    with pytest.raises(SourceUnavailable) as caught:
        await linux_source(runner).collect()
    assert str(caught.value) == (
        "no socket listing could be read: command not found: ss (install iproute2); "
        "command not found: netstat (install net-tools)"
    )


async def test_text_source_detects_and_does_not_enrich() -> None:
    snap = await TextSource(SS_TEXT.replace("ino:0 sk:1 <->", 'users:(("nginx",pid=1,fd=3))'), "capture").collect()
    (record,) = snap.records
    assert snap.source == "capture (ss)"
    assert (record.pid, record.program, record.user) == (1, "nginx", None)


def test_owner_notes_say_why_owners_are_missing() -> None:
    assert _owner_notes(SocketOwners(), 0) == ()
    assert _owner_notes(SocketOwners(denied=1, hidden_uids={0}), 0) == (
        "1 process hides its fds even from root: a socket it holds is shown without owners",
    )
    assert _owner_notes(SocketOwners(denied=2, hidden_uids={0}), 0)[0].startswith("2 processes hide their fds")
    assert _owner_notes(SocketOwners(denied=3, hidden_uids={0, 1}), 1000) == (
        "not root: sockets of other users' processes are shown without owners",
    )
    assert _owner_notes(SocketOwners(), 1000) == ()
