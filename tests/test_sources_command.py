"""Command sources through a scripted runner: fallback order, sticking to what works, trying a failed command
again later, clear failure."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from nettop.errors import CommandFailed, CommandNotFound, CommandTimeout, NettopError, SourceUnavailable
from nettop.owners.procfs import SocketOwners
from nettop.sources import RETRY_FIRST, RETRY_MAX, RETRY_MISSING, CommandSource, TextSource, platform_source
from nettop.sources.linux import COMMANDS as LINUX_COMMANDS
from nettop.sources.linux import _owner_notes
from tests.scripted import NETSTAT_TEXT, SS_TEXT


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


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def linux_auto(runner: ScriptedRunner, clock: Clock) -> CommandSource:
    """Linux's commands in auto's order, scripted (netlink reads the kernel, not a runner: it is left out)."""
    return CommandSource([c for c in LINUX_COMMANDS.values() if c.runs_command], runner, clock=clock)


async def test_a_failed_ss_is_tried_again_later_and_used_once_it_works() -> None:
    runner = ScriptedRunner({"ss": CommandFailed(["ss"], 1, "Cannot open netlink socket"), "netstat": NETSTAT_TEXT})
    clock = Clock()
    source = linux_auto(runner, clock)
    await source.collect()
    clock.now += RETRY_FIRST - 1
    waiting = await source.collect()
    assert runner.calls[2:] == [("netstat", "-tunaeW")], "not yet"
    assert waiting.notes[0] == "fell back to netstat: `ss` exited with status 1: Cannot open netlink socket"
    clock.now += 1
    runner.calls.clear()
    await source.collect()
    assert runner.calls == [("ss", "-tunae"), ("netstat", "-tunaeW")], "tried again, failing again"
    clock.now += RETRY_FIRST * 2 - 1
    runner.calls.clear()
    await source.collect()
    assert runner.calls == [("netstat", "-tunaeW")], "each failure doubles the wait"
    runner.answers["ss"] = SS_TEXT
    clock.now += 1
    back = await source.collect()
    assert (back.source, source.name) == ("ss", "ss")
    assert not [note for note in back.notes if note.startswith("fell back")]
    runner.answers["ss"] = CommandTimeout(["ss"], 10.0)
    runner.calls.clear()
    await source.collect()
    clock.now += RETRY_FIRST
    await source.collect()
    assert runner.calls == [("ss", "-tunae"), ("netstat", "-tunaeW"), ("ss", "-tunae"), ("netstat", "-tunaeW")], (
        "a success resets the wait"
    )


async def test_the_wait_grows_to_a_limit() -> None:
    runner = ScriptedRunner({"ss": CommandFailed(["ss"], 1, "no"), "netstat": NETSTAT_TEXT})
    clock = Clock()
    source = linux_auto(runner, clock)
    for _ in range(12):
        await source.collect()
        clock.now += RETRY_MAX
    runner.calls.clear()
    await source.collect()
    assert runner.calls[0] == ("ss", "-tunae")


async def test_a_missing_command_is_tried_again_rarely() -> None:
    runner = ScriptedRunner({"ss": CommandNotFound(["ss"], "install iproute2"), "netstat": NETSTAT_TEXT})
    clock = Clock()
    source = linux_auto(runner, clock)
    await source.collect()
    clock.now += RETRY_MISSING - 1
    runner.calls.clear()
    await source.collect()
    assert runner.calls == [("netstat", "-tunaeW")]
    clock.now += 1
    runner.calls.clear()
    await source.collect()
    assert runner.calls[0] == ("ss", "-tunae")


async def test_a_waiting_command_is_tried_when_the_others_fail() -> None:
    runner = ScriptedRunner({"ss": CommandFailed(["ss"], 1, "no"), "netstat": NETSTAT_TEXT})
    clock = Clock()
    source = linux_auto(runner, clock)
    await source.collect()
    runner.answers.update(ss=SS_TEXT, netstat=CommandFailed(["netstat"], 1, "no"))
    runner.calls.clear()
    snap = await source.collect()
    assert runner.calls == [("netstat", "-tunaeW"), ("ss", "-tunae")]
    assert snap.source == "ss" and not [note for note in snap.notes if note.startswith("fell back")]
