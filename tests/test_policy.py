"""`nettop check`'s core: policies read (and refused, naming file, line and key), rules evaluated against
real loopback listeners and recorded listings, reports in every format, and a policy made from listeners."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from nettop.cgroups import classify
from nettop.errors import NettopError
from nettop.formats import parse_text
from nettop.model import Connection, OwnerStatus, Proto, Snapshot, State
from nettop.policy.check import (
    OWNER_UNKNOWN,
    CheckReport,
    Status,
    check_source,
    collection_failed,
    evaluate,
    exit_code,
    listener_groups,
)
from nettop.policy.init import policy_from_listeners
from nettop.policy.report import render, to_json, to_junit, to_tap, to_text
from nettop.policy.rules import ListenRule, PolicyError, load_policy, parse_policy
from nettop.sources import platform_source
from tests.conftest import DATA, TEXTUAL_OR_RICH, modules_loaded_by
from tests.scripted import conn
from tests.sockets import PROBE_NAME, LoopbackSockets, open_loopback_sockets

CLASSIC = DATA / "handmade" / "check-classic-netstat-plnt.out"
CLASSIC_POLICY = """\
# The classic: ssh and the web server are expected, mail must not listen, and nothing else may.
[[listen]]
port = 22
proto = "tcp"
program = "sshd"

[[listen]]
port = 80
proto = "tcp"
program = "apache2"

[[listen]]
port = 443
proto = "tcp"
program = "apache2"

[[forbid]]
port = 25

[listeners]
count = 4
"""

SS_HEADER = "Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
#: ss -e lines: an IPv6 wildcard sshd that is dual-stack (v6only:0) on 22, and one that is not on 2222.
DUAL_STACK = SS_HEADER + (
    'tcp LISTEN 0 128 [::]:22 [::]:* users:(("sshd",pid=612,fd=4)) ino:1 sk:1 cgroup:/ v6only:0 <->\n'
    'tcp LISTEN 0 128 [::]:2222 [::]:* users:(("sshd",pid=612,fd=5)) ino:2 sk:2 cgroup:/ v6only:1 <->\n'
)


def records_of(text: str) -> tuple[Connection, ...]:
    result = parse_text(text)
    assert not result.issues
    return result.records


def check(policy_text: str, records: Sequence[Connection]) -> CheckReport:
    return evaluate(parse_policy(policy_text, "policy.toml"), records)


def listen(port: int, proto: str = "tcp", **keys: str) -> str:
    """A [[listen]] table."""
    extra = "".join(f'{key} = "{value}"\n' for key, value in keys.items())
    return f'[[listen]]\nport = {port}\nproto = "{proto}"\n{extra}'


def only(report: CheckReport) -> tuple[Status, str | None, list[str]]:
    """The one assertion's status, reason and evidence notes."""
    (assertion,) = report.assertions
    return assertion.status, assertion.reason, [e.note for e in assertion.evidence]


# ---- the classic example


def test_classic_netstat_plnt_has_one_failure_the_forbidden_mail_server() -> None:
    report = check(CLASSIC_POLICY, records_of(CLASSIC.read_text(encoding="utf-8")))
    assert [(a.kind, a.status) for a in report.assertions] == [
        ("listen", Status.PASS),
        ("listen", Status.PASS),
        ("listen", Status.PASS),
        ("forbid", Status.FAIL),
        ("count", Status.PASS),  # 4 listeners: 22 (IPv4 + IPv6), 80, 443, and 25 (127.0.0.1 + ::1)
    ]
    forbid = report.assertions[3]
    assert forbid.description == "tcp or udp port 25 is not listening"
    assert {(e.record.pid, e.record.program, e.record.local_port) for e in forbid.evidence} == {(1043, "exim4", 25)}
    assert forbid.line == 17
    assert (report.summary.tested, report.summary.passed, report.summary.failed, report.summary.errors) == (5, 4, 1, 0)
    assert exit_code(report) == report.exit_code == 1


# ---- live: real loopback listeners, one owned by a child process with a known name


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LoopbackSockets, tuple[Connection, ...]]]:
    if not sys.platform.startswith("linux"):
        pytest.skip("live collection with owners is tested on Linux")
    with open_loopback_sockets(tmp_path_factory.mktemp("probe")) as sockets:
        snapshot = asyncio.run(platform_source("auto").collect())
        yield sockets, snapshot.records


