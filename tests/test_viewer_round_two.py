"""The viewer's second round of fixes (issue 16): what a user saw wrong, driven with Textual's pilot."""

from __future__ import annotations

from textual.widgets import Log

from nettop.app import EVENT_LOG_LINES, NettopApp
from tests.scripted import FakeClock, ScriptedSource, conn
from tests.test_app import BASE, settle


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
