"""Time `nettop list --format json` against `ss -tunap` alone, with N live loopback connections.

    python3 benchmarks/bench_list.py            # N = 1,000 and 10,000
    python3 benchmarks/bench_list.py --n 2000   # another N

Connections are opened on 127.0.0.1 by child processes (each holds at most 4,000, so no process nears
its fd limit), counted, timed, and closed when the children exit. The commands take turns, run after run, so
that a noisy machine weighs on each alike; the figures are medians. The goal at 10,000 connections is nettop at
most 1.25 times `ss -tunap`.

nettop runs as this interpreter has it installed. Run it from an environment made the README's way
(`pip install .`): an editable install (`pip install -e .`) adds its import hook's ~25 ms to every start.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopback import loopback_connections

GOAL_RATIO = 1.25


def run_ms(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - started) * 1000


def medians_ms(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Each command's median wall time, the commands taking turns."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            times[name].append(run_ms(argv))
    return {name: statistics.median(values) for name, values in times.items()}


def install_kind() -> str:
    spec = importlib.util.find_spec("nettop")
    origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
    if origin is None:
        sys.exit("bench_list needs nettop installed in this interpreter's environment")
    sources = Path(__file__).resolve().parent.parent / "nettop"  # a venv inside the checkout is not editable
    return "editable (adds ~25 ms a start)" if origin.is_relative_to(sources) else "installed"


def measure(n: int, runs: int) -> None:
    commands = {
        "ss -tunap": ["ss", "-tunap"],
        "ss -tunae (what nettop runs)": ["ss", "-tunae"],
        "nettop list --format json": [sys.executable, "-m", "nettop", "list", "--format", "json"],
    }
    with loopback_connections(n) as opened:
        figures = medians_ms(commands, runs)
    ss_ms = figures["ss -tunap"]
    print(f"{opened:>6} connections ({2 * opened} sockets), median of {runs} runs; nettop {install_kind()}:")
    for name, ms in figures.items():
        ratio = f"   = {ms / ss_ms:.2f} x ss -tunap" if name.startswith("nettop") else ""
        print(f"  {name:<30} {ms:8.1f} ms{ratio}")
    if n >= 10_000:
        ratio = figures["nettop list --format json"] / ss_ms
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