def test_live_listen_passes_for_the_probe_on_loopback(live: tuple[LoopbackSockets, tuple[Connection, ...]]) -> None:
    sockets, records = live
    me = pwd.getpwuid(os.geteuid()).pw_name
    rule = listen(sockets.child_port, bind="loopback", program=PROBE_NAME, user=me)
    status, _reason, _notes = only(check(rule, records))
    assert status is Status.PASS
    regex = listen(sockets.child_port, bind="127.0.0.1", program_regex="nettop-pro.*")
    (assertion,) = check(regex, records).assertions
    assert assertion.status is Status.PASS
    assert [e.record.pid for e in assertion.evidence] == [sockets.child.pid]
    assert assertion.description == f"tcp port {sockets.child_port} is listening on 127.0.0.1, owned by a program " \
        "matching 'nettop-pro.*'"  # fmt: skip


def test_live_listen_fails_with_the_wrong_owner_bind_or_user(
    live: tuple[LoopbackSockets, tuple[Connection, ...]],
) -> None:
    sockets, records = live
    status, reason, _notes = only(check(listen(sockets.child_port, program="sshd"), records))
    assert status is Status.FAIL
    assert reason == f"wrong owner: {sockets.child.pid}/{PROBE_NAME}, expected sshd"
    status, reason, _notes = only(check(listen(sockets.child_port, bind="any"), records))
    assert status is Status.FAIL and reason and reason.startswith("wrong bind: 127.0.0.1:")
    status, reason, _notes = only(check(listen(sockets.child_port, program=PROBE_NAME, user="nobody-else"), records))
    assert status is Status.FAIL and reason and reason.startswith("wrong user:")


def test_live_udp_listener_and_nothing_on_the_other_protocol(
    live: tuple[LoopbackSockets, tuple[Connection, ...]],
) -> None:
    sockets, records = live
    port = sockets.port(sockets.udp_bound)
    assert only(check(listen(port, "udp", bind="loopback"), records))[0] is Status.PASS
    status, reason, notes = only(check(listen(port, "tcp"), records))
    assert status is Status.FAIL
    assert reason == f"nothing listening on tcp port {port}"
    assert notes == ["udp, not tcp"]


def test_live_forbid(live: tuple[LoopbackSockets, tuple[Connection, ...]]) -> None:
    sockets, records = live
    (assertion,) = check(f"[[forbid]]\nport = {sockets.child_port}\nproto = 'tcp'\n", records).assertions
    assert assertion.status is Status.FAIL
    assert [(e.record.pid, e.record.program) for e in assertion.evidence] == [(sockets.child.pid, PROBE_NAME)]
    # The connected UDP socket has a peer, so it is not a listener.
    udp_connected = sockets.port(sockets.udp_connected)
    assert only(check(f"[[forbid]]\nport = {udp_connected}\nproto = 'udp'\n", records))[0] is Status.PASS


def test_live_count_max_and_only_listed(live: tuple[LoopbackSockets, tuple[Connection, ...]]) -> None:
    sockets, records = live
    groups = listener_groups(r for r in records if r.is_listener)
    found = len(groups)
    assert only(check(f"[listeners]\ncount = {found}\n", records))[0] is Status.PASS
    status, reason, _notes = only(check(f"[listeners]\ncount = {found + 1}\n", records))
    assert (status, reason) == (Status.FAIL, f"found {found} listeners")
    assert only(check(f"[listeners]\nmax = {found}\n", records))[0] is Status.PASS
    assert only(check(f"[listeners]\nmax = {found - 1}\n", records))[0] is Status.FAIL
    named = {(proto.value, port) for proto, port, _scope in groups}
    all_listed = "".join(listen(port, proto) for proto, port in sorted(named)) + "[listeners]\nonly_listed = true\n"
    assert check(all_listed, records).assertions[-1].status is Status.PASS
    missing_probe = "".join(listen(port, proto) for proto, port in sorted(named) if port != sockets.child_port)
    report = check(missing_probe + "[listeners]\nonly_listed = true\n", records)
    (unlisted,) = [a for a in report.assertions if a.kind == "only_listed"]
    assert unlisted.status is Status.FAIL
    assert unlisted.description == f"tcp port {sockets.child_port} listens only if listed"
    assert [e.record.pid for e in unlisted.evidence] == [sockets.child.pid]


