"""Prometheus metrics: ``nettop list --format prometheus`` (checked by promtool) and ``nettop exporter`` scraped by a
real Prometheus server on loopback, both against real sockets this test opens."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from nettop.errors import NettopError
from nettop.exporter import ScrapeCollector, listen_address
from nettop.metrics import Collection, exposition
from nettop.model import Owner, Proto, Snapshot, State
from nettop.policy.rules import parse_policy
from nettop.text import safe
from tests.children import end
from tests.scripted import conn
from tests.sockets import PROBE_NAME

NETTOP = [sys.executable, "-m", "nettop"]


def samples(text: str | bytes, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of metric ``name`` in an exposition, as (labels, value)."""
    if isinstance(text, bytes):
        text = text.decode()
    found = []
    for family in text_string_to_metric_families(text):
        found += [(sample.labels, sample.value) for sample in family.samples if sample.name == name]
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(what: str, check, seconds: float = 60.0):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns something truthy; fail, saying ``what``, after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


def get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, ConnectionError):
        return None


# ---- the text format, offline


def test_sockets_listeners_and_programs_are_counted_without_remote_labels() -> None:
    records = (
        conn(22, pid=1, name="sshd"),
        conn(22, pid=1, name="sshd", local_ip="::", family=6),
        conn(5432, pid=7, name="postgres"),  # loopback
        conn(40_001, 22, remote_ip="10.0.0.9", pid=1, name="sshd"),
        conn(40_002, 22, remote_ip="10.0.0.8", pid=1, name="sshd"),
        conn(40_003, 443, remote_ip="10.0.0.7", state=State.TIME_WAIT, pid=None),
        conn(53, proto=Proto.UDP, pid=3, name="resolved", local_ip="0.0.0.0"),
    )
    text = exposition(Collection(Snapshot(records, 1.8e9, 0.25, "netlink")))
    sockets = {tuple(sorted(labels.items())): value for labels, value in samples(text, "nettop_sockets")}
    assert sockets[(("family", "ipv4"), ("proto", "tcp"), ("state", "established"))] == 2
    assert sockets[(("family", "ipv4"), ("proto", "tcp"), ("state", "time_wait"))] == 1
    assert sockets[(("family", "ipv4"), ("proto", "tcp"), ("state", "listen"))] == 2
    assert sockets[(("family", "ipv6"), ("proto", "tcp"), ("state", "listen"))] == 1
    listeners = {(labels["proto"], labels["family"], labels["port"]): labels for labels, _ in
                 samples(text, "nettop_listeners")}  # fmt: skip
    assert set(listeners) == {("tcp", "ipv4", "22"), ("tcp", "ipv6", "22"), ("tcp", "ipv4", "5432"),
                              ("udp", "ipv4", "53")}  # fmt: skip
    assert listeners[("tcp", "ipv4", "5432")]["scope"] == "loopback"
    assert listeners[("tcp", "ipv6", "22")]["scope"] == "all"
    assert listeners[("tcp", "ipv4", "22")]["program"] == "sshd"
    programs = {(labels["program"], labels["proto"]): value for labels, value in
                samples(text, "nettop_program_connections")}  # fmt: skip
    assert programs == {("sshd", "tcp"): 2, ("", "tcp"): 1}
    assert samples(text, "nettop_collection_duration_seconds") == [({"source": "netlink"}, 0.25)]
    assert samples(text, "nettop_collection_success") == [({}, 1.0)]
    # Remote ends and ephemeral ports never become labels: series stay bounded on a busy server.
    assert "10.0.0." not in text.decode() and "40001" not in text.decode()


def test_a_hostile_program_name_is_escaped_in_labels() -> None:
    evil = 'x"} 1\nnettop_up 0 \x1b[31m\udcff'
    record = conn(8080, pid=5, name="x")
    record = record._replace(owners=(Owner(5, evil, "alice", None, None),))
    text = exposition(Collection(Snapshot((record,), 1.8e9, 0.1, "ss")))
    (labels, value), *_ = samples(text, "nettop_listeners")
    assert labels["program"] == safe(evil) and value == 1
    assert "nettop_up" not in [family.name for family in text_string_to_metric_families(text.decode())]


def test_policy_assertions_are_exported_one_series_each() -> None:
    policy = parse_policy('[[listen]]\nport = 22\nproto = "tcp"\n\n[[forbid]]\nport = 5432\n', "ports.toml")
    from nettop.policy.check import evaluate

    records = (conn(22, name="sshd"), conn(5432, name="postgres"))
    report = evaluate(policy, records)
    text = exposition(Collection(Snapshot(records, 1.8e9, 0.1, "ss"), (report,)))
    results = {labels["kind"]: value for labels, value in samples(text, "nettop_policy_assertion_passed")}
    assert results == {"listen": 1.0, "forbid": 0.0}
    assert samples(text, "nettop_policy_passed") == [({"policy": report.policy}, 0.0)]


