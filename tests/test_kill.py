"""The kill dialog: what it says of the owner, the signal chosen in it reaching a real process, and a reused pid
refused whatever the signal."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest
from textual.widgets import RadioButton, Static

from nettop.model import Owner
from nettop.owners.kill import KillRefused, signal_owner
from nettop.screens.kill import SIGNALS, KillScreen, elide_middle
from nettop.widgets.conn_table import ConnectionTable
from tests.scripted import conn
from tests.test_app import make, settle

#: A child that dies of SIGINT as of any other signal (Python's own handler would exit with status 1).
SLEEPER = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_DFL); time.sleep(60)"


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", SLEEPER])
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def owner_of(process: subprocess.Popen[bytes], start_time: float | None = None) -> Owner:
    started = psutil.Process(process.pid).create_time() if start_time is None else start_time
    return Owner(process.pid, "sleeper", "me", ("python3", "-c", SLEEPER), started)


@pytest.mark.parametrize(
    ("keys", "status"),
    [
        (["k"], -signal.SIGKILL),
        (["down"], -signal.SIGKILL),  # the arrows pick too: what is marked is what Enter sends
        (["up"], -signal.SIGINT),  # from TERM up wraps to the last
        (["h"], -signal.SIGHUP),
        (["k", "i"], -signal.SIGINT),  # the last choice counts
        (["k", "t"], -signal.SIGTERM),
    ],
)
async def test_the_signal_chosen_in_the_dialog_is_the_one_a_real_process_gets(
    child: subprocess.Popen[bytes], keys: list[str], status: int
) -> None:
    app, source, _ = make([[conn(4446)._replace(owners=(owner_of(child),))]])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("k", *keys)
        assert isinstance(app.screen, KillScreen) and child.poll() is None, "choosing a signal sends nothing yet"
        await pilot.press("enter")
        await pilot.pause()
        assert child.wait(timeout=10) == status
        name = signal.Signals(-status).name
        assert [n.message for n in app._notifications] == [f"sent {name} to pid {child.pid} (sleeper)"]


async def test_the_send_button_sends_and_cancel_does_not(child: subprocess.Popen[bytes]) -> None:
    app, source, _ = make([[conn(4447)._replace(owners=(owner_of(child),))]])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("k", "h")
        await pilot.click("#cancel")
        await pilot.pause()
        assert not isinstance(app.screen, KillScreen) and child.poll() is None
        await pilot.press("k", "h")
        await pilot.click("#send")
        await pilot.pause()
        assert child.wait(timeout=10) == -signal.SIGHUP


@pytest.mark.parametrize("choice", SIGNALS, ids=[choice.signal.name for choice in SIGNALS])
def test_a_reused_pid_is_refused_whatever_the_signal(child: subprocess.Popen[bytes], choice) -> None:  # type: ignore[no-untyped-def]
    stale = owner_of(child, psutil.Process(child.pid).create_time() - 100)
    with pytest.raises(KillRefused, match=f"pid {child.pid} now belongs to another process"):
        signal_owner(stale, choice.signal)
    assert child.poll() is None


def test_an_exited_owner_is_said_to_have_exited() -> None:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = owner_of(done)
    done.wait()
    with pytest.raises(KillRefused, match=f"pid {done.pid} \\(sleeper\\) has already exited"):
        signal_owner(owner, signal.SIGKILL)


async def test_the_dialog_names_the_owner_and_the_connections_that_close_with_it() -> None:
    hostile = ("/usr/bin/worker", "[red]evil[/]", "\x1b[2J", *(f"--option-{n}" for n in range(40)), "--port=8000")
    owner = Owner(5996, "worker", "alice", hostile, 1_700_000_000.0)
    worker = Owner(5997, "worker", "alice", ("worker",), 1_700_000_001.0)
    mine = [conn(8000)._replace(owners=(owner, worker))]  # a listener it shares with a forked worker
    mine += [conn(8000, 50000 + n)._replace(owners=(owner,)) for n in range(4)]
    others = [conn(22, name="sshd", pid=10)]
    app, source, _ = make([[*others, *mine]])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app, source, 1)
        table = app.query_one(ConnectionTable)
        table.move_cursor_to(next(k for k, r in app.model.current.items() if r.remote_port == 50002))
        await pilot.press("k")
        assert isinstance(app.screen, KillScreen)
        text = str(app.screen.query_one("#kill-owner", Static).render())
        lines = text.splitlines()
        assert lines[:2] == [
            "Send a signal to pid 5996 (worker)",
            "user alice   started " + lines[1].split("started ")[1],
        ]
        assert "5 connections close with it:" in lines
        shown = lines[lines.index("5 connections close with it:") + 1 :]
        assert shown[0] == "  tcp4 127.0.0.1:8000 → 127.0.0.1:50002 ESTABLISHED", "the selected one first"
        assert shown[3:5] == ["  … and 2 more", "  (sockets it shares with 1 other process stay open)"]
        assert ":22 " not in text, "another process's socket is not listed"
        command = text[text.index("command ") : text.index("\n\n")]
        assert command.startswith("command /usr/bin/worker [red]evil[/] \\x1b[2J --option-0"), "text, never markup"
        assert command.endswith("--option-39 --port=8000") and "…" in command and len(command) == len("command ") + 200
        await pilot.press("escape")
        assert not isinstance(app.screen, KillScreen) and not app._notifications


def test_elide_middle_keeps_both_ends() -> None:
    assert elide_middle("abcdef", 6) == "abcdef"
    assert elide_middle("abcdefghij", 5) == "ab…ij"
    assert elide_middle("abcdefghij", 6) == "ab…hij"


async def test_the_chosen_signal_is_pointed_at_not_only_coloured() -> None:
    app, source, _ = make([[conn(8000, name="worker", pid=5996)]])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("k")
        assert isinstance(app.screen, KillScreen)

        def marked() -> list[str]:
            return [str(button.label).split()[2] for button in app.screen.query(RadioButton)
                    if str(button.label).startswith("▶")]  # fmt: skip

        assert marked() == ["SIGTERM"]
        await pilot.press("k")
        assert marked() == ["SIGKILL"]
        await pilot.press("down")
        assert marked() == ["SIGHUP"]
        await pilot.press("escape")