def test_live_policy_init_loads_back_and_passes(
    live: tuple[LoopbackSockets, tuple[Connection, ...]], tmp_path: Path
) -> None:
    _sockets, records = live
    path = tmp_path / "policy.toml"
    path.write_text(policy_from_listeners(records), encoding="utf-8")
    report = evaluate(load_policy(path), records)
    assert report.summary.failed == 0 and report.summary.passed == report.summary.tested > 1
    assert f'program = "{PROBE_NAME}"' in path.read_text(encoding="utf-8")


# ---- recorded listings: the shared corpus


@pytest.fixture
def debian_ss(corpus: Path) -> tuple[Connection, ...]:
    return records_of((corpus / "debian12" / "ss-tunap.out").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        (listen(18091, program="worker-a"), Status.PASS),  # a socket shared by three processes: any owner counts
        (listen(18091, program="nginx"), Status.FAIL),
        (listen(18090, program_regex=r"my srv:x \\(1"), Status.PASS),
        (listen(18090, program_regex="my"), Status.FAIL),  # a full match, not a search
        (listen(18081, bind="loopback"), Status.PASS),  # [::1]
        (listen(18084, bind="loopback"), Status.PASS),  # [::ffff:127.0.0.1]
        (listen(18084, bind="127.0.0.1"), Status.PASS),
        (listen(18084, bind="any"), Status.FAIL),
        (listen(18086, bind="[2001:db8:1234:5678:9abc:def0:1234:5678]"), Status.PASS),
        (listen(18086, bind="loopback"), Status.FAIL),
        (listen(18082, "udp", bind="loopback"), Status.PASS),
        (listen(18082, "tcp"), Status.FAIL),
        ("[[forbid]]\nport = 8080\n", Status.FAIL),
        ("[[forbid]]\nport = 8080\nproto = 'udp'\n", Status.PASS),
        ("[listeners]\ncount = 18\n", Status.PASS),  # 18 distinct (proto, port, scope) in that listing
        ("[listeners]\nmax = 17\n", Status.FAIL),
    ],
)
def test_corpus_rules(debian_ss: tuple[Connection, ...], rule: str, status: Status) -> None:
    assert only(check(rule, debian_ss))[0] is status


def test_corpus_forbid_names_the_offender(debian_ss: tuple[Connection, ...]) -> None:
    status, reason, notes = only(check("[[forbid]]\nport = 8080\nproto = 'tcp'\n", debian_ss))
    assert (status, reason, notes) == (
        Status.FAIL,
        "1 socket listening on port 8080",
        ["listening, owned by 6696/python3"],
    )


def test_corpus_only_listed_fails_once_per_unlisted_port(debian_ss: tuple[Connection, ...]) -> None:
    named = "".join(listen(port) for port in (8080, *range(18081, 18097)) if port not in (18082, 18085, 18087))
    report = check(named + "[listeners]\nonly_listed = true\n", debian_ss)
    failed = [a.description for a in report.assertions if a.status is Status.FAIL]
    assert failed == [f"udp port {port} listens only if listed" for port in (18082, 18085, 18087, 18089)]


def test_corpus_user_unknown_in_a_capture_fails(debian_ss: tuple[Connection, ...]) -> None:
    status, reason, _notes = only(check(listen(8080, program="python3", user="root"), debian_ss))
    assert status is Status.FAIL
    assert reason == "owner's user unknown (the listing does not say), expected root"


@pytest.mark.parametrize("name", ["ss-tunap.out", "netstat-plnt.out", "ss-tunape.out", "netstat-tunaepW.out"])
def test_policy_init_from_corpus_loads_back_and_passes(corpus: Path, tmp_path: Path, name: str) -> None:
    records = parse_text((corpus / "debian12" / name).read_text(encoding="utf-8")).records
    path = tmp_path / "policy.toml"
    path.write_text(policy_from_listeners(records), encoding="utf-8")
    report = evaluate(load_policy(path), records)
    assert report.summary.failed == 0 and report.summary.tested > 1


# ---- owners unknown, dual-stack


def test_owner_unknown_is_a_failure_never_a_pass() -> None:
    hidden = records_of(SS_HEADER + "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n")
    status, reason, _notes = only(check(listen(22, program="sshd"), hidden))
    assert status is Status.FAIL and reason and reason.startswith(OWNER_UNKNOWN)
    denied = Connection(Proto.TCP, 4, "0.0.0.0", 22, None, None, State.LISTEN, (), OwnerStatus.NOT_PERMITTED)
    status, reason, _notes = only(check(listen(22, user="root"), [denied]))
    assert (status, reason) == (Status.FAIL, f"{OWNER_UNKNOWN}: not-permitted")
    assert only(check(listen(22), [denied]))[0] is Status.PASS  # no owner asked for: nothing to doubt


