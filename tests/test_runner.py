"""The command runners (asyncio and blocking): output, locale, and each way a command can fail, with no
zombie left behind. Every test runs against both."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

import psutil
import pytest

from nettop.errors import CommandFailed, CommandNotFound, CommandTimeout
from nettop.runner import DEFAULT_TIMEOUT, Runner, run_command, run_command_blocking


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
