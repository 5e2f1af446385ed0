"""Faults of the listing commands, end to end: fake ``ss`` and ``netstat`` first on PATH, nettop run as a user runs it.

Each fake is a shell script in a temporary directory, which is all of PATH for the nettop under test. Every run
carries a unique marker in its environment, which everything it starts inherits (the listing command, what that
forks, the forked /proc scan): after each run no process holding the marker may be left. Timeouts are a second
or less, and nothing waits a fixed time: a wait polls until what it waits for happens, with a deadline.
"""

from __future__ import annotations

import json
import os
import select
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from nettop import shutdown
from nettop.sources import RETRY_FIRST, CommandSource
from nettop.sources.linux import COMMANDS as LINUX_COMMANDS
from nettop.sources.linux import LINUX_SS
from tests.scripted import NETSTAT_TEXT, SS_TEXT

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not os.path.exists("/bin/sh"),
    reason="fake commands are Linux shell scripts",
)

MARKER_VARIABLE = "NETTOP_FAULT_MARKER"
#: A netlink protocol number no kernel knows: socket() fails with EPROTONOSUPPORT, as without sock_diag.
NO_SOCK_DIAG = 31
#: How long a run may take before the test gives up on it: far above what any should take.
RUN_DEADLINE = 30.0
#: How long processes may take to vanish once nettop is done.
GONE_DEADLINE = 5.0

POLICY = '[[listen]]\nport = 8080\nproto = "tcp"\n'

#: A command that never ends.
HANG = "exec sleep 1000"
#: One that leaves a child holding its standard output and error, then never ends either: a pipe's reader would
#: wait for that child, not for the command.
HANG_WITH_CHILD = "sleep 1000 &\nsleep 1001 >&2 &\nexec sleep 1002"
#: Text that is no socket listing.
GARBAGE = "echo 'hello, this is not ss'\necho 'neither is this'"
#: A failure whose error output holds markup and escape sequences (one retitles the terminal).
HOSTILE_STDERR = r"printf 'ss: [/] [red]x \033]0;pwn\007 \033[2J broken\n' >&2" + "\nexit 3"
#: Output without end.
ENDLESS = "exec yes 'tcp   LISTEN 0 5 127.0.0.1:8080 0.0.0.0:* ino:0 sk:1 <->'"