def test_dual_stack_wildcard_satisfies_an_ipv4_any_expectation() -> None:
    records = records_of(DUAL_STACK)
    (assertion,) = check(listen(22, bind="any", program="sshd"), records).assertions
    assert assertion.status is Status.PASS
    assert [e.note for e in assertion.evidence] == ["via dual-stack [::]:22"]
    assert only(check(listen(22, bind="0.0.0.0"), records))[0] is Status.PASS


def test_v6only_wildcard_does_not_satisfy_ipv4_but_satisfies_its_own_address() -> None:
    records = records_of(DUAL_STACK)
    status, reason, _notes = only(check(listen(2222, bind="any"), records))
    assert (status, reason) == (Status.FAIL, "wrong bind: [::]:2222 is IPv6 only (v6only)")
    assert only(check(listen(2222, bind="0.0.0.0"), records))[0] is Status.FAIL
    assert only(check(listen(2222, bind="::"), records))[0] is Status.PASS


def test_unknown_v6only_is_not_taken_for_dual_stack() -> None:
    records = records_of(CLASSIC.read_text(encoding="utf-8"))  # netstat: tcp6 :::80, v6only unknown
    status, reason, _notes = only(check(listen(80, bind="any"), records))
    assert status is Status.FAIL
    assert reason == "wrong bind: [::]:80 may not accept IPv4 (v6only unknown; ss -e shows it)"


def test_policy_init_keeps_the_dual_stack_distinction() -> None:
    records = records_of(DUAL_STACK)
    text = policy_from_listeners(records)
    assert 'port = 22\nproto = "tcp"\nbind = "any"' in text and 'port = 2222\nproto = "tcp"\nbind = "::"' in text
    assert evaluate(parse_policy(text, "init.toml"), records).summary.failed == 0


# ---- broken policies


