"""What the viewer looks like, compared with saved SVGs (pytest-textual-snapshot).

The data are scripted and the clock frozen, so a difference is a change of the UI. After a deliberate
change, look at the report, then run ``pytest tests/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from textual.pilot import Pilot

from nettop.app import NettopApp
from tests.demo_data import demo_records
from tests.scripted import FakeClock, ScriptedSource


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Times on screen are local times: pin the zone so the pictures match on any machine."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


def demo_app() -> NettopApp:
    clock = FakeClock()
    return NettopApp(ScriptedSource([demo_records()], clock), interval=60, clock=clock)


async def first_snapshot(pilot: Pilot) -> None:  # type: ignore[type-arg]
    source = pilot.app.source  # type: ignore[attr-defined]
    while source.collected < 1:
        await pilot.pause(0.01)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 35), (200, 50)])
def test_main_screen(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(demo_app(), terminal_size=size, run_before=first_snapshot)


def test_filter_bar_with_a_query(snap_compare) -> None:  # type: ignore[no-untyped-def]
    keys = ["slash", *"port:443", "space", *"-state:listen"]
    assert snap_compare(demo_app(), terminal_size=(120, 35), run_before=first_snapshot, press=keys)


def test_filter_bar_with_a_malformed_query(snap_compare) -> None:  # type: ignore[no-untyped-def]
    keys = ["slash", *"prot:udp"]
    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=first_snapshot, press=keys)


def test_details(snap_compare) -> None:  # type: ignore[no-untyped-def]
    keys = ["down", "down", "down", "enter"]
    assert snap_compare(demo_app(), terminal_size=(120, 35), run_before=first_snapshot, press=keys)


def test_kill_dialog(snap_compare) -> None:  # type: ignore[no-untyped-def]
    keys = [*["down"] * 8, "k"]  # an nginx worker with five connections
    assert snap_compare(demo_app(), terminal_size=(120, 35), run_before=first_snapshot, press=keys)


def test_help(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(demo_app(), terminal_size=(100, 40), run_before=first_snapshot, press=["question_mark"])


def test_the_readme_screenshots_show_the_current_ui() -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "screenshots" / "make.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
