"""The viewer's second round of fixes (issue 16): what a user saw wrong, driven with Textual's pilot."""

from __future__ import annotations

import pytest
from textual.content import Content
from textual.widgets import Log

from nettop.app import EVENT_LOG_LINES, NettopApp
from nettop.cli import main
from nettop.model import OwnerStatus
from nettop.screens.help import HelpScreen
from nettop.screens.kill import KillScreen
from nettop.summary import fit
from nettop.widgets.conn_table import ConnectionTable
from tests.scripted import FakeClock, ScriptedSource, conn
from tests.test_app import BASE, HangingSource, settle, shown


def make(script, **kwargs) -> tuple[NettopApp, ScriptedSource, FakeClock]:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    source = ScriptedSource(script, clock)
    return NettopApp(source, interval=60, clock=clock, **kwargs), source, clock


def screen_lines(app: NettopApp) -> list[str]:
    """What the terminal shows now: the compositor's lines, as the widgets last painted them."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_a_full_event_log_still_shows_the_newest_line() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("e")
        log = app.query_one("#events", Log)
        written = 0
        for _ in range(15):  # 1,500 lines, a hundred a refresh: the log is full after ten
            app.log_lines([f"event number {written + n:04d}" for n in range(100)])
            written += 100
            await pilot.pause()
        assert log.line_count == EVENT_LOG_LINES and log.lines[-1] == "event number 1499"
        screen = "\n".join(screen_lines(app))
        assert "event number 1499" in screen, screen
        assert "event number 1399" not in screen, "the log shows the newest lines, not those of when it filled"


async def test_plus_and_minus_walk_a_ladder_that_comes_back() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        assert app.interval == 60
        went = []
        for _ in range(9):
            await pilot.press("minus")
            went.append(app.interval)
        assert went == [30, 15, 10, 5, 3, 2, 1, 0.5, 0.5]
        went = []
        for _ in range(9):
            await pilot.press("plus")
            went.append(app.interval)
        assert went == [1, 2, 3, 5, 10, 15, 30, 60, 60]
        await pilot.press("minus", "minus", "minus", "minus", "minus", "minus")
        assert app.interval == 2 and "every 2s" in str(app.query_one("#summary").render())


@pytest.mark.parametrize(("start", "up", "down"), [(2.5, 3, 2), (0.7, 1, 0.5), (45, 60, 30), (60, 60, 30)])
async def test_an_interval_off_the_ladder_moves_to_the_next_step(start: float, up: float, down: float) -> None:
    app, source, _ = make([BASE])
    app.set_reactive(NettopApp.interval, start)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("plus")
        assert app.interval == up
        app.interval = start
        await pilot.press("minus")
        assert app.interval == down


@pytest.mark.parametrize("interval", ["0.1", "100", "nan"])
def test_an_interval_off_the_viewers_range_is_a_usage_error(interval: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--interval", interval])
    assert stop.value.code == 2
    assert f"argument --interval: '{interval}': give from 0.5 to 60 seconds" in capsys.readouterr().err


@pytest.mark.parametrize("in_filter", [False, True])
async def test_ctrl_c_quits_even_in_the_filter(in_filter: bool) -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, source, 1)
        if in_filter:
            await pilot.press("slash", "n", "g")
            assert app.focused is app.query_one("#filter-input")
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running


async def test_htops_function_keys() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "f6")
        assert app.sort_column == "pid"
        await pilot.press("f3")
        assert app.focused is app.query_one("#filter-input")
        await pilot.press("escape", "f4")
        assert app.focused is app.query_one("#filter-input")
        await pilot.press("escape", "f9")
        assert isinstance(app.screen, KillScreen)
        await pilot.press("escape", "f10")
        await pilot.pause()
        assert not app.is_running


async def type_text(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*("space" if char == " " else char for char in text))


async def test_a_long_filter_error_goes_below_what_was_typed_at_80_columns() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("slash")
        await type_text(pilot, "port:443 -stat:x")  # unknown term: the message lists every term there is
        await pilot.pause()
        lines = screen_lines(app)
        (row,) = [i for i, line in enumerate(lines) if "Filter:" in line]
        assert "Filter: port:443 -stat:x " in lines[row], "what was typed stays whole"
        assert lines[row + 1].strip().startswith("✗ unknown filter 'stat'")
        assert lines[row + 1].rstrip().endswith("· in effect: port:443")
        assert app.query_one("#filter-bar").size.height == 3, "the message wraps to a second line at most"
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace")
        await pilot.pause()
        lines = screen_lines(app)
        assert not any("✗" in line for line in lines), "valid again: the bar is one line"
        assert app.query_one("#filter-bar").size.height == 1


async def test_a_half_typed_term_is_not_left_applied_and_the_filter_in_effect_is_said() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("slash")
        await type_text(pilot, "port")
        assert app.query_filter.text == "port" and shown(app) == [], "free text as it is typed, like htop's"
        await type_text(pilot, ":abc")
        assert app.query_filter.is_empty and len(shown(app)) == len(BASE), "not a search for the word 'port'"
        assert "· in effect: none" in "\n".join(screen_lines(app))
        await pilot.press("ctrl+a")
        await type_text(pilot, "prog:nginx ")
        assert app.query_filter.text.strip() == "prog:nginx" and len(shown(app)) == 2
        assert "· in effect: prog:nginx" in "\n".join(screen_lines(app))
        await pilot.press("enter")
        assert app.query_one("#filter-bar").display, "closed while invalid: still said"


def summary_text(app: NettopApp) -> str:
    return app.query_one("#summary").render().plain  # type: ignore[union-attr]


def status_text(app: NettopApp) -> str:
    return app.query_one("#status").render().plain  # type: ignore[union-attr]


@pytest.mark.parametrize("width", [80, 200])
async def test_the_top_line_leaves_out_whole_parts_and_says_the_toggles(width: int) -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("l", "t")
        line = summary_text(app)
        assert len(line) <= width - 2 and not line.rstrip().endswith("│"), "whole parts, no dangling separator"
        parts = line.split(" │ ")
        assert parts[:2] == ["3/5 shown", "is:listening proto:tcp"], "the toggles, after the count"
        assert "08:00:00" in parts[2]
        if width == 200:  # everything, each part in its long form
            assert parts[2:] == [
                "scripted 08:00:00 in 12ms",
                "4 listening (3 tcp, 1 udp)",
                "every 60s",
                "LISTEN:3 ESTABLISHED:1 UNCONNECTED:1",
                "tcp:4 udp:1",
            ]
        else:  # the least important left out, others in short forms: still no bare "listen" beside "LISTEN:"
            assert parts[2:] == ["08:00:00", "4 listening (3 tcp, 1 udp)"]


async def test_a_sort_by_a_column_off_screen_is_said_in_the_top_line() -> None:
    app, source, _ = make([BASE])
    async with app.run_test(size=(200, 24)) as pilot:
        await settle(pilot, app, source, 1)
        app.sort_column, app.sort_reverse = "user", True
        await pilot.pause()
        assert "sort:" not in summary_text(app), "the header says it"
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.pause()
        assert "user" not in app.query_one(ConnectionTable).shown_column_keys()
        assert summary_text(app).split(" │ ")[1] == "sort: User ▼"
        app.sort_column = "rport"
        await pilot.press("r")
        assert "sort:" not in summary_text(app), "the remote port is on screen again"


async def test_the_status_line_leaves_out_notes_rather_than_wrap_at_80_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("nettop.app.os.geteuid", lambda: 1000)
    hidden = conn(631, pid=None)._replace(owner_status=OwnerStatus.NOT_PERMITTED)
    app, source, _ = make([[*BASE, hidden]])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, source, 1)
        assert "1 socket without owner: not root (sudo nettop shows them)" in status_text(app)
        await pilot.press("b", "space")
        status = status_text(app)
        assert status.startswith("PAUSED") and "BASELINE 08:00:00" in status, status
        assert "without owner" not in status, "the least important note goes"
        assert app.query_one("#status").size.height == 1
        await pilot.resize_terminal(200, 24)
        await pilot.pause()
        await pilot.pause()
        assert "1 socket without owner" in status_text(app), "room again: said again"


async def test_a_hung_collection_marks_the_data_old_in_the_top_line_at_80_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("nettop.app.SLOW_COLLECTION_NOTICE", 0.2)
    clock = FakeClock()
    source = HangingSource([BASE], clock)
    app = NettopApp(source, interval=60, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, source, 2)  # the second collection hangs
        assert summary_text(app).split(" │ ")[1] == "08:00:00", "fresh: the time alone"
        clock.now += 130  # more than two intervals
        for _ in range(100):  # the once-a-second tick says it: wait for it, not for a time
            if "ago" in summary_text(app) and "collecting for" in status_text(app):
                break
            await pilot.pause(0.05)
        assert summary_text(app).split(" │ ")[1] == "scripted 08:00:00 (2 min ago)"
        assert status_text(app).startswith("collecting for ")
        source.release.set()
        for _ in range(100):
            if "STALE" in status_text(app):
                break
            await pilot.pause(0.05)
        assert status_text(app).startswith("STALE since 08:00:00: ") and "killed after the timeout" in status_text(app)
        assert "(2 min ago)" in summary_text(app), "still the old rows"


def test_fit_leaves_out_whole_parts_then_lengthens_what_is_kept() -> None:
    parts = [[Content("12/40 shown")], [Content("a long form of it"), Content("short")], [Content("x" * 30)], []]
    assert fit(parts, 80, " │ ").plain == f"12/40 shown │ a long form of it │ {'x' * 30}"
    assert fit(parts, 40, " │ ").plain == "12/40 shown │ a long form of it", "the part that does not fit goes whole"
    assert fit(parts, 30, " │ ").plain == "12/40 shown │ short"
    assert fit(parts, 5, " │ ").plain == "12/40 shown", "the first stays, for the line to crop"
