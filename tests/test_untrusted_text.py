"""Processes named by an attacker, seen through every output nettop has.

Real children rename themselves (prctl PR_SET_NAME, the kernel's comm, which is what ps, psutil and nettop
call the program) to escape sequences and Textual markup, carry such text and bytes that are not UTF-8 in
their command lines, and hold loopback listeners. Every screen and text writer must show that text escaped
and never crash; JSON must keep it exactly.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import tomllib
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from textual.widgets import Static

from nettop.app import NettopApp
from nettop.errors import CommandFailed
from nettop.screens.details import DetailsScreen
from nettop.screens.kill import KillScreen
from nettop.sources import TextSource, platform_source
from nettop.widgets.conn_table import ConnectionTable
from tests.scripted import FakeClock, ScriptedSource, conn

#: Each at most 15 bytes: the kernel's limit for a process's name.
HOSTILE_NAMES = [b"\x1b]0;pwn\x07a[/]b", b"[@click=app.qui", b"[red]evil\x1b[2J"]
#: Command-line words: escape sequences, markup, a right-to-left override, a C1 CSI, and bytes not UTF-8.
HOSTILE_ARGS = [b"\x1b[2J", b"[red]evil", b"a[/]b", "\u202eexe".encode(), b"\xc2\x9b31m", b"\xff\xfe"]

CHILD = """
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, bytes.fromhex(sys.argv[1]), 0, 0, 0)  # PR_SET_NAME
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
"""


@dataclass
class Hostile:
    process: subprocess.Popen[bytes]
    port: int
    #: The name and command line as psutil gives them: what JSON must keep exactly.
    name: str
    cmdline: list[str]


def unsafe(text: str) -> list[str]:
    """Characters that must never reach a terminal raw."""
    return [c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") and c != "\n"]


def start_hostile(name: bytes) -> Hostile:
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, name.hex(), *HOSTILE_ARGS], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    me = psutil.Process(process.pid)
    return Hostile(process, port, me.name(), me.cmdline())


@contextlib.contextmanager
def hostile_children(names: list[bytes]) -> Iterator[list[Hostile]]:
    children = []
    try:
        for name in names:
            children.append(start_hostile(name))
        yield children
    finally:
        for child in children:
            child.process.kill()
            child.process.wait()


@pytest.fixture(scope="module")
def hostile() -> Iterator[list[Hostile]]:
    with hostile_children(HOSTILE_NAMES) as children:
        assert [c.name.encode() for c in children] == HOSTILE_NAMES  # the kernel took the names as given
        yield children


def nettop(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "nettop", *args], capture_output=True, input=stdin, timeout=60)


def printed(done: subprocess.CompletedProcess[bytes]) -> str:
    """stdout as text; it must be valid UTF-8 and hold nothing a terminal acts on (stderr neither)."""
    out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
    assert unsafe(out) == [] and unsafe(err) == []
    return out


# ---- nettop list, policy init, check, watch, diff


def test_list_table_and_csv_show_the_names_escaped(hostile: list[Hostile]) -> None:
    for child in hostile:
        table = printed(nettop("list", "--pid", str(child.process.pid)))
        assert str(child.port) in table
        csv_text = printed(nettop("list", "--pid", str(child.process.pid), "--format", "csv"))
        assert str(child.port) in csv_text
    table = printed(nettop("list", "--pid", str(hostile[0].process.pid)))
    assert "\\x1b]0;pwn\\x07a[/]b" in table


def test_list_json_keeps_the_exact_names_and_command_lines(hostile: list[Hostile]) -> None:
    for child in hostile:
        done = nettop("list", "--pid", str(child.process.pid), "--format", "json")
        assert done.returncode == 0
        raw = done.stdout.decode("utf-8")
        assert unsafe(raw) == []  # JSON's escapes, not the characters
        (record,) = [r for r in json.loads(raw) if r["local_port"] == child.port]
        assert record["program"] == child.name
        assert record["owners"][0]["cmdline"] == child.cmdline
        assert "\udcff" in record["owners"][0]["cmdline"][-1]  # the byte that was not UTF-8, kept


def test_policy_init_writes_valid_toml_that_keeps_the_names(hostile: list[Hostile]) -> None:
    text = printed(nettop("policy", "init"))
    policy = tomllib.loads(text)
    programs = {rule.get("program") for rule in policy["listen"] if rule["port"] in {c.port for c in hostile}}
    assert programs == {c.name for c in hostile}


@pytest.mark.parametrize("format", ["text", "junit", "tap", "json"])
def test_check_reports_show_the_names_escaped(hostile: list[Hostile], tmp_path: Path, format: str) -> None:
    rules = "".join(f'[[listen]]\nport = {c.port}\nproto = "tcp"\nprogram = "nginx"\n' for c in hostile)
    policy = tmp_path / "policy.toml"
    policy.write_text(rules)
    done = nettop("check", str(policy), "--format", format)
    assert done.returncode == 1, done.stderr
    out = printed(done)
    if format == "junit":
        failures = ET.fromstring(out).findall(".//failure")
        assert len(failures) == 3 and "\\x1b]0;pwn\\x07a[/]b" in "".join(f.text or "" for f in failures)
    elif format == "json":
        evidence = [e for a in json.loads(out)["assertions"] for e in a["evidence"]]
        assert {e["record"]["program"] for e in evidence} == {c.name for c in hostile}
    else:
        assert "\\x1b[2J" in out


def test_watch_and_diff_show_the_names_escaped(tmp_path: Path) -> None:
    before = nettop("list", "--format", "json")
    watch = subprocess.Popen(
        [sys.executable, "-m", "nettop", "watch", "--interval", "0.2", "--listening"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert watch.stderr is not None and watch.stdout is not None
        assert b"watching from" in watch.stderr.readline()  # the baseline is taken
        with hostile_children(HOSTILE_NAMES[:1]) as (child,):
            while True:
                line = watch.stdout.readline().decode("utf-8")
                if f":{child.port} " in line:
                    break
            after = nettop("list", "--format", "json")
    finally:
        watch.kill()
        watch.wait()
    assert line.split()[1] == "open" and unsafe(line) == []
    assert "\\x1b]0;pwn\\x07a[/]b" in line
    (tmp_path / "before.json").write_bytes(before.stdout)
    (tmp_path / "after.json").write_bytes(after.stdout)
    text = printed(nettop("diff", str(tmp_path / "before.json"), str(tmp_path / "after.json")))
    assert "\\x1b]0;pwn\\x07a[/]b" in text
    opened = json.loads(
        printed(nettop("diff", str(tmp_path / "before.json"), str(tmp_path / "after.json"), "--format", "json"))
    )["opened"]
    assert child.name in {r["program"] for r in opened}


# ---- the viewer


def screen_text(widget: Static) -> str:
    return str(widget.render())


async def test_the_viewer_shows_hostile_names_as_text(hostile: list[Hostile]) -> None:
    pids = ",".join(str(c.process.pid) for c in hostile)
    app = NettopApp(platform_source("auto"), interval=0.5, filter_text=f"pid:{pids} state:listen")
    async with app.run_test(size=(240, 40)) as pilot:  # the Command column, beside the traffic ones
        table = app.query_one(ConnectionTable)
        deadline = time.monotonic() + 15
        while table.row_count < 3 and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert table.row_count == 3
        lines = [table.render_line(y).text for y in range(4)]
        assert all(unsafe(line) == [] for line in lines)
        assert any("[@click=app.qui" in line for line in lines) and any("\\x1b[2J" in line for line in lines)
        for index in range(3):
            table.move_cursor_to(table.entry(index)[0])
            await pilot.press("enter")
            assert isinstance(app.screen, DetailsScreen)
            details = screen_text(app.screen.query_one("#details-text", Static))
            assert unsafe(details) == [] and "\\x1b[2J [red]evil a[/]b \\u202eexe \\x9b31m \\xff\\xfe" in details
            await pilot.press("escape")
            await pilot.press("k")
            assert isinstance(app.screen, KillScreen)
            question = screen_text(app.screen.query_one("#kill-owner", Static))
            assert unsafe(question) == [] and f"pid {table.entry(index)[1].record.pid}" in question
            assert "\\x1b[2J [red]evil a[/]b \\u202eexe \\x9b31m \\xff\\xfe" in question, "the command line, as text"
            await pilot.press("escape")
        assert app.is_running  # nothing above crashed it


async def test_the_filter_bar_status_line_and_export_never_read_markup(tmp_path: Path) -> None:
    clock = FakeClock()
    failure = CommandFailed(["ss", "-tunae"], 1, "ss: bad [/] thing \x1b]0;pwn\x07 [@click=app.quit]")
    source = ScriptedSource([[conn(22, name="[red]evil")], failure], clock)
    app = NettopApp(source, interval=60, clock=clock)
    async with app.run_test(size=(120, 30)) as pilot:
        app.refresh_now()
        await pilot.pause(0.1)
        await pilot.press("slash", *"port:[/")
        error = screen_text(app.query_one("#filter-error", Static))
        assert "port" in error and app.is_running
        app.query_one("#filter-input").value = ""  # type: ignore[attr-defined]
        await pilot.press("escape")
        app.refresh_now()
        while source.collected < 2:
            await pilot.pause(0.05)
        await pilot.pause(0.1)
        status = screen_text(app.query_one("#status", Static))
        assert "STALE" in status and "bad [/] thing \\x1b]0;pwn\\x07 [@click=app.quit]" in status
        (tmp_path / "a[").mkdir()
        for name in ("a[/]b.json", "no such dir [/]/x.json", "x.txt"):
            await pilot.press("x")
            field = app.screen.query_one("#export-path")
            field.value = str(tmp_path / name)  # type: ignore[attr-defined]
            await pilot.press("enter")
            await pilot.pause(0.1)
        messages = [n.message for n in app._notifications]
        assert any("exported 1 connections" in m and "a[/]b.json" in m for m in messages)
        assert any("export failed" in m and "[/]" in m for m in messages)
        assert any("'.txt' is not an export format" in m for m in messages)
        assert json.loads((tmp_path / "a[" / "]b.json").read_text())[0]["program"] == "[red]evil"
        assert app.is_running


async def test_a_capture_path_with_markup_is_shown_as_text(tmp_path: Path) -> None:
    capture = Path(__file__).parent / "data" / "debian12-nettop" / "ss-tunae.out"
    source = TextSource(capture.read_text(), name=str(tmp_path / "[b]cap[/]ture.out"))
    app = NettopApp(source, interval=60)
    async with app.run_test(size=(200, 30)) as pilot:
        await pilot.pause(0.3)
        assert "[b]cap[/]ture.out" in screen_text(app.query_one("#summary", Static))
        assert app.is_running


def test_a_crashed_viewer_exits_non_zero() -> None:
    """Through a real terminal (a pty): the viewer needs one. The crash is forced in compose."""
    import pty

    code = (
        "import sys, nettop.app, nettop.cli\n"
        "def broken(self): raise RuntimeError('boom')\n"
        "nettop.app.NettopApp.compose = broken\n"
        "sys.exit(nettop.cli.main(['--from-file', sys.argv[1]]))\n"
    )
    capture = Path(__file__).parent / "data" / "debian12-nettop" / "ss-tunae.out"
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(capture)], stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    output = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(leader, 65536):
            output += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 1
    assert b"boom" in output
