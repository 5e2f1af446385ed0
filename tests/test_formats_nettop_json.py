"""nettop's own JSON as a capture format: a saved snapshot listed, filtered and checked again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nettop.errors import UnknownFormat
from nettop.formats import detect_format, parse_text
from nettop.model import OwnerStatus, Proto, State

ROW = {"proto": "tcp", "family": 6, "local_ip": "::", "local_port": 22, "state": "LISTEN", "owner_status": "known",
       "pid": 7, "program": "sshd", "user": "root",
       "owners": [{"pid": 7, "name": "sshd", "user": "root", "cmdline": None, "start_time": None}]}  # fmt: skip


def nettop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nettop", *args], capture_output=True, text=True, timeout=60)


def test_a_written_snapshot_is_detected_and_read_with_every_field() -> None:
    text = json.dumps([ROW, {**ROW, "local_port": None, "local_service": "dsf", "owners": [], "pid": None,
                             "program": None, "user": None, "owner_status": "not-reported"}], indent=2)  # fmt: skip
    assert detect_format(text) == "nettop-json"
    first, second = parse_text(text).records
    assert (first.proto, first.family, first.local_ip, first.local_port, first.state) == (
        Proto.TCP, 6, "::", 22, State.LISTEN)  # fmt: skip
    assert (first.pid, first.program, first.user, first.owner_status) == (7, "sshd", "root", OwnerStatus.KNOWN)
    assert (second.local_port, second.local_service, second.owners) == (None, "dsf", ())


def test_an_empty_snapshot_is_an_empty_listing() -> None:
    assert parse_text("[]\n").records == ()


def test_a_bad_connection_refuses_the_file_and_says_where() -> None:
    text = json.dumps([ROW, {**ROW, "local_port": 70000}])
    with pytest.raises(UnknownFormat, match=r"not a nettop JSON snapshot: connection 1: .*local_port"):
        parse_text(text)


def test_other_json_is_not_taken_for_a_snapshot() -> None:
    with pytest.raises(UnknownFormat):
        detect_format('[{"name": "x"}]')


def test_list_check_and_diff_read_a_saved_snapshot(tmp_path: Path, corpus: Path) -> None:
    saved = tmp_path / "snap.json"
    done = nettop("list", "--format", "json", "--from-file", str(corpus / "debian12" / "ss-tunap.out"))
    assert done.returncode == 0, done.stderr
    saved.write_text(done.stdout)
    again = nettop("list", "--format", "json", "--from-file", str(saved))
    assert again.returncode == 0 and again.stdout == done.stdout, again.stderr
    listeners = nettop("list", "--format", "json", "--from-file", str(saved), "--port", "18091", "--listening")
    assert {row["pid"] for row in json.loads(listeners.stdout)} == {6706}
    policy = tmp_path / "policy.toml"
    policy.write_text('[[listen]]\nport = 18091\nproto = "tcp"\n')
    assert nettop("check", str(policy), "--from-file", str(saved)).returncode == 0
    assert nettop("diff", str(saved), str(saved)).returncode == 0


def test_a_named_input_format_overrides_detection(tmp_path: Path) -> None:
    saved = tmp_path / "snap.json"
    saved.write_text(json.dumps([ROW]))
    done = nettop("list", "--from-file", str(saved), "--input-format", "ss")
    assert done.returncode == 1 and "not ss output" in done.stderr
    assert nettop("list", "--from-file", str(saved), "--input-format", "nettop-json").returncode == 0
    refused = nettop("list", "--input-format", "ss")
    assert refused.returncode == 2 and "--input-format names the format of a --from-file capture" in refused.stderr