def test_hosts_have_their_own_series_and_each_its_policy_result() -> None:
    """Read from remote hosts: the same listener on two hosts is two series, a host that did not answer is down
    (and its policy result an error, never the others' sockets), and a host's name is shown escaped."""
    from nettop.policy.check import host_report

    policy = parse_policy('[[listen]]\nport = 22\nproto = "tcp"\n', "ports.toml")
    hosts = ("web1", "db\x1b[2J")
    sshds = [conn(22, name="sshd")._replace(host=host) for host in hosts]
    records = (*sshds, conn(5432, name="postgres")._replace(host="web1"))
    snapshot = Snapshot(records[:1] + records[2:], 1.8e9, 0.1, "ssh:web1,db", stale=(hosts[1],))
    reports = tuple(host_report(policy, snapshot, host) for host in hosts)
    text = exposition(Collection(snapshot, reports, hosts=hosts))
    listening = {(labels["host"], labels["port"]): value for labels, value in samples(text, "nettop_listeners")}
    assert listening == {("web1", "22"): 1.0, ("web1", "5432"): 1.0}
    up = {labels["host"]: value for labels, value in samples(text, "nettop_host_up")}
    assert up == {"web1": 1.0, "db\\x1b[2J": 0.0}
    passed = {labels["host"]: value for labels, value in samples(text, "nettop_policy_passed")}
    assert passed == {"web1": 1.0, "db\\x1b[2J": 0.0}
    assert all("host" in labels for labels, _ in samples(text, "nettop_sockets"))
    # Both answering: port 22 is a series on each, not one series counting two.
    both = Snapshot(records, 1.8e9, 0.1, "ssh:web1,db")
    text = exposition(Collection(both, hosts=hosts))
    ssh = sorted(labels["host"] for labels, _ in samples(text, "nettop_listeners") if labels["port"] == "22")
    assert ssh == ["db\\x1b[2J", "web1"]


class FailingSource:
    name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    async def collect(self) -> Snapshot:
        self.calls += 1
        raise NettopError("ss: timed out after 10 s")


def test_a_failed_collection_is_a_metric_not_stale_sockets() -> None:
    source = FailingSource()
    now = [100.0]
    collector = ScrapeCollector(source, clock=lambda: now[0])  # type: ignore[arg-type]
    try:
        first = list(collector.collect())
        again = list(collector.collect())  # within FRESH_FOR: the same collection answers
        now[0] += 5
        later = list(collector.collect())
    finally:
        collector.close()
    assert source.calls == 2
    by_name = {family.name: family for family in first}
    assert by_name["nettop_collection_success"].samples[0].value == 0
    assert by_name["nettop_collection_errors"].samples[0].value == 1
    assert "nettop_sockets" not in by_name
    assert [f.name for f in again] == [f.name for f in first]
    assert {f.name: f for f in later}["nettop_collection_errors"].samples[0].value == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:9717", ("127.0.0.1", 9717)), ("[::1]:9100", ("::1", 9100)), ("localhost:1", ("localhost", 1))],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert listen_address(text) == expected


@pytest.mark.parametrize("text", ["9717", ":9717", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000"])
def test_bad_listen_addresses_are_refused_with_usage(text: str) -> None:
    done = subprocess.run([*NETTOP, "exporter", "--listen", text], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--listen" in done.stderr and "Traceback" not in done.stderr


def test_an_address_in_use_is_said() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*NETTOP, "exporter", "--listen", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in done.stderr and "in use" in done.stderr


# ---- live: real sockets, promtool, and a real Prometheus server


def test_list_format_prometheus_is_a_valid_textfile_with_the_real_listener(probe: int) -> None:
    done = subprocess.run([*NETTOP, "list", "--format", "prometheus"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    ours = [labels for labels, value in samples(done.stdout, "nettop_listeners") if labels["port"] == str(probe)]
    assert len(ours) == 1
    assert ours[0]["scope"] == "loopback" and ours[0]["proto"] == "tcp" and ours[0]["family"] == "ipv4"
    if os.geteuid() == 0:  # root sees every owner
        assert ours[0]["program"] == PROBE_NAME
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian's prometheus package; .ci/run installs it)")
    checked = subprocess.run([promtool, "check", "metrics"], input=done.stdout, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@contextlib.contextmanager
def running(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        end(child)


def test_prometheus_scrapes_the_exporter_and_reads_the_listener_back(probe: int, tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus is not installed (Debian's prometheus package; .ci/run installs it)")
    exporter_port, prometheus_port = free_port(), free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: nettop\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
    )
    exporter = [*NETTOP, "exporter", "--listen", f"127.0.0.1:{exporter_port}"]
    server = [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
              f"--web.listen-address=127.0.0.1:{prometheus_port}"]  # fmt: skip
    with running(exporter, tmp_path / "exporter.log") as nettop, running(server, tmp_path / "prometheus.log"):
        # The exporter itself first: what it serves is what Prometheus will store.
        served = wait_for("the exporter's /metrics", lambda: get(f"http://127.0.0.1:{exporter_port}/metrics"))
        assert any(labels["port"] == str(probe) for labels, _ in samples(served, "nettop_listeners"))
        query = urllib.parse.quote(f'nettop_listeners{{port="{probe}"}}')

        def series() -> list[dict[str, object]]:
            answer = get(f"http://127.0.0.1:{prometheus_port}/api/v1/query?query={query}")
            return json.loads(answer)["data"]["result"] if answer else []

        (found, *more) = wait_for("Prometheus to store the listener's series", series, seconds=90)
        assert nettop.poll() is None, (tmp_path / "exporter.log").read_text()
    assert more == []
    labels = found["metric"]
    assert isinstance(labels, dict)
    assert labels["job"] == "nettop" and labels["scope"] == "loopback" and labels["proto"] == "tcp"
    assert found["value"][1] == "1"  # type: ignore[index]
    assert nettop.returncode == 0, "SIGTERM ends the exporter cleanly"
    assert "serving http://127.0.0.1:" in (tmp_path / "exporter.log").read_text()
