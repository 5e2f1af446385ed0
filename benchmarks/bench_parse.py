"""Parser throughput: nettop's ss (and Linux netstat) parser against jc's, on the same text, in lines per second.

    python3 benchmarks/bench_parse.py               # 20,000 data rows
    python3 benchmarks/bench_parse.py --lines 60000 --repeats 9 --no-live

The input is real output made large: the data rows of the shared corpus's ``debian12/ss-tunap.out`` (plus a
sample of this machine's live ``ss -tunap`` rows, unless ``--no-live``) repeated to N rows, each repetition
shifting the local port so rows differ, laid out in ss's aligned columns under one header line. The netstat
input is built the same way from ``netstat-tunapW.out`` (under netstat's two title lines), and measured only
when ``nettop.formats.netstat_linux`` exists. Each parser reads the whole text once to warm up, then
``--repeats`` times, nettop's and jc's runs taking turns; the figures are the median (and best) run, and the
ratio the median of the rounds' ratios. jc comes from ``pip install '.[bench]'``.

Goal, for both formats: at least 250,000 lines/s and at least 5x jc. A missed goal prints ``GOAL MISSED``;
the exit status is 0 regardless (this is a report, not a test).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
#: The shared corpus beside this checkout, as in tests/conftest.py.
CORPUS = REPO.parent / "shared" / "corpus" / "debian12"
GOAL_LINES_PER_S = 250_000
GOAL_RATIO = 5.0
NETSTAT_TITLE = "Active Internet connections (servers and established)"


def shift_port(address: str, shift: int) -> str:
    """``host:port`` with the port moved by ``shift`` (``*`` ports stay)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return address
    return f"{host}:{(int(port) + shift) % 65536}"


def data_rows(text: str, header_lines: int) -> list[str]:
    return [line for line in text.splitlines()[header_lines:] if line.strip() and not line[0].isspace()]


