"""`nettop list` end to end: formats, filters, exit codes and messages, run as a user would run it."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sockets import PROBE_NAME, open_loopback_sockets


def nettop(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nettop", *args], capture_output=True, text=True, input=stdin, timeout=60
    )


def test_json_from_file_follows_the_schema(corpus: Path) -> None:
    done = nettop("list", "--format", "json", "--from-file", str(corpus / "debian12" / "ss-tunap.out"))
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == 36
    shared = next(r for r in rows if r["local_port"] == 18091)
    assert shared == {
        "proto": "tcp",
        "family": 4,
        "local_ip": "127.0.0.1",
        "local_port": 18091,
        "remote_ip": None,
        "remote_port": None,
        "state": "LISTEN",
        "pid": 6706,
        "program": "worker-b",
        "user": None,
        "owners": [
            {"pid": 6706, "name": "worker-b", "user": None, "cmdline": None, "start_time": None, "cgroup": None},
            {"pid": 6705, "name": "worker-a", "user": None, "cmdline": None, "start_time": None, "cgroup": None},
            {"pid": 6697, "name": "python3", "user": None, "cmdline": None, "start_time": None, "cgroup": None},
        ],
        "owner_status": "known",
        "interface": None,
        "recv_q": 0,
        "send_q": 8,
        "inode": None,
        "uid": None,
        "v6only": None,
        "truncated": False,
        "source": "ss",
        "local_service": None,
        "remote_service": None,
        "cgroup": None,  # a capture's owners are not looked up: where they ran is unknown
        "unit": None,
        "container": None,
        "pod": None,
        "traffic": None,  # counts come from the kernel's tcp_info, never from a capture's text
        "netns": None,
        "exposure": "loopback",
        "remote_name": None,
        "host": None,
    }


def test_filters_combine(corpus: Path) -> None:
    path = str(corpus / "debian12" / "ss-tunap.out")
    listening = json.loads(
        nettop("list", "--format", "json", "--from-file", path, "--listening", "--proto", "udp").stdout
    )
    assert sorted(r["local_port"] for r in listening) == [18082, 18085, 18087, 18089]
    by_state = json.loads(nettop("list", "--format", "json", "--from-file", path, "--state", "time-wait").stdout)
    assert sorted(r["remote_port"] for r in by_state) == [18093, 54326]
    by_port = json.loads(nettop("list", "--format", "json", "--from-file", path, "--port", "18092", "-4").stdout)
    assert len(by_port) == 6
    by_program = json.loads(nettop("list", "--format", "json", "--from-file", path, "--program", "worker-a").stdout)
    assert [r["local_port"] for r in by_program] == [18091]
    by_pid = json.loads(nettop("list", "--format", "json", "--from-file", path, "--pid", "6700").stdout)
    assert [r["local_port"] for r in by_pid] == [18096]


def test_csv_and_table_from_stdin(corpus: Path) -> None:
    text = (corpus / "debian12" / "ss-tunap.out").read_text(encoding="utf-8")
    done = nettop("list", "--format", "csv", "--from-file", "-", stdin=text)
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == 36
    assert rows[0]["local_ip"] == "127.0.0.1" and rows[0]["truncated"] == "false"
    tsv = nettop("list", "--format", "tsv", "--from-file", "-", stdin=text).stdout.splitlines()
    assert [line.split("\t") for line in tsv] == [[*rows[0]], *([*row.values()] for row in rows)]
    table = nettop("list", "--from-file", "-", "--port", "18090", stdin=text).stdout.splitlines()
    assert table[0].split() == ["Proto", "Local", "address", "Remote", "address", "State", "PID/Program", "User"]
    assert table[1].split() == ["tcp4", "127.0.0.1:18090", "*", "LISTEN", "6702/my", "srv:x", "(1"]


def test_a_route_table_is_refused_clearly(corpus: Path) -> None:
    done = nettop("list", "--from-file", str(corpus / "jc" / "centos-7.7" / "netstat-r.out"))
    assert done.returncode == 1
    assert done.stderr == "nettop: this is a routing table (netstat -r), not a socket list\n"


def test_garbage_and_truncated_input_are_reported_with_line_numbers(corpus: Path) -> None:
    lines = (corpus / "debian12" / "ss-tunap.out").read_text(encoding="utf-8").splitlines()
    broken = "\n".join([*lines[:5], "%%% garbage %%%", *lines[5:10], lines[10][:40]])
    done = nettop("list", "--format", "json", "--from-file", "-", stdin=broken)
    assert done.returncode == 0
    assert len(json.loads(done.stdout)) == 9
    assert "skipped 2 lines that could not be parsed" in done.stderr
    assert "line 6: expected at least 6 columns" in done.stderr
    assert "line 12: " in done.stderr


def test_unknown_text_names_the_formats_tried() -> None:
    done = nettop("list", "--from-file", "-", stdin="hello world\n")
    assert done.returncode == 1
    assert (
        "cannot tell which tool wrote this (tried: ss, netstat-bsd, netstat-linux, lsof, sockstat, netstat-windows"
        in done.stderr
    )


def test_bad_usage_exits_2() -> None:
    # `--port http` was refused here until the flags were made from the filter language, where a service name
    # is a port (as `port:http` always was in the viewer): a name that is no service is still bad usage.
    refused = nettop("list", "--port", "nosuchservice")
    assert refused.returncode == 2
    assert "argument --port: 'nosuchservice' is not a port number, range (8000-8100) or service name" in refused.stderr
    assert nettop("list", "--state", "sleeping").returncode == 2
    assert "unknown state 'sleeping'" in nettop("list", "--state", "sleeping").stderr


def test_viewer_without_a_terminal_says_what_to_use_instead() -> None:
    done = nettop()
    assert done.returncode == 2
    assert "the viewer needs a terminal; for scripts use `nettop list`" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_malformed_start_filter_is_bad_usage() -> None:
    done = nettop("--filter", "prot:udp")
    assert done.returncode == 2
    assert "--filter: unknown filter 'prot'" in done.stderr and "(at character 1)" in done.stderr


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    done = nettop("list", "--from-file", str(tmp_path / "nope.txt"))
    assert done.returncode == 1
    assert done.stderr.startswith("nettop: No such file or directory")


def test_live_list_shows_a_named_owner(tmp_path: Path) -> None:
    with open_loopback_sockets(tmp_path) as sockets:
        done = nettop("list", "--format", "json", "--port", str(sockets.child_port), "--listening")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert (row["pid"], row["program"], row["local_ip"]) == (sockets.child.pid, PROBE_NAME, "127.0.0.1")


@pytest.mark.parametrize("source", ["ss", "netstat"])
def test_failing_source_exits_1(source: str, tmp_path: Path) -> None:
    fake = tmp_path / source
    fake.write_text("#!/bin/sh\necho 'Cannot open netlink socket: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    done = subprocess.run(
        [sys.executable, "-m", "nettop", "list", "--source", source],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path)},
        timeout=60,
    )
    assert done.returncode == 1
    assert "exited with status 1: Cannot open netlink socket: Permission denied" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_broken_viewer_policy_is_bad_usage(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text("[[forbid]]\nport = 70000\n")
    done = nettop("--policy", str(policy))
    assert done.returncode == 2 and f"--policy: {policy}:2" in done.stderr and "port" in done.stderr


EARLY_WORDS = [
    (["list"], "auto"),
    (["list", "--format", "json", "--port", "443"], "auto"),
    (["list", "--source", "ss"], "ss"),
    (["list", "--source=auto"], "auto"),
    (["list", "--sou", "netlink"], "netlink"),  # argparse takes the prefix
    (["list", "--source=netstat"], None),
    (["list", "--from-file", "x"], None),
    (["list", "--fr=x"], None),
    (["list", "--help"], None),
    (["list", "-h"], None),
    (["policy", "init"], "auto"),
    (["policy", "init", "--source", "netstat"], None),
    (["--interval", "3", "list"], None),  # options before the command: left to the parser
    (["watch"], None),
    (["check", "p.toml"], None),
    ([], None),
]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the early start is Linux's")
@pytest.mark.parametrize(("words", "early"), EARLY_WORDS)
def test_the_early_start_is_read_from_the_words_and_the_parser_agrees(words: list[str], early: str | None) -> None:
    from nettop.cli import build_parser, early_source, listing_source

    assert early_source(words) == early
    if early is not None:  # a guess the parsed arguments must confirm, or the listing started is thrown away
        assert listing_source(build_parser().parse_args(words)) == early


def test_a_capture_none_of_whose_rows_can_be_read_fails_instead_of_listing_nothing(tmp_path: Path) -> None:
    capture = tmp_path / "capture.txt"
    capture.write_text(
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State\n"
        "tcp        0      0 127.0.0.1:99999         0.0.0.0:*               LISTEN\n"
        "tcp        0      0 127.0.0.1:-1            0.0.0.0:*               LISTEN\n"
    )
    done = nettop("list", "--format", "json", "--from-file", str(capture))
    assert done.returncode == 1 and done.stdout == ""
    assert "none of the 2 rows could be read as netstat-linux; line 2:" in done.stderr
    assert "127.0.0.1:99999" in done.stderr
