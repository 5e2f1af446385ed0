"""Time each of nettop list's Linux sources beside ss and psutil, with N live loopback connections.

    python3 benchmarks/bench_sources.py                      # N = 1,000, 10,000 and 30,000 (2k, 20k, 60k sockets)
    python3 benchmarks/bench_sources.py --n 1000 --n 10000   # other N (repeatable)
    python3 benchmarks/bench_sources.py --runs 11            # more runs per command (default 7)
    python3 benchmarks/bench_sources.py --shared-netns       # in the machine's network namespace (see below)

Measured, each a fresh process each run, the commands taking turns run after run (as in bench_list.py, so that
a noisy machine weighs on each alike), the figures medians:

- ``nettop list --format json --source auto``, ``netlink``, ``ss`` and ``netstat`` (auto should be netlink);
- ``nettop list --format json --rates``, when ``nettop list --help`` offers ``--rates`` (its figure includes
  the 1 s over which the rates are measured);
- ``ss -tunap`` (what nettop is measured against) and ``ss -tuna``;
- psutil: ``python -c "import psutil; psutil.net_connections('inet')"``.

Beside each median wall time is the median CPU time of the child (user + system, from ``os.wait4``: it counts
the descendants the child waited for, such as nettop's forked /proc scan and its ss). Before the timed runs,
each command runs once untimed with its output kept, as a sanity check: nettop's JSON must hold at least 2N
records (the 2N loopback sockets, and one listener for each 4,000 connections), and auto's records must say they
came from netlink. ``ss -tuna`` and psutil are counted the same way (psutil by a variant that prints the count).

Goals (the issue's), as ratios of ``nettop list --format json`` (auto) to ``ss -tunap``:

- at 30,000 connections (60k sockets): at most 0.3 x ss -tunap;
- at 1,000 connections (2k sockets): at most 2 x ss -tunap (where nettop's start-up weighs most).

Connections are opened on 127.0.0.1 by the child processes of ``loopback.py`` (4,000 pairs each, each child
on a listening port of its own, so that client ports are shared across listeners and 30,000 pairs fit in the
default ephemeral range); this process raises its soft RLIMIT_NOFILE to the hard limit first, and the
children inherit it. Before each N, this process moves into a new network namespace (unshare(CLONE_NEWNET),
with lo brought up; needs root) and so do the holders and every command timed: the sockets listed are then that
N's alone, neither other programs' on the machine nor the last N's, still in TIME-WAIT. (The /proc walks, ss
-p's, psutil's and nettop's owner scan, still see every process on the machine.) ``--shared-netns`` stays in
the machine's namespace. Root sees every socket's owner (as ss -p does); as another user both sides see fewer.

nettop runs as this interpreter has it installed (its ``nettop`` script beside the interpreter, else
``python -m nettop``). Install it the README's way (``pip install .``, then ``python -m compileall`` over the
environment if PYTHONDONTWRITEBYTECODE is set): an editable install adds its import hook's ~25 ms to every start.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import fcntl
import importlib.util
import json
import os
import resource
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopback import PER_CHILD, loopback_connections

#: ``<sched.h>``, ``<linux/sockios.h>``, ``<net/if.h>``.
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
IFF_UP = 0x1
#: N → the most ``nettop list`` (auto) may take, as a multiple of ``ss -tunap``.
GOALS = {30_000: 0.3, 1_000: 2.0}
BASELINE = "ss -tunap"
AUTO = "nettop --source auto"
PSUTIL_CALL = "import psutil; psutil.net_connections('inet')"
PSUTIL_COUNT = "import psutil; print(len(psutil.net_connections('inet')))"


@dataclass
class Command:
    name: str
    argv: list[str]
    #: The untimed sanity run: its argv (None: ``argv``) and how to read a count (and a note) from its output.
    count: Callable[[str], tuple[int, str]]
    count_argv: list[str] | None = None
    #: Whether the count is of nettop records (those must reach 2N).
    nettop: bool = False


def nettop_argv() -> list[str]:
    spec = importlib.util.find_spec("nettop")
    if spec is None or not spec.origin:
        sys.exit("bench_sources needs nettop installed in this interpreter's environment")
    script = Path(sys.executable).parent / "nettop"
    return [str(script)] if script.exists() else [sys.executable, "-m", "nettop"]


def install_kind() -> str:
    spec = importlib.util.find_spec("nettop")
    assert spec is not None and spec.origin
    sources = Path(__file__).resolve().parent.parent / "nettop"  # a venv inside the checkout is not editable
    editable = Path(spec.origin).resolve().is_relative_to(sources)
    return "editable (adds ~25 ms a start)" if editable else "installed"


def count_json(expected_source: str | None) -> Callable[[str], tuple[int, str]]:
    def count(text: str) -> tuple[int, str]:
        records = json.loads(text)
        sources = collections.Counter(record.get("source") for record in records)
        note = ", ".join(f"{source}: {n}" for source, n in sources.most_common())
        if expected_source is not None and set(sources) != {expected_source}:
            note += f"   (expected all from {expected_source}!)"
        return len(records), note

    return count


def count_lines(text: str) -> tuple[int, str]:
    return max(len(text.splitlines()) - 1, 0), "lines less the header"


def count_printed(text: str) -> tuple[int, str]:
    return int(text.strip()), "len(net_connections('inet'))"


def has_rates(nettop: list[str]) -> bool:
    shown = subprocess.run([*nettop, "list", "--help"], capture_output=True, text=True, check=False)
    return "--rates" in shown.stdout


def commands(nettop: list[str], rates: bool) -> dict[str, Command]:
    listing = [*nettop, "list", "--format", "json"]
    found: dict[str, Command] = {}
    for source in ("auto", "netlink", "ss", "netstat"):
        expected = "netlink" if source == "auto" else source
        found[f"nettop --source {source}"] = Command(
            f"nettop --source {source}", [*listing, "--source", source], count_json(expected), nettop=True
        )
    if rates:
        name = "nettop --rates (+1 s)"  # the window over which the rates are measured
        found[name] = Command(name, [*listing, "--rates"], count_json(None), nettop=True)
    found["ss -tunap"] = Command("ss -tunap", ["ss", "-tunap"], count_lines)
    found["ss -tuna"] = Command("ss -tuna", ["ss", "-tuna"], count_lines)
    found["psutil"] = Command(
        "psutil", [sys.executable, "-c", PSUTIL_CALL], count_printed, [sys.executable, "-c", PSUTIL_COUNT]
    )
    return found


def run_once(argv: list[str]) -> tuple[float, float]:
    """One run's wall time and the child's CPU time (user + system), in ms."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, argv)
    return wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000


