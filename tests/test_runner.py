"""The command runners (asyncio and blocking): output, locale, and each way a command can fail (hung, with children
holding its output, writing without end), with no process nor zombie left behind. Most tests run against both."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Sequence

import psutil
import pytest

from nettop import runner
from nettop.errors import CommandFailed, CommandNotFound, CommandOutputTooLarge, CommandTimeout
from nettop.runner import DEFAULT_TIMEOUT, CommandRun, Runner, run_command, run_command_blocking


async def _blocking(argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> str:
    return run_command_blocking(argv, timeout)


@pytest.fixture(params=[run_command, _blocking], ids=["asyncio", "blocking"])
def run(request: pytest.FixtureRequest) -> Runner:
    return request.param


async def test_returns_stdout_with_the_c_locale(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    monkeypatch.setenv("LC_MESSAGES", "fr_FR.UTF-8")
    out = await run([sys.executable, "-c", "import os; print(os.environ.get('LC_ALL'), os.environ.get('LANG'))"])
    assert out == "C None\n"


async def test_undecodable_bytes_are_replaced_not_fatal(run: Runner) -> None:
    out = await run([sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'AB\\x99HREN\\n')"])
    assert out == "AB\ufffdHREN\n"


async def test_missing_command_says_what_to_install(run: Runner) -> None:
    with pytest.raises(CommandNotFound) as caught:
        await run(["ss-that-does-not-exist-anywhere"])
    assert "command not found: ss-that-does-not-exist-anywhere" in str(caught.value)


async def test_missing_known_command_names_its_package(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(CommandNotFound) as caught:
        await run(["ss", "-tunae"])
    assert "iproute2" in str(caught.value)


async def test_failing_command_carries_status_and_stderr(run: Runner) -> None:
    with pytest.raises(CommandFailed) as caught:
        await run([sys.executable, "-c", "import sys; sys.stderr.write('Cannot open netlink socket\\n'); sys.exit(3)"])
    assert caught.value.returncode == 3
    assert "exited with status 3: Cannot open netlink socket" in str(caught.value)


async def test_hung_command_is_killed_and_reaped(run: Runner, tmp_path) -> None:
    pid_file = tmp_path / "pid"
    script = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as caught:
        await run([sys.executable, "-c", script], timeout=1.0)
    assert time.monotonic() - started < 30, "the timeout must cut a 60 s command short"
    assert "did not finish within 1 s and was killed" in str(caught.value)
    pid = int(pid_file.read_text())
    # Reaped: the pid no longer exists at all (a zombie would still be listed, with status 'zombie').
    assert not psutil.pid_exists(pid) or psutil.Process(pid).ppid() != os.getpid()
    children = [c for c in psutil.Process().children() if c.status() == psutil.STATUS_ZOMBIE]
    assert children == []


def _group_of(pid_file) -> list[int]:
    """The pids a command wrote to ``pid_file`` (itself and what it started), once all have."""
    return [int(pid) for pid in pid_file.read_text().split()]


def _gone(pids: list[int], deadline: float = 5.0) -> bool:
    """Whether every pid has exited (or is a zombie about to be reaped by init), polling until ``deadline``."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        alive = []
        for pid in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
        if not alive:
            return True
        time.sleep(0.02)
    return False


#: A wrapper that leaves children holding its standard output and error, then hangs: a reader of pipes would
#: wait for those children, past any timeout.
FORKING_HANG = "sleep 1000 & echo $! >> {pids}; sleep 1000 >&2 & echo $! >> {pids}; echo $$ >> {pids}; exec sleep 1000"


@pytest.mark.skipif(not os.path.exists("/bin/sh"), reason="needs a POSIX shell")
async def test_a_hang_with_children_holding_the_output_is_killed_whole(run: Runner, tmp_path) -> None:
    pids = tmp_path / "pids"
    started = time.monotonic()
    with pytest.raises(CommandTimeout):
        await run(["/bin/sh", "-c", FORKING_HANG.format(pids=pids)], timeout=0.5)
    assert time.monotonic() - started < 10, "the children's open pipes do not hold the run"
    group = _group_of(pids)
    assert len(group) == 3
    assert _gone(group), "the command and every child it started are killed"
    assert [c for c in psutil.Process().children() if c.status() == psutil.STATUS_ZOMBIE] == []


@pytest.mark.skipif(not os.path.exists("/bin/sh"), reason="needs a POSIX shell")
async def test_what_a_finished_command_left_running_is_killed(run: Runner, tmp_path) -> None:
    pids = tmp_path / "pids"
    out = await run(["/bin/sh", "-c", f"sleep 1000 & echo $! >> {pids}; echo listed"])
    assert out == "listed\n"
    assert _gone(_group_of(pids))


async def test_a_cancelled_run_is_killed_whole(tmp_path) -> None:
    import asyncio

    pids = tmp_path / "pids"
    task = asyncio.ensure_future(run_command(["/bin/sh", "-c", FORKING_HANG.format(pids=pids)], timeout=60))
    end = time.monotonic() + 10
    while not (pids.exists() and len(pids.read_text().split()) == 3) and time.monotonic() < end:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _gone(_group_of(pids))


async def test_endless_output_is_cut_short(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "MAX_OUTPUT", 2**20)
    endless = "import sys\nwhile True: sys.stdout.write('x' * 65536)"
    with pytest.raises(CommandOutputTooLarge) as caught:
        await run([sys.executable, "-c", endless], timeout=30)
    assert "wrote more than 1 MiB of output and was killed" in str(caught.value)


async def test_output_over_the_limit_is_refused_even_when_the_command_ends(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "MAX_OUTPUT", 1000)
    with pytest.raises(CommandOutputTooLarge):
        await run([sys.executable, "-c", "print('x' * 5000)"])


async def test_error_output_is_quoted_with_controls_escaped(run: Runner) -> None:
    hostile = "import sys; sys.stderr.write('[/] [red]x \\x1b]0;pwn\\x07 \\x1b[2J\\n'); sys.exit(2)"
    with pytest.raises(CommandFailed) as caught:
        await run([sys.executable, "-c", hostile])
    assert str(caught.value).endswith(r"exited with status 2: [/] [red]x \x1b]0;pwn\x07 \x1b[2J")
    assert "\x1b" not in str(caught.value) and "\x07" not in str(caught.value)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc")
def test_a_command_writes_to_files_not_pipes() -> None:
    """No pipe to the command: a pipe's reader waits for every holder of its other end, not for the command."""
    started = CommandRun([sys.executable, "-c", "import time; time.sleep(0.2)"])
    targets = [os.readlink(f"/proc/{started._process.pid}/fd/{fd}") for fd in (1, 2)]
    started.output()
    assert not any(target.startswith("pipe:") for target in targets), targets


def test_a_command_killed_by_a_signal_says_which() -> None:
    with pytest.raises(CommandFailed) as failure:
        run_command_blocking(["sh", "-c", "kill -SEGV $$"])
    assert failure.value.returncode == -11
    assert "`sh -c kill -SEGV $$` was killed by SIGSEGV" in str(failure.value)
