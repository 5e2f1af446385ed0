"""Several remote hosts as one source: a host that fails keeps its last rows, marked stale, and the others go on;
the viewer shows a Host column, filters by ``host:``, and says which host is stale."""

from __future__ import annotations

import asyncio
import json

import pytest

from nettop.app import NettopApp
from nettop.errors import NettopError
from nettop.model import Connection, Snapshot
from nettop.sources.hosts import HostsSource
from nettop.sources.remote import RemoteError
from nettop.widgets.conn_table import ConnectionTable
from tests.scripted import FakeClock, conn


class ScriptedHost:
    """A remote host's source, scripted: records (tagged with the host) or an error, one per refresh."""

    def __init__(self, host: str, script: list[list[Connection] | NettopError]) -> None:
        self.host, self.script, self.collected, self.closed = host, script, 0, False

    async def collect(self) -> Snapshot:
        item = self.script[min(self.collected, len(self.script) - 1)]
        self.collected += 1
        if isinstance(item, NettopError):
            raise item
        return Snapshot(tuple(r._replace(host=self.host) for r in item), 1.8e9, 0.01, f"ssh:{self.host} (proc-net)")

    async def close(self) -> None:
        self.closed = True

    def shutdown(self) -> None:
        self.closed = True


WEB = [conn(22, name="sshd"), conn(443, name="nginx")]
DB = [conn(22, name="sshd"), conn(5432, name="postgres")]
HUNG = RemoteError("db: no answer in 10 s")
GONE = RemoteError("gone: no answer in 10 s")


def test_a_failing_host_keeps_its_last_rows_marked_and_the_others_go_on() -> None:
    web, db = ScriptedHost("web", [WEB, [*WEB, conn(8080, name="dev")]]), ScriptedHost("db", [DB, HUNG, DB])
    hosts = HostsSource([web, db])  # type: ignore[list-item]
    first = asyncio.run(hosts.collect())
    assert sorted((r.host, r.local_port) for r in first.records) == [("db", 22), ("db", 5432), ("web", 22),
                                                                     ("web", 443)]  # fmt: skip
    assert first.stale == () and hosts.name == "ssh:web,db"
    second = asyncio.run(hosts.collect())
    assert second.stale == ("db",)
    assert sorted((r.host, r.local_port) for r in second.records if r.host == "db") == [("db", 22), ("db", 5432)]
    assert ("web", 8080) in [(r.host, r.local_port) for r in second.records], "web went on"
    (said,) = [note for note in second.notes if note.startswith("db: ")]
    assert said.startswith("db: STALE since ") and said.endswith(": no answer in 10 s")
    third = asyncio.run(hosts.collect())
    assert third.stale == () and not [n for n in third.notes if n.startswith("db: ")], "answering again: fresh"


def test_a_host_failing_from_the_start_is_said_and_every_host_failing_fails() -> None:
    web, db = ScriptedHost("web", [WEB]), ScriptedHost("db", [HUNG])
    snapshot = asyncio.run(HostsSource([web, db]).collect())  # type: ignore[list-item]
    assert snapshot.stale == ("db",) and "db: no answer in 10 s" in snapshot.notes
    assert {r.host for r in snapshot.records} == {"web"}
    down = HostsSource([ScriptedHost("web", [RemoteError("web: refused")]), ScriptedHost("db", [HUNG])])  # type: ignore[list-item]
    with pytest.raises(NettopError, match=r"no host answered: web: refused; db: no answer in 10 s"):
        asyncio.run(down.collect())


async def test_the_viewer_has_a_host_column_a_host_filter_and_says_which_host_is_stale() -> None:
    clock = FakeClock()
    web, db = ScriptedHost("web", [WEB]), ScriptedHost("db", [DB, HUNG])
    app = NettopApp(HostsSource([web, db]), interval=60, clock=clock)  # type: ignore[list-item]
    async with app.run_test(size=(120, 30)) as pilot:
        while app.snapshot is None:
            await pilot.pause(0.01)
        await pilot.pause()
        table = app.query_one(ConnectionTable)
        assert table.render_line(0).text.startswith("Host ")
        assert {table.render_line(y).text.split()[0] for y in range(1, 5)} == {"web", "db"}
        await pilot.press("slash", *"host:db", "enter")
        await pilot.pause()
        assert {row.record.host for _, row in (table.entry(i) for i in range(table.row_count))} == {"db"}
        app.refresh_now()
        while db.collected < 2:
            await pilot.pause(0.01)
        await pilot.pause(0.05)
        assert app.model.stale_hosts == {"db"}
        status = str(app.query_one("#status").render())
        assert "db: STALE since" in status and "no answer in 10 s" in status
        strip = table.render_line(1)
        assert any(segment.style is not None and segment.style.italic for segment in strip), "a stale row looks old"


