"""Measure the live viewer under load: CPU share, key-to-repaint latency, resident memory.

    python3 benchmarks/bench_app.py                 # N = 1,000 and 10,000 connections
    python3 benchmarks/bench_app.py --n 5000 --seconds 30

Child processes hold N loopback connections and replace 1 % of them every second. The viewer runs
headless in this process with the real source at a 1 s interval, at 200x50. Over the measured window:

- CPU: this process's user+system time over wall time (the viewer: UI, parsing, /proc scan, diff), and
  separately the CPU of the `ss` children it ran;
- key latency: a cursor or sort key is sent every 150 ms, as the terminal driver would; the time from
  sending it until the app has handled it and written the next frame, p50/p95/max;
- memory: this process's resident set size at the end.

Goals at 10,000 connections: CPU at most 20 % of one core, key p95 under 100 ms, RSS under 150 MB.
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
from textual import events

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from loopback import loopback_connections

from nettop.app import NettopApp
from nettop.sources import platform_source
from nettop.widgets.conn_table import ConnectionTable

KEYS = ["down", "up", "s", "down", "up", "r"]  # each one always changes what is on screen
GOALS = {"cpu": 20.0, "p95": 100.0, "rss": 150.0}


async def key_to_repaint(app: NettopApp, key: str) -> float:
    """Send a key as the terminal would; return ms until the app has handled it and written a new frame."""
    table = app.query_one(ConnectionTable)

    def state() -> tuple[object, ...]:
        return (table.cursor_row, app.sort_column, app.sort_reverse)

    frames: list[float] = []
    display = app._display

    def counting_display(*args: object) -> None:
        display(*args)  # type: ignore[arg-type]
        frames.append(time.perf_counter())

    before = state()
    sent = time.perf_counter()
    app._display = counting_display  # type: ignore[method-assign]
    try:
        assert app._driver is not None
        app._driver.send_message(events.Key(key, None))
        while state() == before and time.perf_counter() - sent < 10:
            await asyncio.sleep(0.001)
        handled = time.perf_counter()
        while not [t for t in frames if t >= handled] and time.perf_counter() - sent < 10:
            await asyncio.sleep(0.001)
    finally:
        app._display = display  # type: ignore[method-assign]
    after = [t for t in frames if t >= handled]
    return ((after[0] if after else time.perf_counter()) - sent) * 1000


async def run_viewer(seconds: float, warmup: float) -> dict[str, float]:
    app = NettopApp(platform_source("auto"), interval=1.0)
    latencies: list[float] = []
    async with app.run_test(size=(200, 50)) as pilot:
        deadline = time.monotonic() + 120
        while app.snapshot is None and time.monotonic() < deadline:
            await pilot.pause(0.1)
        await pilot.pause(warmup)
        for _ in range(5):
            await key_to_repaint(app, "down")
        before, wall = os.times(), time.monotonic()
        end = wall + seconds
        n = 0
        while time.monotonic() < end:
            latencies.append(await key_to_repaint(app, KEYS[n % len(KEYS)]))
            n += 1
            await asyncio.sleep(0.15)
        after, elapsed = os.times(), time.monotonic() - wall
        rss = psutil.Process().memory_info().rss / 2**20
        rows = len(app.model.current)
    latencies.sort()
    return {
        "cpu": 100 * ((after.user - before.user) + (after.system - before.system)) / elapsed,
        "children": 100
        * (after.children_user - before.children_user + after.children_system - before.children_system)
        / elapsed,
        "p50": statistics.median(latencies),
        "p95": latencies[max(int(len(latencies) * 0.95) - 1, 0)],
        "max": latencies[-1],
        "presses": len(latencies),
        "rss": rss,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="connections to hold (repeatable)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per N")
    parser.add_argument("--churn", type=float, default=0.01, help="share of connections replaced each second")
    args = parser.parse_args()
    for n in args.n or [1_000, 10_000]:
        with loopback_connections(n, args.churn) as opened:
            figures = asyncio.run(run_viewer(args.seconds, warmup=3.0))
        print(f"{opened:>6} connections, {args.churn:.0%} churn/s, interval 1 s, {args.seconds:.0f} s measured:")
        print(f"  rows in the model        {figures['rows']:8.0f}")
        cpu, children = figures["cpu"], figures["children"]
        print(f"  viewer CPU               {cpu:8.1f} % of one core   (ss children: {children:.1f} %)")
        p50, p95, worst, presses = figures["p50"], figures["p95"], figures["max"], figures["presses"]
        print(f"  key to repaint   p50 {p50:.1f} ms  p95 {p95:.1f} ms  max {worst:.1f} ms  ({presses:.0f} keys)")
        print(f"  resident memory          {figures['rss']:8.1f} MB")
        if n >= 10_000:
            for goal, limit in GOALS.items():
                verdict = "met" if figures[goal] <= limit else "GOAL MISSED"
                print(f"  goal {goal} <= {limit:g}: {verdict}")


if __name__ == "__main__":
    main()