@pytest.mark.parametrize(
    ("text", "line", "key", "problem"),
    [
        ('[[listen]]\nport = 22\nprot = "tcp"\n', 3, "listen[1].prot", "unknown key"),
        ('[[listen]]\nport = "22"\nproto = "tcp"\n', 2, "listen[1].port", 'expected an integer, found a string "22"'),
        ('[[listen]]\nport = 70000\nproto = "tcp"\n', 2, "listen[1].port", "70000 is not a port number"),
        ('[[listen]]\nport = true\nproto = "tcp"\n', 2, "listen[1].port", "expected an integer, found a boolean"),
        ('[[listen]]\nport = 22\nproto = "icmp"\n', 3, "listen[1].proto", "'icmp' is not a protocol"),
        ("[[listen]]\nport = 22\n", 1, "listen[1].proto", "missing"),
        ('[[listen]]\nport = 22\nproto = "tcp"\n\n[[listen]]\nport = 80\nproto = "tcp"\nbind = "nowhere"\n',
         8, "listen[2].bind", "is not an address"),
        ('[[listen]]\nport = 22\nproto = "tcp"\nprogram = "sshd"\nprogram_regex = "ssh.*"\n', 5,
         "listen[1].program_regex", "not both"),
        ('[[listen]]\nport = 22\nproto = "tcp"\nprogram_regex = "(ssh"\n', 4, "listen[1].program_regex",
         "invalid regular expression"),
        ("[[forbid]]\nport = 25\nproto = 'smtp'\n", 3, "forbid[1].proto", "is not a protocol"),
        ("[[forbid]]\nport = 0\n", 2, "forbid[1].port", "is not a port number"),
        ("[listeners]\ncount = 4\nmax = 4\n", 3, "listeners.max", "not both"),
        ("[listeners]\ncount = -1\n", 2, "listeners.count", "-1 is negative"),
        ("[listeners]\nonly_listed = 'yes'\n", 2, "listeners.only_listed", "expected true or false"),
        ("[[listn]]\nport = 22\n", 1, "listn", "unknown table or key"),
        ("[listen]\nport = 22\n", 1, "listen", "must be an array of tables"),
        ('[[listen]]\nport = 22\nproto = "tcp\n', 3, "proto", "TOML syntax error"),
    ],
)  # fmt: skip
def test_broken_policies_name_file_line_and_key(text: str, line: int, key: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    error = raised.value
    assert (error.path, error.line, error.key) == (str(path), line, key)
    assert str(error).startswith(f"{path}:{line}: {key}: ")
    assert problem in error.problem


def test_missing_policy_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy"):
        load_policy(tmp_path / "absent.toml")


def test_policy_is_read_into_rules() -> None:
    policy = parse_policy('[[listen]]\nport = 22\nproto = "TCP"\nbind = "[::1]"\nuser = "root"\n', "p.toml")
    assert policy.listen == (ListenRule(22, Proto.TCP, "::1", None, None, "root", line=1),)
    assert policy.forbid == () and policy.limits.count is None and not policy.limits.only_listed


# ---- report formats and exit codes


@pytest.fixture
def classic_report() -> CheckReport:
    return check(CLASSIC_POLICY, records_of(CLASSIC.read_text(encoding="utf-8")))


def test_text_report(classic_report: CheckReport) -> None:
    text = to_text(classic_report)
    assert "FAIL  tcp or udp port 25 is not listening\n      reason: 2 sockets listening on port 25\n" in text
    assert "      tcp4 127.0.0.1:25 LISTEN 1043/exim4: listening, owned by 1043/exim4\n" in text
    assert text.endswith("5 tested, 4 passed, 1 failed, 0 errors\n")


def test_json_report(classic_report: CheckReport) -> None:
    document = json.loads(to_json(classic_report))
    assert document["summary"] == {"tested": 5, "passed": 4, "failed": 1, "errors": 0}
    failed = [a for a in document["assertions"] if a["status"] == "FAIL"]
    assert [a["kind"] for a in failed] == ["forbid"]
    assert {(e["record"]["pid"], e["record"]["program"]) for e in failed[0]["evidence"]} == {(1043, "exim4")}


def test_junit_report(classic_report: CheckReport) -> None:
    root = ET.fromstring(to_junit(classic_report))
    suite = root.find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "1", "0")
    cases = suite.findall("testcase")
    failures = [(c.get("name"), c.find("failure")) for c in cases if c.find("failure") is not None]
    assert len(cases) == 5 and len(failures) == 1
    name, failure = failures[0]
    assert name == "tcp or udp port 25 is not listening"
    assert failure is not None and failure.get("message") == "2 sockets listening on port 25"
    assert "1043/exim4" in (failure.text or "")


def test_tap_report(classic_report: CheckReport) -> None:
    lines = to_tap(classic_report).splitlines()
    assert lines[:3] == ["TAP version 13", "1..5", "ok 1 - tcp port 22 is listening, owned by sshd"]
    at = lines.index("not ok 4 - tcp or udp port 25 is not listening")
    block = lines[at + 1 : lines.index("  ...", at) + 1]
    assert block[0] == "  ---" and block[1] == '  message: "2 sockets listening on port 25"'
    assert '    - "tcp4 127.0.0.1:25 LISTEN 1043/exim4: listening, owned by 1043/exim4"' in block
    assert lines[-1] == "# 5 tested, 4 passed, 1 failed, 0 errors"


def test_a_failed_collection_is_an_error_in_every_format(classic_report: CheckReport) -> None:
    broken = collection_failed(parse_policy(CLASSIC_POLICY, "p.toml"), "no socket listing could be read")
    assert exit_code(broken) == 2 and exit_code(None) == 2
    assert ET.fromstring(render(broken, "junit")).find("testsuite/testcase/error") is not None
    assert render(broken, "tap").splitlines()[2] == "not ok 1 - list the sockets"
    assert json.loads(render(broken, "json"))["summary"]["errors"] == 1
    passing = check(listen(22, program="sshd"), records_of(CLASSIC.read_text(encoding="utf-8")))
    assert exit_code(passing) == 0 and exit_code(classic_report) == 1


def test_check_modules_do_not_load_textual() -> None:
    assert (
        modules_loaded_by(
            "import nettop.policy.rules, nettop.policy.check, nettop.policy.report, nettop.policy.init", TEXTUAL_OR_RICH
        )
        == "[]"
    )


# ---- collecting and waiting