def test_check_judges_each_host_on_its_own_and_reports_each() -> None:
    from nettop.policy.check import check_hosts, worst_exit_code
    from nettop.policy.report import to_json, to_junit, to_tap, to_text
    from nettop.policy.rules import parse_policy

    policy = parse_policy('[[listen]]\nport = 443\nproto = "tcp"\n', "web.toml")
    web, db, gone = ScriptedHost("web", [WEB]), ScriptedHost("db", [DB]), ScriptedHost("gone", [GONE])
    reports = asyncio.run(check_hosts(policy, HostsSource([web, db, gone])))  # type: ignore[list-item]
    assert [(r.host, r.exit_code) for r in reports] == [("web", 0), ("db", 1), ("gone", 2)]
    assert worst_exit_code(reports) == 2 and worst_exit_code(reports[:2]) == 1 and worst_exit_code(reports[:1]) == 0
    assert reports[2].assertions[0].reason == "no answer in 10 s"
    junit = to_junit(reports)
    assert junit.count("<testsuite ") == 3 and 'name="nettop check web.toml on db"' in junit
    assert '<property name="host" value="gone" />' in junit
    assert "not ok 2 - db: tcp port 443 is listening" in to_tap(reports).replace("\\", "")
    assert to_text(reports).endswith("3 hosts: 1 passed, 1 failed, 1 could not be checked\n")
    data = json.loads(to_json(reports))
    assert [h["host"] for h in data["hosts"]] == ["web", "db", "gone"]
    assert data["summary"] == {"hosts": 3, "passed": 1, "failed": 1, "errors": 1}


async def test_a_remote_hosts_process_is_never_signalled_here() -> None:
    web = ScriptedHost("web", [[conn(22, name="sshd", pid=1)]])  # pid 1 there; here, this machine's init
    app = NettopApp(HostsSource([web]), interval=60, clock=FakeClock())  # type: ignore[list-item]
    async with app.run_test(size=(120, 30)) as pilot:
        while app.snapshot is None:
            await pilot.pause(0.01)
        await pilot.pause()
        await pilot.press("k")
        assert [n.message for n in app._notifications] == [
            "Remote hosts' processes are not signalled from here (use ssh)."
        ]
        assert app.screen is app.screen_stack[0], "no kill dialog"


async def test_the_process_view_keeps_two_hosts_processes_apart() -> None:
    from nettop.widgets.process_table import ProcessTable

    sshd = [conn(22, name="sshd", pid=700), conn(22, 50000, remote_ip="10.0.0.9", name="sshd", pid=700)]
    app = NettopApp(HostsSource([ScriptedHost("web", [sshd]), ScriptedHost("db", [sshd])]), interval=60,  # type: ignore[list-item]
                    clock=FakeClock())  # fmt: skip
    async with app.run_test(size=(120, 30)) as pilot:
        while app.snapshot is None:
            await pilot.pause(0.01)
        await pilot.pause()
        await pilot.press("p")
        view = app.query_one(ProcessTable)
        lines = [view.render_line(y).text for y in range(1, len(view.rows) + 1)]
        assert sorted(line.split()[1:4] for line in lines) == [["sshd", "on", "db"], ["sshd", "on", "web"]], lines


class HangingHost(ScriptedHost):
    """A host whose refresh does not answer until released."""

    def __init__(self, host: str, records: list[Connection]) -> None:
        super().__init__(host, [records])
        self.release = asyncio.Event()

    async def collect(self) -> Snapshot:
        await self.release.wait()
        return await super().collect()


def test_a_live_view_is_not_held_to_a_slow_hosts_pace() -> None:
    async def run() -> None:
        web, db = ScriptedHost("web", [WEB, [*WEB, conn(8080, name="dev")]]), HangingHost("db", DB)
        late = HostsSource([ScriptedHost("web", [WEB]), HangingHost("db", DB)], patience=0.05)  # type: ignore[list-item]
        shown = await late.collect()
        assert shown.stale == () and shown.notes == (), "late by less than the grace: not said stale yet"
        await late.close()
        hosts = HostsSource([web, db], patience=0.05, grace=0.0)  # type: ignore[list-item]
        first = await hosts.collect()
        assert {r.host for r in first.records} == {"web"} and first.stale == ("db",)
        assert [n for n in first.notes if n.startswith("db: ")] == ["db: no answer for 0 s yet"]
        second = await hosts.collect()  # web refreshed again; db still under way, its one refresh not restarted
        assert ("web", 8080) in [(r.host, r.local_port) for r in second.records] and db.collected == 0
        db.release.set()
        await asyncio.sleep(0)
        third = await hosts.collect()
        assert {r.host for r in third.records} == {"web", "db"} and third.stale == ()
        await hosts.close()

    asyncio.run(run())
