"""Time `nettop list --format json` against `ss -tunap` alone, with N live loopback connections.

    python3 benchmarks/bench_list.py            # N = 1,000 and 10,000
    python3 benchmarks/bench_list.py --n 2000   # another N

Connections are opened on 127.0.0.1 by child processes (each holds at most 4,000, so no process nears
its fd limit), counted, timed, and closed when the children exit. Prints medians of several runs; the
goal at 10,000 connections is nettop at most 1.25 times `ss -tunap`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopback import loopback_connections

GOAL_RATIO = 1.25


def median_ms(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(n: int, runs: int) -> None:
    with loopback_connections(n) as opened:
        ss_ms = median_ms(["ss", "-tunap"], runs)
        ss_fast_ms = median_ms(["ss", "-tunae"], runs)
        nettop_ms = median_ms([sys.executable, "-m", "nettop", "list", "--format", "json"], runs)
    ratio = nettop_ms / ss_ms
    print(f"{opened:>6} connections ({2 * opened} sockets), median of {runs} runs:")
    print(f"  ss -tunap                      {ss_ms:8.1f} ms")
    print(f"  ss -tunae (what nettop runs)   {ss_fast_ms:8.1f} ms")
    print(f"  nettop list --format json      {nettop_ms:8.1f} ms   = {ratio:.2f} x ss -tunap")
    if n >= 10_000:
        verdict = "met" if ratio <= GOAL_RATIO else "GOAL MISSED"
        print(f"  goal at 10,000: <= {GOAL_RATIO} x ss -tunap: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="connections to open (repeatable)")
    parser.add_argument("--runs", type=int, default=7, help="runs per command (median)")
    args = parser.parse_args()
    if shutil.which("ss") is None:
        sys.exit("bench_list needs ss (iproute2)")
    for n in args.n or [1_000, 10_000]:
        measure(n, args.runs)


if __name__ == "__main__":
    main()
