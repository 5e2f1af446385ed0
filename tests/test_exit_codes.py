"""Exit statuses a script or CI can trust: bad usage is 2, and an output that did not arrive is never 0 (but for
``watch``, which a closed pipe ends by design); for ``check`` and ``diff``, whose 1 means "fails" and
"different", an I/O error is 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

CAPTURE = str(Path(__file__).parent / "data" / "debian12-nettop" / "ss-tunae.out")


@pytest.fixture
def failing_policy(tmp_path: Path) -> str:
    path = tmp_path / "policy.toml"
    path.write_text('[[listen]]\nport = 1\nproto = "tcp"\n')  # nothing listens on port 1 in the capture
    return str(path)


@pytest.fixture
def snapshots(tmp_path: Path) -> tuple[str, str]:
    """Two different saved snapshots, as `nettop list --format json` writes them."""
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    listing = run("list", "--format", "json", "--from-file", CAPTURE)
    after.write_text(listing.stdout)
    before.write_text("[]")
    return str(before), str(after)


def run(
    *args: str, stdout: int | None = subprocess.PIPE, close_stdout: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nettop", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        preexec_fn=(lambda: os.close(1)) if close_stdout else None,  # `nettop list >&-`
    )


def commands(policy: str, before: str, after: str) -> dict[str, tuple[list[str], int]]:
    """Each command, and its status when its output cannot be written."""
    return {
        "list": (["list", "--from-file", CAPTURE], 1),
        "policy init": (["policy", "init", "--from-file", CAPTURE], 1),
        "check": (["check", policy, "--from-file", CAPTURE], 2),
        "diff": (["diff", before, after], 2),
    }


def test_closed_stdout_is_an_error_with_a_message(failing_policy: str, snapshots: tuple[str, str]) -> None:
    for name, (args, status) in commands(failing_policy, *snapshots).items():
        done = run(*args, stdout=None, close_stdout=True)
        assert done.returncode == status, (name, done.stderr)
        assert done.stderr.strip() == "nettop: cannot write the output: standard output is closed", name


def test_a_full_disk_is_an_error_with_a_whole_message(failing_policy: str, snapshots: tuple[str, str]) -> None:
    for name, (args, status) in commands(failing_policy, *snapshots).items():
        with open("/dev/full", "w") as full:
            done = run(*args, stdout=full.fileno())
        assert done.returncode == status, (name, done.stderr)
        assert done.stderr.strip() == "nettop: cannot write the output: No space left on device", name


def test_a_reader_gone_is_a_failure_but_for_watch(failing_policy: str, snapshots: tuple[str, str]) -> None:
    for name, (args, status) in commands(failing_policy, *snapshots).items():
        reader, writer = os.pipe()
        os.close(reader)  # gone before nettop writes: `nettop check ... | true`
        try:
            done = run(*args, stdout=writer)
        finally:
            os.close(writer)
        assert done.returncode == status, (name, done.stderr)
        assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    # A watch is ended by its reader going away (`nettop watch | head -1`): that is success.
    reader, writer = os.pipe()
    os.close(reader)
    watch = subprocess.Popen(
        [sys.executable, "-m", "nettop", "watch", "--interval", "0.1", "--listening"],
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(writer)
    try:
        assert watch.stderr is not None and "changes follow" in watch.stderr.readline()
        with socket.socket() as listener:  # an event to write
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            assert watch.wait(timeout=30) == 0
        assert "Traceback" not in watch.stderr.read()
    finally:
        watch.kill()
        watch.wait()


@pytest.mark.parametrize(
    "args",
    [
        ["--interval", "nan"],
        ["--interval", "inf"],
        ["--interval", "0.1"],
        ["--interval", "100"],
        ["watch", "--interval", "1e-9"],
        ["watch", "--interval", "nan"],
        ["list", "--timeout", "nan"],
        ["list", "--timeout", "inf"],
        ["list", "--timeout", "0"],
        ["list", "-4", "-6"],
        ["list", "--source", "lsof"],
        ["list", "--source", "sockstat"],
        ["list", "--pid", str(2**32)],
        ["list", "--pid", "²"],
        ["list", "--port", "70000"],
        ["list", "--port", "²"],
        ["check", "x.toml", "--wait", "inf"],
    ],
)
def test_impossible_arguments_are_bad_usage(args: list[str]) -> None:
    done = run(*args)
    assert done.returncode == 2, done.stderr
    assert "error:" in done.stderr and "Traceback" not in done.stderr


def test_unbounded_inputs_are_refused_by_size() -> None:
    listing = run("list", "--from-file", "/dev/zero")
    assert listing.returncode == 1
    assert "/dev/zero is larger than 256 MiB" in listing.stderr
    check = run("check", "/dev/zero")
    assert check.returncode == 2 and "larger than" in check.stderr
    diff = run("diff", "/dev/zero", "/dev/zero")
    assert diff.returncode == 2 and "larger than" in diff.stderr