def live_ss_rows(limit: int) -> list[str]:
    """Up to ``limit`` rows of this machine's ``ss -tunap``, evenly sampled; none when ss is missing or fails."""
    try:
        done = subprocess.run(
            ["ss", "-tunap"], capture_output=True, text=True, timeout=60, env={**os.environ, "LC_ALL": "C"}
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    rows = data_rows(done.stdout, 1) if done.returncode == 0 else []
    step = max(1, len(rows) // limit) if limit else 0
    return rows[::step][:limit] if step else []


def build_ss(rows: list[str], n: int) -> str:
    """N ss rows (Netid, State and Process columns) in ss's column layout, under one header line."""
    fields = [row.split(None, 6) for row in rows]
    fields = [f + [""] * (7 - len(f)) for f in fields if len(f) >= 6]
    out = [fields[i % len(fields)][:] for i in range(n)]
    for i, f in enumerate(out):
        f[4] = shift_port(f[4], i // len(fields))
    lw = max(len(f[4]) for f in out)
    pw = max(len(f[5]) for f in out)
    lines = [f"Netid State      Recv-Q Send-Q {'Local Address:Port':>{lw}} {'Peer Address:Port':>{pw}} Process"]
    lines += [f"{f[0]:<5} {f[1]:<10} {f[2]:<6} {f[3]:<6} {f[4]:>{lw}} {f[5]:>{pw}} {f[6]}" for f in out]
    return "\n".join(lines) + "\n"


def build_netstat(rows: list[str], n: int) -> str:
    """N ``netstat -tunapW`` rows in netstat's column layout, under its two title lines."""
    fields = []
    for row in rows:
        proto, recv_q, send_q, local, foreign, rest = row.split(None, 5)
        state, _, owner = rest.partition(" ")
        if not state.isupper():  # an unconnected UDP row has no state: all of rest is the owner
            state, owner = "", rest
        fields.append([proto, recv_q, send_q, local, foreign, state, owner.strip()])
    out = [fields[i % len(fields)][:] for i in range(n)]
    for i, f in enumerate(out):
        f[3] = shift_port(f[3], i // len(fields))
    lines = [
        NETSTAT_TITLE,
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name",
    ]
    lines += [f"{f[0]:<5} {f[1]:>6} {f[2]:>6} {f[3]:<23} {f[4]:<23} {f[5]:<11} {f[6]}" for f in out]
    return "\n".join(lines) + "\n"


def time_runs(parsers: dict[str, Callable[[str], Any]], text: str, repeats: int) -> dict[str, tuple[list[float], str]]:
    """Each parser's ``repeats`` whole-text parse times (after one untimed warm-up parse), and what it read.

    The parsers take turns, round after round (the order flipping each round), so that a stretch when this
    VM runs slow weighs on each alike: their ratio is then a fair one even when the absolute figures swing.
    """
    timed: dict[str, tuple[list[float], str]] = {}
    for who, parse in parsers.items():
        parse(text)  # the first parse also pays for growing the heap, and is often much slower
        timed[who] = ([], "")
    order = list(parsers)
    for round_no in range(repeats):
        for who in order if round_no % 2 == 0 else order[::-1]:
            gc.collect()
            started = time.perf_counter()
            result = parsers[who](text)
            elapsed = time.perf_counter() - started
            if hasattr(result, "records"):
                read = f"{len(result.records):,} records, {len(result.issues):,} issues"
            else:
                read = f"{len(result):,} records"
            del result
            timed[who][0].append(elapsed)
            timed[who] = (timed[who][0], read)
    return timed


def printed(who: str, times: list[float], read: str, rows: int) -> float:
    """Print one parser's line of the table; return its median lines per second."""
    median, best = statistics.median(times), min(times)
    print(f"  {who:<14} {rows / median:>10,.0f} lines/s median  {rows / best:>10,.0f} best  ({read})")
    if median > 1.2 * best:
        print(f"  (noisy: the median run took {median / best - 1:.0%} longer than the best; other load? run again)")
    return rows / median


def report(name: str, text: str, rows: int, ours: Callable[[str], Any], jc_name: str, repeats: int) -> None:
    goal = f"goal: >= {GOAL_LINES_PER_S:,} lines/s and >= {GOAL_RATIO:g}x jc"
    parsers = {f"nettop {name}": ours}
    try:
        import jc
    except ImportError:
        jc = None
    else:
        parsers[f"jc {jc_name}"] = lambda t: jc.parse(jc_name, t, quiet=True)
    timed = time_runs(parsers, text, repeats)
    rates = {who: printed(who, times, read, rows) for who, (times, read) in timed.items()}
    rate = rates[f"nettop {name}"]
    ratio = None
    if jc is None:
        print(f"{name} parser: nettop {rate:,.0f} lines/s; jc is not installed: pip install '.[bench]' ({goal})")
    else:
        # Round by round: each ratio compares two parses made moments apart.
        ours_times, theirs_times = timed[f"nettop {name}"][0], timed[f"jc {jc_name}"][0]
        ratio = statistics.median(t / o for o, t in zip(ours_times, theirs_times, strict=True))
        jc_rate = rates[f"jc {jc_name}"]
        print(
            f"{name} parser: nettop {rate:,.0f} lines/s, jc {jc_rate:,.0f} lines/s, "
            f"ratio {ratio:.1f}x (median of the rounds' ratios; {goal})"
        )
    if rate < GOAL_LINES_PER_S:
        print(f"GOAL MISSED: {name} parser {rate:,.0f} lines/s < {GOAL_LINES_PER_S:,}")
    if ratio is not None and ratio < GOAL_RATIO:
        print(f"GOAL MISSED: {name} parser only {ratio:.1f}x jc < {GOAL_RATIO:g}x")


def guarded(run: Callable[..., None], name: str, *args: Any) -> None:
    """Run one report; a parser that raises (modules are still being written) is reported, not fatal."""
    try:
        run(name, *args)
    except Exception as error:
        print(f"{name}: the benchmark failed: {type(error).__name__}: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000, help="data rows in each input (default 20,000)")
    parser.add_argument("--repeats", type=int, default=7, help="parses per parser; the median is reported")
    parser.add_argument("--live-rows", type=int, default=200, help="most live `ss -tunap` rows to mix in")
    parser.add_argument("--no-live", action="store_true", help="use the recorded corpus only")
    args = parser.parse_args()

    if not CORPUS.is_dir():
        print(f"the shared corpus is not beside this checkout ({CORPUS}); nothing to measure")
        return
    sys.path.insert(0, str(REPO))  # run from a checkout, installed or not
    from nettop.formats import ss

    corpus_rows = data_rows((CORPUS / "ss-tunap.out").read_text(), 1)
    live = [] if args.no_live else live_ss_rows(args.live_rows)
    text = build_ss(corpus_rows + live, args.lines)
    print(
        f"ss input: {args.lines:,} rows + 1 header from {len(corpus_rows)} corpus + {len(live)} live rows, "
        f"{len(text) / 1e6:.1f} MB; median of {args.repeats} runs"
    )
    guarded(report, "ss", text, args.lines, ss.parse, "ss", args.repeats)

    try:
        netstat_linux = importlib.import_module("nettop.formats.netstat_linux")
    except ImportError as error:
        print(f"netstat: skipped, nettop.formats.netstat_linux is not importable ({error})")
        return
    rows = data_rows((CORPUS / "netstat-tunapW.out").read_text(), 2)
    text = build_netstat(rows, args.lines)
    print(f"netstat input: {args.lines:,} rows + 2 title lines from {len(rows)} corpus rows, {len(text) / 1e6:.1f} MB")
    guarded(report, "netstat", text, args.lines, netstat_linux.parse, "netstat", args.repeats)


if __name__ == "__main__":
    main()