class ScriptedSource:
    """Returns the given listings in turn (the last one again and again), or raises for a None."""

    name = "scripted"

    def __init__(self, *texts: str | None) -> None:
        self._texts = list(texts)

    async def collect(self) -> Snapshot:
        text = self._texts.pop(0) if len(self._texts) > 1 else self._texts[0]
        if text is None:
            raise NettopError("no socket listing could be read: ss: command not found")
        result = parse_text(text)
        return Snapshot(result.records, 0.0, 0.0, "scripted", result.issues)


async def test_check_source_waits_for_a_listener_to_appear() -> None:
    policy = parse_policy(listen(22, program="sshd"), "p.toml")
    source = ScriptedSource(SS_HEADER, SS_HEADER, DUAL_STACK)
    report = await check_source(policy, source, wait=5.0, every=0.01)
    assert report.exit_code == 0 and report.source == "scripted"
    report = await check_source(policy, ScriptedSource(SS_HEADER), wait=0.05, every=0.01)
    assert report.exit_code == 1


async def test_check_source_reports_a_broken_listing_as_an_error() -> None:
    report = await check_source(parse_policy(listen(22), "p.toml"), ScriptedSource(None))
    assert report.exit_code == 2
    (assertion,) = report.assertions
    assert (assertion.kind, assertion.status) == ("collect", Status.ERROR)
    assert assertion.reason and "command not found" in assertion.reason


# ---- the command line


def run_nettop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nettop", *args], capture_output=True, text=True, timeout=60)


