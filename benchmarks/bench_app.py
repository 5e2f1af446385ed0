"""Measure the live viewer under load: CPU share, key-to-repaint latency, resident memory.

    python3 benchmarks/bench_app.py                 # N = 1,000 and 10,000 connections
    python3 benchmarks/bench_app.py --n 5000 --seconds 30
    python3 benchmarks/bench_app.py --n 10000 --view processes   # the same, with the process view open

Child processes hold N loopback connections and replace 1 % of them every second. The viewer runs
headless in this process with the real source at a 1 s interval, at 200x50. It measures:

- CPU: while nobody touches it, this process's user+system time over wall time (the viewer: UI,
  parsing, /proc scan, diff), and separately the CPU of the `ss` children it ran;
- key latency: then, for as long again, a cursor or sort key is sent every 150 ms, as the terminal
  driver would; the time from sending it until the app writes the first frame showing its effect;
- memory: this process's resident set size at the end.

With ``--view processes`` (or ``hosts``) the process view (``p``) is opened after the warm-up, then measured the
same way: its groups follow every tick, and the keys move its cursor and change its sort. ``--expand`` also expands
its first row (in the host view it always is: every loopback connection has one peer, 127.0.0.1), so that the
view draws that group's sockets, thousands of rows.

Goals at 10,000 connections: CPU at most 20 % of one core, key p95 under 100 ms, RSS under 150 MB; at 30,000
(issue 15, traffic columns on): 25 %, 100 ms, 250 MB. Each N runs in a network namespace of its own (root).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import psutil
from rich.console import RenderableType
from textual import events
from textual.screen import Screen

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_sources import own_network_namespace
from loopback import loopback_connections

from nettop.app import NettopApp
from nettop.sources import platform_source
from nettop.widgets.conn_table import ConnectionTable
from nettop.widgets.process_table import ProcessTable

KEYS = ["down", "up", "s", "down", "up", "r"]  # each one always changes what is on screen
DEBUG = os.environ.get("NETTOP_BENCH_DEBUG") == "1"
GOALS = {"cpu": 20.0, "p95": 100.0, "rss": 150.0}
#: Issue 15's, at 30,000 connections with the traffic columns on (they are at 200 columns, from netlink).
GOALS_30K = {"cpu": 25.0, "p95": 100.0, "rss": 250.0}


class FrameClock:
    """Records when the app writes each frame to its (headless) driver, and what the frame showed."""

    def __init__(self, app: NettopApp) -> None:
        self.frames: list[tuple[float, tuple[object, ...]]] = []
        self.app = app
        display = app._display

        def recorded(screen: Screen, renderable: RenderableType | None) -> None:
            display(screen, renderable)
            self.frames.append((time.perf_counter(), self.state()))

        app._display = recorded  # type: ignore[method-assign]

    def state(self) -> tuple[object, ...]:
        """What the keys below change: the cursor row, the sort column, the direction (of the process view when it
        is open)."""
        processes = self.app.query_one(ProcessTable)
        if processes.is_open:
            return (processes.cursor_row, processes.mode, *processes.sorts[processes.mode])
        table = self.app.query_one(ConnectionTable)
        return (table.cursor_row, self.app.sort_column, self.app.sort_reverse)


def moving(app: NettopApp, key: str) -> str:
    """``key``, or the other arrow where it would not move the cursor: the process view has a few rows, and its
    cursor follows its process through a re-sort, to the last row at times (a key that changes nothing would be
    timed out, not measured)."""
    processes = app.query_one(ProcessTable)
    row, last = (
        (processes.cursor_row, len(processes.rows) - 1)
        if processes.is_open
        else (app.query_one(ConnectionTable).cursor_row, app.query_one(ConnectionTable).row_count - 1)
    )
    if key == "down" and row >= last:
        return "up"
    if key == "up" and row <= 0:
        return "down"
    return key


async def key_to_repaint(app: NettopApp, frames: FrameClock, key: str) -> float:
    """Send a key as the terminal would; return ms until the app wrote the first frame that shows its effect."""
    before = frames.state()
    seen = len(frames.frames)
    sent = time.perf_counter()
    assert app._driver is not None
    app._driver.send_message(events.Key(key, None))
    while time.perf_counter() - sent < 10:
        shown = next((t for t, state in frames.frames[seen:] if state != before), None)
        if shown is not None:
            break
        await asyncio.sleep(0.001)
    else:
        shown = time.perf_counter()
    if DEBUG:
        print(f"{key:>5}: {1000 * (shown - sent):6.1f} ms")
    return (shown - sent) * 1000


def cpu_share(before: os.times_result, after: os.times_result, elapsed: float) -> tuple[float, float]:
    """This process's and its children's CPU over ``elapsed`` wall seconds, in % of one core."""
    own = (after.user - before.user) + (after.system - before.system)
    children = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return 100 * own / elapsed, 100 * children / elapsed


async def run_viewer(
    seconds: float, warmup: float, source: str = "auto", view: str = "table", expand: bool = False
) -> dict[str, float]:
    """First ``seconds`` untouched (the CPU share of watching), then ``seconds`` of keys (their latency); in
    ``view`` (``table``, ``processes``, ``hosts``)."""
    app = NettopApp(platform_source(source), interval=1.0)
    frames = FrameClock(app)
    latencies: list[float] = []
    async with app.run_test(size=(200, 50)) as pilot:
        deadline = time.monotonic() + 120
        while app.snapshot is None and time.monotonic() < deadline:
            await pilot.pause(0.1)
        await pilot.pause(warmup)
        if view != "table":
            await pilot.press(
                "p", *(["h"] if view == "hosts" else []), *(["enter"] if expand or view == "hosts" else [])
            )
            await pilot.pause(warmup)
        # On stderr, for a profiler to attach to one phase (py-spy record --pid ... --duration ...).
        print(f"bench_app: watching for {seconds:g} s (pid {os.getpid()})", file=sys.stderr, flush=True)
        before, wall = os.times(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, children = cpu_share(before, os.times(), time.monotonic() - wall)
        print(f"bench_app: keys for {seconds:g} s", file=sys.stderr, flush=True)
        for _ in range(5):
            await key_to_repaint(app, frames, "down")
        before, wall = os.times(), time.monotonic()
        n = 0
        while time.monotonic() < wall + seconds:
            latencies.append(await key_to_repaint(app, frames, moving(app, KEYS[n % len(KEYS)])))
            n += 1
            await asyncio.sleep(0.15)
        cpu_keys, _ = cpu_share(before, os.times(), time.monotonic() - wall)
        rss = psutil.Process().memory_info().rss / 2**20
        rows = len(app.model.current)
        lines = len(app.query_one(ProcessTable).rows)
    latencies.sort()
    return {
        "cpu": cpu,
        "children": children,
        "cpu_keys": cpu_keys,
        "p50": statistics.median(latencies),
        "p95": latencies[max(int(len(latencies) * 0.95) - 1, 0)],
        "max": latencies[-1],
        "presses": len(latencies),
        "rss": rss,
        "rows": rows,
        "lines": lines,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="connections to hold (repeatable)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per N")
    parser.add_argument("--churn", type=float, default=0.01, help="share of connections replaced each second")
    parser.add_argument("--source", action="append", help="source(s) to measure, in turn (default: auto)")
    parser.add_argument(
        "--view",
        choices=["table", "processes", "hosts"],
        default="table",
        help="what is on screen while measured: the table, or the process view (p) by process or host",
    )
    parser.add_argument("--expand", action="store_true", help="in the process view, expand the first row")
    args = parser.parse_args()
    for n in args.n or [1_000, 10_000]:
        for source in args.source or ["auto"]:
            measure(n, args.churn, args.seconds, source, args.view, args.expand)


def measure(n: int, churn: float, seconds: float, source: str, view: str = "table", expand: bool = False) -> None:
    # Only this N's sockets: not the machine's, nor the TIME-WAIT ones a previous N left behind.
    where = own_network_namespace()
    with loopback_connections(n, churn) as opened:
        figures = asyncio.run(run_viewer(seconds, warmup=3.0, source=source, view=view, expand=expand))
    print(f"{opened:>6} connections, {churn:.0%} churn/s, interval 1 s, {seconds:.0f} s measured, source {source}:")
    print(f"  network namespace        {where}")
    print(f"  rows in the model        {figures['rows']:8.0f}")
    if view != "table":
        print(
            f"  view                     {view}{' (expanded)' if expand or view == 'hosts' else ''}, "
            f"{figures['lines']:.0f} lines"
        )
    cpu, children = figures["cpu"], figures["children"]
    print(f"  viewer CPU, watching     {cpu:8.1f} % of one core   (ss children: {children:.1f} %)")
    print(f"  viewer CPU, keys 7/s     {figures['cpu_keys']:8.1f} % of one core")
    p50, p95, worst, presses = figures["p50"], figures["p95"], figures["max"], figures["presses"]
    print(f"  key to repaint   p50 {p50:.1f} ms  p95 {p95:.1f} ms  max {worst:.1f} ms  ({presses:.0f} keys)")
    print(f"  resident memory          {figures['rss']:8.1f} MB")
    if n >= 10_000:
        for goal, limit in (GOALS_30K if n >= 30_000 else GOALS).items():
            verdict = "met" if figures[goal] <= limit else "GOAL MISSED"
            print(f"  goal {goal} <= {limit:g}: {verdict}")


if __name__ == "__main__":
    main()