@dataclass
class FakeBin:
    """A directory of fake commands, and the marker of the runs that use it."""

    path: Path
    marker: str

    def add(self, name: str, body: str) -> Path:
        script = self.path / name
        script.write_text(f"#!/bin/sh\nPATH=/usr/bin:/bin\n{body}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return script

    def add_output(self, name: str, text: str) -> Path:
        """A command that prints ``text`` and succeeds."""
        data = self.path / f"{name}.out"
        data.write_text(text)
        return self.add(name, f"cat '{data}'")

    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": str(self.path), MARKER_VARIABLE: self.marker}

    def argv(self, *args: str, max_output: int | None = None) -> list[str]:
        # `python -m nettop` on a kernel without sock_diag (a protocol netlink does not know, as on a kernel built
        # without it): auto then begins with the fake ss, whose faults these tests are about. And, when given, a
        # lower output limit, so that a test need not write 256 MiB.
        limit = f"nettop.runner.MAX_OUTPUT = {max_output}; " if max_output is not None else ""
        launch = (
            f"import sys, nettop.runner, nettop.sources.sockdiag; {limit}"
            f"nettop.sources.sockdiag.NETLINK_SOCK_DIAG = {NO_SOCK_DIAG}; from nettop.cli import main; sys.exit(main())"
        )
        return [sys.executable, "-c", launch, *args]

    def run(self, *args: str, max_output: int | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.argv(*args, max_output=max_output),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=RUN_DEADLINE,
            stdin=subprocess.DEVNULL,
        )
        self.assert_nothing_left()
        return done

    def start(self, *args: str, max_output: int | None = None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv(*args, max_output=max_output),
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def processes(self) -> list[psutil.Process]:
        """Every live process that holds the marker, in its environment or its command line."""
        found = []
        for process in psutil.process_iter(["cmdline", "environ", "status"], ad_value=None):
            info = process.info
            if process.pid == os.getpid() or info["status"] == psutil.STATUS_ZOMBIE:
                continue  # dead: only its parent's wait is missing (a live parent's, checked by the tests of it)
            environ = info["environ"] or {}
            if environ.get(MARKER_VARIABLE) == self.marker or self.marker in " ".join(info["cmdline"] or ()):
                found.append(process)
        return found

    def assert_nothing_left(self) -> None:
        left = wait_for(lambda: not self.processes(), GONE_DEADLINE)
        assert left, f"left behind: {[(p.pid, p.info['cmdline']) for p in self.processes()]}"


def wait_for(condition: Callable[[], bool], deadline: float) -> bool:
    """Poll ``condition`` until it holds or ``deadline`` seconds have passed; whether it held."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def fakebin(tmp_path: Path) -> Iterator[FakeBin]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = FakeBin(bin_dir, f"nettop-fault-{uuid.uuid4().hex}")
    yield fake
    for process in fake.processes():  # what a failed test left: not to outlive the test run
        process.kill()


def read_events(process: subprocess.Popen[bytes], count: int, deadline: float = RUN_DEADLINE) -> list[dict]:
    """The first ``count`` NDJSON events of a running ``nettop watch``."""
    assert process.stdout is not None
    buffered, events = b"", []
    end = time.monotonic() + deadline
    while len(events) < count:
        remaining = end - time.monotonic()
        assert remaining > 0, f"only {len(events)} events within {deadline} s: {events}"
        if not select.select([process.stdout], [], [], remaining)[0]:
            continue
        chunk = os.read(process.stdout.fileno(), 65536)
        assert chunk, f"watch ended after {events}: {process.wait()} {process.stderr.read() if process.stderr else ''}"
        buffered += chunk
        *lines, buffered = buffered.split(b"\n")
        events += [json.loads(line) for line in lines if line]
    return events


def stop(process: subprocess.Popen[bytes], signum: int = signal.SIGINT) -> tuple[int, str]:
    """Send ``signum``; the exit status and what was left on stderr."""
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=RUN_DEADLINE)
    return process.returncode, stderr.decode()


def assert_no_control_characters(*texts: str) -> None:
    for text in texts:
        assert not any(ord(c) < 0x20 and c != "\n" for c in text), f"control characters in {text!r}"


# -- Each fault, through list, check and watch ------------------------------------------------------------------

#: fake ss, the message expected (netstat is missing), and the max_output to run with.
FAULTS = {
    "hang": (HANG, "`ss -tunae` did not finish within 0.5 s and was killed", None),
    "hang-with-child": (HANG_WITH_CHILD, "`ss -tunae` did not finish within 0.5 s and was killed", None),
    "garbage": (GARBAGE, "not ss output", None),
    "hostile-stderr": (HOSTILE_STDERR, r"exited with status 3: ss: [/] [red]x \x1b]0;pwn\x07 \x1b[2J broken", None),
    "endless-output": (ENDLESS, "`ss -tunae` wrote more than 1 MiB of output and was killed", 2**20),
}
NETSTAT_MISSING = "command not found: netstat (install net-tools"


@pytest.mark.parametrize("fault", FAULTS)
def test_list_fails_with_status_1_and_says_why(fakebin: FakeBin, fault: str) -> None:
    script, message, max_output = FAULTS[fault]
    fakebin.add("ss", script)
    done = fakebin.run("list", "--timeout", "0.5", max_output=max_output)
    assert done.returncode == 1, done.stderr
    assert message in done.stderr
    if fault != "garbage":  # a listing that is not one is not a failed command: nothing to fall back from
        assert NETSTAT_MISSING in done.stderr
    assert done.stdout == ""
    assert_no_control_characters(done.stdout, done.stderr)


@pytest.mark.parametrize("fault", FAULTS)
def test_check_reports_a_broken_listing_with_status_2(fakebin: FakeBin, tmp_path: Path, fault: str) -> None:
    script, message, max_output = FAULTS[fault]
    fakebin.add("ss", script)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    done = fakebin.run("check", str(policy), "--timeout", "0.5", max_output=max_output)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stdout + done.stderr
    assert_no_control_characters(done.stdout, done.stderr)


@pytest.mark.parametrize("fault", FAULTS)
def test_watch_reports_each_failure_and_goes_on(fakebin: FakeBin, fault: str) -> None:
    script, message, max_output = FAULTS[fault]
    fakebin.add("ss", script)
    watch = fakebin.start("watch", "--format", "ndjson", "--interval", "0.1", "--timeout", "0.5", max_output=max_output)
    try:
        events = read_events(watch, 2)
    finally:
        status, stderr = stop(watch)
    assert [e["event"] for e in events] == ["error", "error"], "an error event, and the watch goes on"
    assert all(message in e["error"] for e in events)
    assert status == 0, stderr  # Ctrl-C is how a watch ends
    assert_no_control_characters(*(e["error"] for e in events), stderr)
    fakebin.assert_nothing_left()


# -- Fallbacks ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("words", "status"), [(("list", "--port", "abc"), 2), (("list", "--help"), 0)])
def test_a_listing_started_before_the_parser_is_reaped_when_it_refuses(
    fakebin: FakeBin, words: tuple[str, ...], status: int
) -> None:
    """``list`` starts ``ss`` before its arguments are parsed: a usage error or --help must not leave it."""
    fakebin.add("ss", HANG_WITH_CHILD)
    done = fakebin.run(*words)  # asserts that no process of the run is left
    assert done.returncode == status, done.stderr
    assert ("port: 'abc'" in done.stderr) if status else ("usage: nettop list" in done.stdout)


def test_missing_ss_falls_back_to_netstat_and_says_so(fakebin: FakeBin) -> None:
    fakebin.add_output("netstat", NETSTAT_TEXT)
    done = fakebin.run("list", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert [r["local_port"] for r in json.loads(done.stdout)] == [8081]
    assert "nettop: fell back to netstat: command not found: ss (install iproute2" in done.stderr


def test_a_hung_ss_is_killed_at_the_timeout_and_netstat_stands_in(fakebin: FakeBin) -> None:
    fakebin.add("ss", HANG_WITH_CHILD)
    fakebin.add_output("netstat", NETSTAT_TEXT)
    started = time.monotonic()
    done = fakebin.run("list", "--format", "json", "--timeout", "1")
    assert time.monotonic() - started < RUN_DEADLINE / 2, "the timeout cut the hang short"
    assert done.returncode == 0, done.stderr
    assert [r["local_port"] for r in json.loads(done.stdout)] == [8081]
    assert "fell back to netstat: `ss -tunae` did not finish within 1 s and was killed" in done.stderr


def test_without_sock_diag_auto_falls_back_to_ss_and_says_why(fakebin: FakeBin) -> None:
    fakebin.add_output("ss", SS_TEXT)
    done = fakebin.run("list", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert {row["source"] for row in json.loads(done.stdout)} == {"ss"}
    assert (
        "nettop: fell back to ss: the kernel's socket table could not be read over netlink: Protocol not supported "
        "(EPROTONOSUPPORT)" in done.stderr
    )


def test_without_ss_and_netstat_it_says_what_to_install(fakebin: FakeBin) -> None:
    done = fakebin.run("list")
    assert done.returncode == 1
    assert "command not found: ss (install iproute2" in done.stderr
    assert NETSTAT_MISSING in done.stderr


async def test_auto_returns_to_ss_once_it_works_again(fakebin: FakeBin, monkeypatch: pytest.MonkeyPatch) -> None:
    """ss fails on its first run only (it counts its runs in a file); netstat stands in until ss is tried again."""
    calls = fakebin.path / "ss-calls"
    ss_out = fakebin.path / "ss-ok.out"
    ss_out.write_text(SS_TEXT)
    fakebin.add(
        "ss",
        f"echo run >> '{calls}'\n"
        f'if [ "$(wc -l < \'{calls}\')" -le 1 ]; then echo "ss: netlink says no" >&2; exit 1; fi\n'
        f"cat '{ss_out}'",
    )
    fakebin.add_output("netstat", NETSTAT_TEXT)
    monkeypatch.setenv("PATH", str(fakebin.path))
    monkeypatch.setenv(MARKER_VARIABLE, fakebin.marker)
    now = [1000.0]
    source = CommandSource([LINUX_COMMANDS["ss"], LINUX_COMMANDS["netstat"]], timeout=1.0, clock=lambda: now[0])

    def ss_runs() -> int:
        return len(calls.read_text().splitlines())

    first = await source.collect()
    assert (first.source, ss_runs()) == ("netstat", 1)
    assert first.notes[0] == f"fell back to netstat: `{' '.join(LINUX_SS)}` exited with status 1: ss: netlink says no"
    second = await source.collect()
    assert (second.source, ss_runs()) == ("netstat", 1), "ss is not tried again at once"
    assert second.notes[0].startswith("fell back to netstat: "), "every snapshot says a fallback is in use"
    now[0] += RETRY_FIRST
    third = await source.collect()
    assert (third.source, ss_runs()) == ("ss", 2)
    assert [r.local_port for r in third.records] == [8080]
    assert not any(note.startswith("fell back") for note in third.notes)
    fakebin.assert_nothing_left()


# -- Signals ------------------------------------------------------------------------------------------------------


def started_hanging(fakebin: FakeBin, process: subprocess.Popen[bytes]) -> None:
    """Wait until the fake ss and what it forks run (so that a signal finds them under way)."""
    wait_for(lambda: sum("sleep" in " ".join(p.info["cmdline"] or ()) for p in fakebin.processes()) >= 3, RUN_DEADLINE)
    assert process.poll() is None


@pytest.mark.parametrize(
    ("args", "signum"),
    [
        (("list",), signal.SIGTERM),
        (("list",), signal.SIGHUP),
        (("policy", "init"), signal.SIGTERM),
        (("check", "POLICY"), signal.SIGTERM),
        (("check", "POLICY", "--wait", "20"), signal.SIGHUP),
        (("watch",), signal.SIGTERM),
    ],
    ids=["list-TERM", "list-HUP", "policy-init-TERM", "check-TERM", "check-wait-HUP", "watch-TERM"],
)
def test_a_termination_signal_leaves_no_process(
    fakebin: FakeBin, tmp_path: Path, args: tuple[str, ...], signum: int
) -> None:
    fakebin.add("ss", HANG_WITH_CHILD)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    nettop = fakebin.start(*(str(policy) if a == "POLICY" else a for a in args), "--timeout", "20")
    started_hanging(fakebin, nettop)
    status, stderr = stop(nettop, signum)
    assert status == 128 + signum, stderr
    assert "Traceback" not in stderr
    fakebin.assert_nothing_left()


# -- How signals are turned into exceptions (in this process) ----------------------------------------------------


@pytest.fixture
def signals_raise() -> Iterator[None]:
    restore = shutdown.raise_on_signals()
    try:
        yield
    finally:
        restore()


def wait_for_signal(deadline: float = RUN_DEADLINE) -> None:
    """Sleep in small steps until a signal's exception interrupts the wait."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        time.sleep(0.01)
    pytest.fail("no signal was raised")


def test_a_signal_in_a_deferred_block_is_raised_when_it_ends(signals_raise: None) -> None:
    finished = False
    with pytest.raises(shutdown.Terminated) as caught, shutdown.deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs meanwhile, and holds the signal back
        finished = True
    assert finished and caught.value.code == 143


def test_a_signal_during_an_import_is_raised_once_it_is_over(
    signals_raise: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An extension module's initialisation may crash on an exception it did not expect (orjson's does)."""
    name = f"slow_import_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        "import os, signal, time\nos.kill(os.getpid(), signal.SIGTERM)\ntime.sleep(0.05)\nWHOLE = True\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(shutdown.Terminated):
        __import__(name)
        wait_for_signal()
    assert sys.modules[name].WHOLE
    monkeypatch.delitem(sys.modules, name)


def test_an_ignored_signal_stays_ignored() -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # nohup
    try:
        restore = shutdown.raise_on_signals()
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        restore()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_signal_while_the_loop_runs_other_tasks_cancels_the_main_one(signals_raise: None) -> None:
    """In `watch` and `check` the loop is often inside another task (a collection) when SIGTERM comes: raised
    there, it ended the loop with that task's exception never retrieved, a traceback at exit. run_async
    cancels the main task instead, lets it unwind (its finally runs), then raises Terminated."""
    import asyncio
    import gc
    import logging

    unwound: list[str] = []
    never_retrieved: list[logging.LogRecord] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            never_retrieved.append(record)

    async def collection() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(30)
        finally:
            unwound.append("collection")

    async def main() -> None:
        try:
            await asyncio.gather(collection(), asyncio.sleep(30))
        finally:
            unwound.append("main")

    catch = Catch()
    logging.getLogger("asyncio").addHandler(catch)
    try:
        with pytest.raises(shutdown.Terminated) as caught:
            shutdown.run_async(main())
        gc.collect()  # a task whose exception nobody retrieved is reported when it is collected
    finally:
        logging.getLogger("asyncio").removeHandler(catch)
    assert caught.value.code == 143
    assert unwound == ["collection", "main"]
    assert never_retrieved == []
    assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)  # the outer handler is back
