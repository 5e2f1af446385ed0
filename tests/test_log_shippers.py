"""The examples a log shipper runs (examples/vector.toml, examples/fluent-bit.conf): their nettop command is one
nettop takes, their parsing matches what it writes, and the stream they read is whole JSON lines, flushed as
events happen, each naming its host."""

from __future__ import annotations

import json
import os
import select
import shlex
import socket
import subprocess
import sys
import time
import tomllib
from datetime import datetime
from pathlib import Path

from nettop.cli import build_parser

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def fluent_bit_sections(path: Path) -> list[tuple[str, dict[str, str]]]:
    """Fluent Bit's classic format: ``[SECTION]`` then indented ``Key value`` lines."""
    sections: list[tuple[str, dict[str, str]]] = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("["):
            sections.append((line.strip("[] "), {}))
        else:
            key, _, value = line.strip().partition(" ")
            sections[-1][1][key] = value.strip()
    return sections


def nettop_argv(words: list[str]) -> list[str]:
    assert words[0] == "nettop"
    args = build_parser().parse_args(words[1:])  # argparse exits (and fails the test) on anything else
    assert args.command == "watch" and args.format == "ndjson"
    return words[1:]


def test_the_vector_example_runs_nettop_and_reads_json_lines() -> None:
    config = tomllib.loads((EXAMPLES / "vector.toml").read_text())
    source = config["sources"]["nettop"]
    assert source["type"] == "exec" and source["mode"] == "streaming"
    assert source["decoding"]["codec"] == "json" and source["framing"]["method"] == "newline_delimited"
    nettop_argv(source["command"])
    assert config["transforms"]["listeners"]["inputs"] == ["nettop"]
    assert config["sinks"]["console"]["inputs"] == ["listeners"]


def test_the_fluent_bit_example_runs_nettop_and_parses_its_time() -> None:
    sections = fluent_bit_sections(EXAMPLES / "fluent-bit.conf")
    (inputs,) = [values for name, values in sections if name == "INPUT"]
    assert inputs["Name"] == "exec"
    nettop_argv(shlex.split(inputs["Command"]))
    (parser,) = [values for name, values in fluent_bit_sections(EXAMPLES / "fluent-bit-parsers.conf")]
    assert parser["Name"] == inputs["Parser"] and parser["Format"] == "json" and parser["Time_Key"] == "time"
    # Fluent Bit's %L is the fraction of a second: Python's %f reads the same digits.
    stamp = "2026-11-23T14:58:19.512Z"
    assert datetime.strptime(stamp, parser["Time_Format"].replace("%L", "%f")).microsecond == 512_000


def test_the_stream_is_whole_json_lines_flushed_as_they_happen_each_with_its_host() -> None:
    words = tomllib.loads((EXAMPLES / "vector.toml").read_text())["sources"]["nettop"]["command"]
    argv = [sys.executable, "-m", "nettop", *nettop_argv(words)[:-2], "--interval", "0.2", "--listening"]
    watch = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert watch.stdout is not None and watch.stderr is not None
    try:
        assert b"watching from" in watch.stderr.readline()
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            port = listener.getsockname()[1]
            # Read as a shipper does, whatever arrives: every complete line must be one whole JSON object.
            pending, events, deadline = b"", [], time.monotonic() + 30
            fd = watch.stdout.fileno()
            while not any(e["event"] == "open" and e["connection"]["local_port"] == port for e in events):
                assert time.monotonic() < deadline, "the open event did not arrive while nettop ran"
                if select.select([fd], [], [], 1)[0]:
                    pending += os.read(fd, 256)  # small reads: a line may come in pieces, never cut for good
                    *lines, pending = pending.split(b"\n")
                    events += [json.loads(line) for line in lines]
        (opened,) = [e for e in events if e["event"] == "open" and e["connection"]["local_port"] == port]
        assert opened["host"] == socket.gethostname() and opened["listener"] is True
        assert opened["connection"]["host"] is None, "this machine's socket: no remote host"
    finally:
        watch.terminate()
        watch.wait(timeout=20)
