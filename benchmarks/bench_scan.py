"""Time the /proc socket-owner scan: a full one against an incremental rescan, with N live loopback connections.

    python3 benchmarks/bench_scan.py                # N = 10,000
    python3 benchmarks/bench_scan.py --n 1000 --churn 0.01

Each incremental rescan is given the inodes of an ``ss -tunae`` listing taken just before it (untimed), as
the live viewer does every tick. Prints medians of several runs, in milliseconds. Each child process holds
up to 8,000 fds: raise ``ulimit -n`` first.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from loopback import loopback_connections

from nettop.formats import ss
from nettop.owners.procfs import IncrementalSocketScanner, scan_socket_owners

T = TypeVar("T")


def listing() -> str:
    return subprocess.run(["ss", "-tunae"], capture_output=True, text=True, check=True).stdout


def listed_inodes(text: str) -> set[int]:
    return {record.inode for record in ss.parse(text).records if record.inode is not None}


def median_ms(runs: int, prepare: Callable[[], T], timed: Callable[[T], object]) -> float:
    """Median time of ``timed(prepare())``, ``prepare`` untimed."""
    times = []
    for _ in range(runs):
        argument = prepare()
        started = time.perf_counter()
        timed(argument)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(n: int, churn: float, runs: int) -> None:
    with loopback_connections(n, churn) as opened:
        full_ms = median_ms(runs, lambda: None, lambda _: scan_socket_owners())
        scanner = IncrementalSocketScanner(full_every=1_000_000)
        first_ms = median_ms(runs, lambda: None, lambda _: scanner.scan())
        scanner.scan(listed_inodes(listing()))  # a full read that knows its listing: the rescans can be incremental
        readlinks: list[int] = []
        fulls: list[bool] = []

        def rescan(live: set[int]) -> None:
            scanner.scan(live)
            readlinks.append(scanner.last_readlinks)
            fulls.append(scanner.last_full)

        incremental_ms = median_ms(runs, lambda: listed_inodes(listing()), rescan)
        sockets = len(listed_inodes(listing()))
    print(f"{opened:>6} connections ({sockets} sockets with an inode), churn {churn:.1%}/s, median of {runs} runs:")
    print(f"  full scan (scan_socket_owners)         {full_ms:8.1f} ms")
    print(f"  scanner, blind first scan (scan())     {first_ms:8.1f} ms")
    ratio = full_ms / incremental_ms
    print(f"  scanner, incremental rescan            {incremental_ms:8.1f} ms   = {ratio:.1f}x faster than full")
    print(f"    readlinks per rescan: {readlinks}; full re-reads: {sum(fulls)} of {len(fulls)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="connections to open (repeatable)")
    parser.add_argument("--churn", type=float, default=0.0, help="share of connections replaced each second")
    parser.add_argument("--runs", type=int, default=5, help="runs per measure (median)")
    args = parser.parse_args()
    if shutil.which("ss") is None:
        sys.exit("bench_scan needs ss (iproute2)")
    for n in args.n or [10_000]:
        measure(n, args.churn, args.runs)


if __name__ == "__main__":
    main()