def test_cli_classic_example_exits_1_with_the_offending_row(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(CLASSIC_POLICY)
    done = run_nettop("check", str(policy), "--from-file", str(CLASSIC))
    assert done.returncode == 1, done.stderr
    fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and "25" in fails[0]
    assert "1043/exim4" in done.stdout and done.stdout.rstrip().endswith("1 failed, 0 errors")
    junit = ET.fromstring(run_nettop("check", str(policy), "--from-file", str(CLASSIC), "--format", "junit").stdout)
    assert len(junit.findall(".//failure")) == 1
    report = json.loads(run_nettop("check", str(policy), "--from-file", str(CLASSIC), "--format", "json").stdout)
    assert report["summary"]["failed"] == 1


def test_cli_broken_policy_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    policy = tmp_path / "bad.toml"
    policy.write_text('[[listen]]\nport = 22\nproto = "tcp"\nprot = "udp"\n')
    done = run_nettop("check", str(policy), "--from-file", str(CLASSIC))
    assert done.returncode == 2 and f"{policy}:4" in done.stderr and "prot" in done.stderr
    assert "Traceback" not in done.stderr
    missing = run_nettop("check", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "No such file or directory" in missing.stderr


def test_cli_policy_init_round_trip_on_the_live_machine(tmp_path: Path) -> None:
    # One capture for both steps: live listeners (other tests' children) may come and go in between.
    capture = tmp_path / "ss.out"
    capture.write_text(subprocess.run(["ss", "-tunap"], capture_output=True, text=True, check=True).stdout)
    policy = tmp_path / "policy.toml"
    init = run_nettop("policy", "init", "--from-file", str(capture))
    assert init.returncode == 0 and "[listeners]" in init.stdout
    policy.write_text(init.stdout)
    done = run_nettop("check", str(policy), "--from-file", str(capture))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failed, 0 errors" in done.stdout


# --- Regressions from the input review: every policy is a Policy or a PolicyError, read in bounded time and space --


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a = " + "[" * 10_000 + "\n", "arrays or inline tables nested too deeply"),
        ("[[listen]]\nport = " + "{a = " * 10_000 + "\n", "arrays or inline tables nested too deeply"),
        ("[[listen]]\nport = " + "[{a = " * 60 + "1" + "}]" * 60 + '\nproto = "tcp"\n',
         "expected an integer, found an array of 1 item"),
        ("[[listen]]\nport = 1" + "0" * 5000 + "\n", "TOML value that cannot be read: Exceeds the limit (4300 digits)"),
        ('[[listen]]\nport = 22\nproto = "tcp"\nprogram_regex = "a{4294967296}"\n',
         "invalid regular expression: the repetition number is too large"),
        ('[[listen]]\nport = 22\nproto = "tcp"\nprogram_regex = "' + "(" * 5000 + ")" * 5000 + '"\n',
         "invalid regular expression: groups nested too deeply"),
    ],
    ids=["deep-array", "deep-inline-table", "nested-but-readable", "huge-integer", "huge-repeat", "deep-regex"],
)  # fmt: skip
def test_deep_or_huge_toml_is_a_policy_error_naming_the_file(text: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert str(raised.value).startswith(f"{path}")
    assert problem in raised.value.problem


def test_policy_bytes_not_utf8_name_their_line_and_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[[listen]]\nport = 22\nproto = "tcp"\nuser = "j\xf6rg"\n')
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert str(raised.value) == f"{path}:4: not UTF-8 text (byte 0xf6)"
    path.write_bytes(b'\xef\xbb\xbf[[listen]]\nport = 22\nproto = "tcp"\n')
    assert load_policy(path).listen[0].port == 22


def test_policy_lines_are_counted_as_toml_counts_them() -> None:
    """A line separator, NEL or form feed in a comment is no line break to TOML; it was one to splitlines."""
    text = '# a \u2028 b \x85 c\n[[listen]]\nport = 22\nproto = "tcp"\nprot = "udp"\n'
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, "p.toml")
    assert (raised.value.line, raised.value.key) == (5, "listen[1].prot")
    assert parse_policy(text.replace('prot = "udp"\n', ""), "p.toml").listen[0].line == 2


def test_policy_errors_quote_values_cut_short_and_escaped() -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(f'[[listen]]\nport = 22\nproto = "\\u001b]0;owned\\u0007{"x" * 300}"\n', "p.toml")
    message = str(raised.value)
    assert "\x1b" not in message and "\\x1b]0;owned\\x07xxx" in message and "x" * 101 not in message
    with pytest.raises(PolicyError) as raised:
        parse_policy('[[listen]]\nport = 22\nproto = "tcp"\n"\\u001b[2J" = 1\n', "p.toml")
    assert raised.value.key == "listen[1].\x1b[2J" and "\x1b" not in str(raised.value)


def test_policy_of_twenty_thousand_rules_finds_a_late_error_on_its_line() -> None:
    text = "".join(f'[[listen]]\nport = {1 + i % 65535}\nproto = "tcp"\n' for i in range(20_000))
    start = time.process_time()
    with pytest.raises(PolicyError) as raised:
        parse_policy(text + 'bind = "nowhere"\n', "p.toml")
    assert (raised.value.line, raised.value.key) == (60_001, "listen[20000].bind")
    assert time.process_time() - start < 10, "20,000 tables took 21 s when each look-up rescanned every header"


def test_cli_check_refuses_an_endless_policy_and_a_deep_one(tmp_path: Path) -> None:
    endless = run_nettop("check", "/dev/zero", "--from-file", str(CLASSIC))
    assert endless.returncode == 2 and "Traceback" not in endless.stderr
    assert endless.stderr == "nettop check: /dev/zero: larger than 16 MiB; nettop reads at most 16 MiB of a policy\n"
    deep = tmp_path / "deep.toml"
    deep.write_text("listen = " + "[" * 10_000 + "\n")
    done = run_nettop("check", str(deep), "--from-file", str(CLASSIC))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == f"nettop check: {deep}: arrays or inline tables nested too deeply\n"


def test_a_listen_rule_may_name_the_owners_systemd_unit() -> None:
    from nettop.model import Owner, OwnerStatus

    ssh, docker = classify("/system.slice/ssh.service"), classify("/system.slice/docker-" + "ab" * 32 + ".scope")
    sshd = conn(22, name="sshd")._replace(owners=(Owner(1, "sshd", "root", placement=ssh),))
    boxed = conn(8080, name="app")._replace(owners=(Owner(2, "app", placement=docker),))
    assert sshd.owner_status is boxed.owner_status is OwnerStatus.KNOWN
    assert only(check(listen(22, unit="ssh.service"), [sshd]))[0] is Status.PASS
    assert only(check(listen(22, program="sshd", unit="ssh.service"), [sshd]))[0] is Status.PASS
    status, reason, _ = only(check(listen(22, unit="sshd.service"), [sshd]))
    assert (status, reason) == (Status.FAIL, "wrong unit: ssh.service, expected sshd.service")
    status, reason, _ = only(check(listen(8080, unit="web.service"), [boxed]))
    assert (status, reason) == (Status.FAIL, "wrong unit: docker-" + "ab" * 32 + ".scope, expected web.service")
    assert check(listen(22, unit="ssh.service"), [sshd]).assertions[0].description == (
        "tcp port 22 is listening, in ssh.service"
    )
