"""The viewer's second round of fixes (issue 16): what a user saw wrong, driven with Textual's pilot."""

from __future__ import annotations

import pytest
from textual.widgets import Log

from nettop.app import EVENT_LOG_LINES, NettopApp
from nettop.cli import main
from nettop.screens.confirm import ConfirmScreen
from nettop.screens.help import HelpScreen
from tests.scripted import FakeClock, ScriptedSource
from tests.test_app import BASE, settle, shown


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
        assert app.sort_column == "local"
        await pilot.press("f3")
        assert app.focused is app.query_one("#filter-input")
        await pilot.press("escape", "f4")
        assert app.focused is app.query_one("#filter-input")
        await pilot.press("escape", "f9")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n", "f10")
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