def sanity(measured: dict[str, Command]) -> dict[str, tuple[int, str] | str]:
    """Each command once, untimed, output kept: its count (or why it failed). Failed commands are dropped."""
    counts: dict[str, tuple[int, str] | str] = {}
    for name, command in list(measured.items()):
        done = subprocess.run(command.count_argv or command.argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            counts[name] = f"exit {done.returncode}: {done.stderr.strip()[:100]} (not timed)"
            del measured[name]
            continue
        counts[name] = command.count(done.stdout)
    return counts


def medians(measured: dict[str, Command], runs: int) -> dict[str, tuple[float, float]]:
    """Each command's median wall and CPU time in ms, the commands taking turns."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in measured}
    for _ in range(runs):
        for name, command in measured.items():
            times[name].append(run_once(command.argv))
    return {
        name: (statistics.median(t[0] for t in values), statistics.median(t[1] for t in values))
        for name, values in times.items()
    }


def measure(n: int, runs: int, all_commands: dict[str, Command], netns: bool) -> dict[str, tuple[float, float]]:
    # A namespace for each N: the last N's closed connections linger in TIME-WAIT for 60 s in the old one.
    namespace = own_network_namespace() if netns else "the machine's (--shared-netns)"
    measured = dict(all_commands)
    with loopback_connections(n) as opened:
        counts = sanity(measured)
        figures = medians(measured, runs)
    print(f"\n{opened:,} connections ({2 * opened:,} sockets), median of {runs} runs; network namespace: {namespace}")
    base = figures.get(BASELINE, (0.0, 0.0))[0]
    print(f"  {'command':<24} {'wall ms':>9} {'CPU ms':>9} {'x ss -tunap':>12}   records (sanity)")
    for name, count in counts.items():
        if name in figures:
            wall, cpu = figures[name]
            ratio = f"{wall / base:12.2f}" if base else f"{'':12}"
            timed = f"{wall:9.1f} {cpu:9.1f} {ratio}"
        else:
            timed = f"{'-':>9} {'-':>9} {'':12}"
        if isinstance(count, str):
            shown = count
        else:
            records, note = count
            check = "" if not all_commands[name].nettop else ("  ok" if records >= 2 * opened else "  TOO FEW")
            shown = f"{records:,} of >= {2 * opened:,}{check}   [{note}]"
        print(f"  {name:<24} {timed}   {shown}")
    report_goal(n, figures)
    return figures


def report_goal(n: int, figures: dict[str, tuple[float, float]]) -> None:
    if AUTO not in figures or BASELINE not in figures:
        return
    ratio = figures[AUTO][0] / figures[BASELINE][0]
    if n in GOALS:
        verdict = "PASS" if ratio <= GOALS[n] else "FAIL"
        print(f"  goal at {n:,}: nettop list (auto) <= {GOALS[n]:g} x ss -tunap: {ratio:.2f} x   {verdict}")
    else:
        print(f"  nettop list (auto) = {ratio:.2f} x ss -tunap (goals are set at {', '.join(map(str, GOALS))})")


def summary(results: dict[int, dict[str, tuple[float, float]]], names: list[str]) -> None:
    """All N side by side: wall / CPU ms per command, then the goals."""
    ns = list(results)
    width = 21
    print("\nSummary, median wall / CPU ms:")
    print(f"  {'command':<24}" + "".join(f"{f'{n:,} conns':>{width}}" for n in ns))
    for name in names:
        cells = []
        for n in ns:
            figure = results[n].get(name)
            cells.append(f"{f'{figure[0]:.0f} / {figure[1]:.0f}':>{width}}" if figure else f"{'-':>{width}}")
        print(f"  {name:<24}" + "".join(cells))
    for n in ns:
        figures = results[n]
        if n in GOALS and AUTO in figures and BASELINE in figures:
            ratio = figures[AUTO][0] / figures[BASELINE][0]
            verdict = "PASS" if ratio <= GOALS[n] else "FAIL"
            print(f"  goal at {n:,} ({2 * n:,} sockets): auto <= {GOALS[n]:g} x ss -tunap: {ratio:.2f}  {verdict}")


def own_network_namespace() -> str:
    """Move this process (and so its children, the loopback holders and every command timed) into a new network
    namespace, with only ``lo``, up: the sockets listed are then the benchmark's alone, not those of whatever
    else the machine runs. Returns what happened, for the report (needs root, or CAP_SYS_ADMIN)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        return f"the machine's (unshare: {os.strerror(ctypes.get_errno())}): other sockets count as well"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    return "a new one (only this N's sockets)"


def raise_fd_limit() -> None:
    """The loopback children inherit this process's limits: each holds 2 x PER_CHILD sockets and a listener."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * PER_CHILD + 64
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < needed:
        sys.exit(f"bench_sources needs {needed} fds per loopback child; RLIMIT_NOFILE is {soft} (hard {hard})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="connections to open (repeatable)")
    parser.add_argument("--runs", type=int, default=7, help="runs per command (median)")
    parser.add_argument(
        "--shared-netns",
        dest="netns",
        action="store_false",
        help="stay in the machine's network namespace (default: a new one for each N, only its sockets in it)",
    )
    args = parser.parse_args()
    if shutil.which("ss") is None:
        sys.exit("bench_sources needs ss (iproute2)")
    raise_fd_limit()
    nettop = nettop_argv()
    rates = has_rates(nettop)
    all_commands = commands(nettop, rates)
    load = os.getloadavg()[0]
    print(f"nettop: {' '.join(nettop)} ({install_kind()}); --rates {'measured' if rates else 'not offered'}")
    print(f"{os.cpu_count()} CPUs, load average {load:.2f}; uid {os.geteuid()}")
    results = {n: measure(n, args.runs, all_commands, args.netns) for n in args.n or [1_000, 10_000, 30_000]}
    summary(results, list(all_commands))


if __name__ == "__main__":
    main()
