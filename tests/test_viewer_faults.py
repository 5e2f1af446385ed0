"""The viewer, in a real terminal (a pty), when its listing command hangs: it says so while it hangs, marks the rows
STALE after the timeout, quits at once when asked, and leaves no process and no traceback behind."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Iterator

import pytest

from tests.test_faults import HANG_WITH_CHILD, FakeBin, fakebin  # noqa: F401 - fakebin is a fixture

DEADLINE = 30.0


class Terminal:
    """nettop's viewer on the follower side of a pty; everything it draws is kept, as bytes."""

    def __init__(self, process: subprocess.Popen[bytes], leader: int) -> None:
        self.process = process
        self.leader = leader
        self.screen = b""

    def read_until(self, text: bytes, deadline: float = DEADLINE) -> None:
        end = time.monotonic() + deadline
        while text not in self.screen:
            remaining = end - time.monotonic()
            assert remaining > 0, f"{text!r} not shown within {deadline} s; last output: {self.screen[-2000:]!r}"
            if select.select([self.leader], [], [], remaining)[0]:
                try:
                    self.screen += os.read(self.leader, 65536)
                except OSError:  # the viewer has gone
                    break

    def press(self, key: bytes) -> None:
        os.write(self.leader, key)

    def wait(self) -> int:
        """Its exit status, reading what it draws meanwhile (a full pty would stop it)."""
        end = time.monotonic() + DEADLINE
        while self.process.poll() is None and time.monotonic() < end:
            if select.select([self.leader], [], [], 0.1)[0]:
                try:
                    self.screen += os.read(self.leader, 65536)
                except OSError:
                    break
        return self.process.wait(timeout=1)


@pytest.fixture
def viewer(fakebin: FakeBin) -> Iterator[Callable[..., Terminal]]:  # noqa: F811
    started: list[Terminal] = []

    def start(*args: str) -> Terminal:
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
        env = {**fakebin.env(), "TERM": "xterm-256color"}
        process = subprocess.Popen(
            fakebin.argv(*args), env=env, stdin=follower, stdout=follower, stderr=follower, start_new_session=True
        )
        os.close(follower)
        terminal = Terminal(process, leader)
        started.append(terminal)
        return terminal

    yield start
    for terminal in started:
        if terminal.process.poll() is None:
            terminal.process.kill()
            terminal.process.wait()
        os.close(terminal.leader)


def test_a_hung_command_is_said_while_it_hangs_then_stale(fakebin: FakeBin, viewer) -> None:  # noqa: F811
    fakebin.add("ss", HANG_WITH_CHILD)
    terminal = viewer("--source", "ss", "--timeout", "4")
    terminal.read_until(b"collecting for")
    terminal.read_until(b"STALE")
    terminal.read_until(b"did not finish within 4 s")
    terminal.press(b"q")
    assert terminal.wait() == 0
    assert b"Traceback" not in terminal.screen
    fakebin.assert_nothing_left()


def test_quitting_during_a_hung_collection_is_clean(fakebin: FakeBin, viewer) -> None:  # noqa: F811
    fakebin.add("ss", HANG_WITH_CHILD)
    terminal = viewer("--source", "ss", "--timeout", "600")
    terminal.read_until(b"collecting for")
    terminal.press(b"q")
    assert terminal.wait() == 0  # at once: not after the timeout
    assert b"Traceback" not in terminal.screen and b"Event loop is closed" not in terminal.screen
    fakebin.assert_nothing_left()
