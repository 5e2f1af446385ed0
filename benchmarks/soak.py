"""Soak the live viewer and `nettop watch --format ndjson` for minutes under loopback churn.

    python3 benchmarks/soak.py                  # 10 minutes
    python3 benchmarks/soak.py --minutes 2      # a quick check that everything runs
    python3 benchmarks/soak.py --rate 400 --burst 500 --burst-every 15
    cd /tmp/old && python3 .../soak.py --nettop "python3 -m nettop"   # another copy of the package

Both run against the real machine, as a user runs them: the viewer (`nettop --interval 1`) in a 200x50
pane of a private tmux server (attach with the command printed at the start to watch it), and `nettop
watch --format ndjson --interval 1` as a child whose stdout is read here. Meanwhile a load process opens
`--rate` connections a second (default 200, re-openings included) on 127.0.0.1 and ::1, never any other
address, each living 10 ms to 2 s, and closes them:

- by FIN, from the client (its port goes to TIME_WAIT) or from the server side: a tenth of them, since
  each leaves a TIME_WAIT row for 60 s and more would bury the bursts (see below);
- by RST (SO_LINGER 0);
- by RST, then re-opened 0.1-1.5 s later from the same local port (SO_REUSEADDR) to the same server:
  the same row comes back while the viewer still shows it as just closed (it lingers 5 s);
- every ~20 s (`--burst-every`) a burst: 30 connections are reset in the 0.6-2.5 s before it and come back
  from their ports with `--burst` (300) new ones opened at once; the burst is reset 1.5-2.5 s later, and
  all of it comes back from the same ports 0.5-2 s after that, for 1-3 s. A tick that brings more than 64
  rows and more than a quarter of those shown takes the viewer's bulk path (nettop.view.RowsModel.apply),
  which once crashed when a just-closed row came back in it. Watch's stream (same source, same interval)
  tells how often the soak made that happen: "bulk ticks ... with a row coming back".

Every 30 s it prints each nettop process's resident memory and CPU (own + its `ss` children), the churn so
far, the TCP sockets on the machine, watch's events, and the viewer's top line: rows, and when and how fast
it last read them (that time must move: a display that stops refreshing is reported as frozen). At the end:
whether each process is alive (for a dead viewer its exit status and Textual's traceback from the pane,
shortened, the whole pane saved to a file), RSS first/last/max and slope, watch's events by kind with a
check that every line is a JSON event, the achieved churn, and a verdict. Exit status 1 when the verdict
is FAIL, else 0. Other programs' sockets count too: a benchmark run meanwhile shows in the figures.

The slope is a least-squares fit over the samples after the first minute: TIME_WAIT lasts 60 s, so for a
minute the sockets (and the rows nettop holds) grow, then hold (~1,500 at 200/s). "Flat" is a slope under
1 MB/min (`--max-slope`): at 200 connections a second that is under 90 bytes per connection churned, less
than any object nettop keeps for a connection (a record alone is several hundred bytes), so a leak of one
thing per connection fails it; allocator noise (pymalloc arenas, Textual's caches) moves RSS by a few MB,
which over a 10-minute run is well under the limit. It is judged from 3-minute runs on (five samples after
the first minute); a shorter run prints the slope but its verdict only says whether anything crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import heapq
import json
import multiprocessing as mp
import os
import queue
import random
import re
import resource
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import psutil

ADDRESSES = ("127.0.0.1", "::1")  # the load never touches any other address
SAMPLE_EVERY = 30.0
MIN_LATE_SAMPLES = 5  # the RSS slope is judged from 3 minutes on: samples at 1:00, 1:30, ... 3:00
SESSION = "soak"
SIZE = (200, 50)
SENTINELS = 30  # connections reset just before a burst, back with it
STATUS_LINE = "[soak] the viewer exited with status"
ROW_KEY = ("proto", "family", "local_ip", "local_port", "remote_ip", "remote_port", "interface")
EVENT_KINDS = {"open", "close", "change", "error"}
LINGER_RST = struct.pack("ii", 1, 0)
# Steady connections: how each one ends. A re-opened one ends the same ways, re-opening again more often.
# FIN closes are kept to a tenth: each leaves a TIME_WAIT row for 60 s, and more of those would bury the
# bursts, which reach the viewer's bulk path only when they bring over a quarter of the rows it shows.
MODES = {"fin-client": 0.07, "fin-server": 0.03, "rst": 0.5, "reopen": 0.4}
MODES_AFTER_REOPEN = {"fin-client": 0.05, "fin-server": 0.05, "rst": 0.5, "reopen": 0.4}


# --- the load: a child process that opens and closes loopback connections -----------------------------


@dataclass(eq=False)
class Pair:
    client: socket.socket
    accepted: socket.socket
    address: str
    port: int  # the client's local port


@dataclass(order=True)
class Timed:
    when: float
    seq: int
    action: Callable[..., None] = field(compare=False)
    args: tuple[Any, ...] = field(compare=False, default=())


class Churn:
    """Opens ``rate`` connections a second (re-openings included) and closes them on schedule, plus bursts."""

    def __init__(self, listeners: dict[str, socket.socket], rate: float, burst: int, burst_every: float) -> None:
        self.random = random.Random()
        self.listeners = listeners
        self.server_ports = {address: sock.getsockname()[1] for address, sock in listeners.items()}
        self.rate, self.burst, self.burst_every = rate, burst, burst_every
        self.live: set[Pair] = set()
        self.heap: list[Timed] = []
        self.seq = 0
        self.counts: Counter[str] = Counter()
        self.burst_ms: list[float] = []
        self.start = time.monotonic()
        self.attempts = 0  # steady openings tried: the pace is kept on these, so failures cannot spin
        if burst > 0:
            self.plan_burst(self.start + burst_every)

    # scheduling

    def at(self, when: float, action: Callable[..., None], *args: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, Timed(when, self.seq, action, args))

    def step(self) -> None:
        """Run what is due, open the steady connections due, and sleep until the next thing (at most 5 ms)."""
        now = time.monotonic()
        while self.heap and self.heap[0].when <= now:
            item = heapq.heappop(self.heap)
            item.action(*item.args)
        due = int(self.rate * (time.monotonic() - self.start)) - self.attempts
        for _ in range(min(due, 50)):  # after a stall, catch up 50 at a time
            self.attempts += 1
            self.open_steady()
        next_open = self.start + (self.attempts + 1) / self.rate
        wake = min(next_open, self.heap[0].when if self.heap else next_open, time.monotonic() + 0.005)
        time.sleep(max(0.0, wake - time.monotonic()))

    # sockets

    def connect(self, address: str, port: int = 0, reuse: bool = False) -> Pair | None:
        """A client/server pair on ``address``; ``reuse`` binds the client to ``port`` (0: any) first."""
        assert address in ADDRESSES
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        client = socket.socket(family, socket.SOCK_STREAM)
        try:
            if reuse:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                client.bind((address, port))
            client.connect((address, self.server_ports[address]))
            accepted, _ = self.listeners[address].accept()
        except OSError as error:
            client.close()
            self.counts[f"error {errno.errorcode.get(error.errno or 0, str(error))}"] += 1
            return None
        pair = Pair(client, accepted, address, client.getsockname()[1])
        self.live.add(pair)
        return pair

    def close(self, pair: Pair, how: str) -> None:
        if pair not in self.live:
            return
        self.live.discard(pair)
        with contextlib.suppress(OSError):
            if how == "fin-server":
                pair.accepted.close()
                pair.client.close()
            else:
                if how != "fin-client":  # rst, and the reset before a re-opening
                    pair.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
                pair.client.close()
                pair.accepted.close()
        pair.client.close()
        pair.accepted.close()
        self.counts[f"closed {'rst' if how == 'reopen' else how}"] += 1

    def lifetime(self) -> float:
        return self.random.uniform(0.01, 0.2) if self.random.random() < 0.5 else self.random.uniform(0.3, 2.0)

    def pick(self, modes: dict[str, float]) -> str:
        return self.random.choices(list(modes), weights=list(modes.values()))[0]

    # steady churn

    def open_steady(self) -> None:
        how = self.pick(MODES)
        pair = self.connect(self.random.choice(ADDRESSES), reuse=how == "reopen")
        if pair is not None:
            self.counts["opened"] += 1
            self.at(time.monotonic() + self.lifetime(), self.end, pair, how)

    def end(self, pair: Pair, how: str) -> None:
        self.close(pair, how)
        if how == "reopen":
            self.at(time.monotonic() + self.random.uniform(0.1, 1.5), self.reopen, pair.address, pair.port)

    def reopen(self, address: str, port: int) -> None:
        self.attempts += 1  # a re-opening is one of the rate's connections
        pair = self.connect(address, port, reuse=True)
        if pair is None:
            self.counts["reopen failed"] += 1
            return
        self.counts["opened"] += 1
        self.counts["reopened"] += 1
        how = self.pick(MODES_AFTER_REOPEN)
        self.at(time.monotonic() + self.lifetime(), self.end, pair, how)

    # bursts

    def plan_burst(self, when: float) -> None:
        self.at(when - 6.0, self.open_sentinels, when)

    def open_sentinels(self, when: float) -> None:
        """Connections that live a few ticks, are reset in the 0.6-2.5 s before the burst, and come back with it."""
        ports: list[tuple[str, int]] = []
        for index in range(SENTINELS):
            pair = self.connect(ADDRESSES[index % 2], reuse=True)
            if pair is not None:
                self.counts["sentinels"] += 1
                self.at(when - self.random.uniform(0.6, 2.5), self.close, pair, "rst")
                ports.append((pair.address, pair.port))
        self.at(when, self.open_burst, ports)

    def open_burst(self, sentinels: list[tuple[str, int]]) -> None:
        started = time.monotonic()
        burst = [self.connect(ADDRESSES[index % 2], reuse=True) for index in range(self.burst)]
        back = [self.connect(address, port, reuse=True) for address, port in sentinels]
        self.burst_ms.append(1000 * (time.monotonic() - started))
        self.counts["bursts"] += 1
        opened = [pair for pair in burst if pair is not None]
        self.counts["burst opened"] += len(opened)
        for pair in back:
            if pair is not None:
                self.counts["sentinels back"] += 1
                self.at(time.monotonic() + self.lifetime(), self.end, pair, self.pick(MODES))
        self.at(started + self.random.uniform(1.5, 2.5), self.close_burst, opened)
        self.plan_burst(started + self.burst_every + self.random.uniform(-2.0, 2.0))

    def close_burst(self, pairs: list[Pair]) -> None:
        for pair in pairs:
            self.close(pair, "rst")
        self.at(time.monotonic() + self.random.uniform(0.5, 2.0), self.burst_returns, pairs)

    def burst_returns(self, pairs: list[Pair]) -> None:
        for old in pairs:
            pair = self.connect(old.address, old.port, reuse=True)
            if pair is not None:
                self.counts["burst back"] += 1
                self.at(time.monotonic() + self.random.uniform(1.0, 3.0), self.close, pair, "rst")

    def close_all(self) -> None:
        for pair in list(self.live):
            self.close(pair, "rst")
        for sock in self.listeners.values():
            sock.close()

    def stats(self) -> dict[str, Any]:
        return {
            "elapsed": time.monotonic() - self.start,
            "live": len(self.live),
            "counts": dict(self.counts),
            "burst_ms": list(self.burst_ms),
        }


def run_load(
    listeners: dict[str, socket.socket],
    rate: float,
    burst: int,
    burst_every: float,
    limit: float,
    stop: Event,
    out: mp.Queue,  # type: ignore[type-arg]
) -> None:
    """The load process: churn until told to stop, the parent dies, or ``limit`` seconds have passed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    parent = os.getppid()
    churn = Churn(listeners, rate, burst, burst_every)
    reported = time.monotonic()
    while not stop.is_set() and os.getppid() == parent and time.monotonic() - churn.start < limit:
        churn.step()
        if time.monotonic() - reported >= 1.0:
            reported = time.monotonic()
            out.put(churn.stats())
    stats = churn.stats()  # before closing everything: the churn is what ran until now
    churn.close_all()
    out.put(stats | {"final": True})


# --- the nettop processes ------------------------------------------------------------------------------


def nettop_command(given: str | None) -> list[str]:
    """``--nettop``, else the venv's `nettop` script beside this interpreter, else `python -m nettop`."""
    if given:
        return shlex.split(given)
    script = Path(sys.executable).parent / "nettop"
    return [str(script)] if script.exists() else [sys.executable, "-m", "nettop"]


class Viewer:
    """The live viewer in a pane of a private tmux server. A shell runs it and then prints its exit status (tmux
    3.3 does not always know a dead pane's status), and the pane stays after they end, traceback and all."""

    def __init__(self, command: list[str]) -> None:
        self.socket = f"nettop-soak-{os.getpid()}"
        self.tmux = ["tmux", "-L", self.socket, "-f", "/dev/null"]
        self.command = command
        self.pid: int | None = None  # nettop's, the shell's child
        self.socket_path = ""
        self.died_at: float | None = None
        self.death = ""
        self.last_lines: list[str] = []
        self.pane_file: Path | None = None

    def run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run([*self.tmux, *args], capture_output=True, text=True, timeout=30, check=check)
        return done.stdout

    def start(self) -> None:
        env = {name: value for name, value in os.environ.items() if name != "TMUX"}
        width, height = SIZE
        line = f'{shlex.join(self.command)}; echo "{STATUS_LINE} $?"'
        # Options first: a pane takes its history limit when it is made. The pane stays when its shell ends.
        options = ["start-server", ";", "set-option", "-g", "history-limit", "100000", ";"]
        options += ["set-option", "-g", "remain-on-exit", "on", ";"]
        start = ["new-session", "-d", "-s", SESSION, "-x", str(width), "-y", str(height), line]
        subprocess.run([*self.tmux, *options, *start], env=env, check=True, timeout=30)
        shell, self.socket_path = self.run("display-message", "-p", "-t", SESSION, "#{pane_pid} #{socket_path}").split()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.pid is None:
            with contextlib.suppress(psutil.Error):
                children = psutil.Process(int(shell)).children()
                self.pid = children[0].pid if children else None
            time.sleep(0.05)
        if self.pid is None:
            raise RuntimeError(f"the viewer did not start in tmux: {self.screen(history=100)}")

    def alive(self) -> bool:
        return self.pid is not None and pid_running(self.pid)

    def screen(self, history: int = 0) -> list[str]:
        text = self.run("capture-pane", "-p", "-t", SESSION, "-S", str(-history), check=False)
        lines = text.rstrip("\n").split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        return lines

    def top_line(self) -> tuple[str | None, str]:
        """The collection time on the top line (``4310/4310 shown │ listen 3 │ ss 14:44:39 in 80ms``), which
        moves while the viewer refreshes, and a digest of that line: sockets, when, how long the read took."""
        top = self.screen()[:1]
        text = top[0] if top else ""
        total = re.search(r"/(\d+) shown", text)
        read = re.search(r"\b(\d\d:\d\d:\d\d) in (\d+)ms", text)
        if read is None:
            return None, "top line ?"
        return read.group(1), f"{total.group(1) if total else '?':>5} rows, read {read.group(1)} in {read.group(2)} ms"

    def record_death(self, when: float) -> None:
        """Keep the pane's last lines and the exit status its shell printed (waiting a moment for it)."""
        self.died_at = when
        deadline = time.monotonic() + 3
        while True:
            lines = self.screen(history=100000)
            said = next((line for line in reversed(lines) if line.startswith(STATUS_LINE)), None)
            if said is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if said is not None:  # what the viewer printed last is just above: the rest is tmux's
            lines = lines[: len(lines) - 1 - lines[::-1].index(said)]
        while lines and not lines[-1].strip():
            lines.pop()
        self.pane_file = Path(tempfile.gettempdir()) / f"{self.socket}-viewer-pane.txt"
        self.pane_file.write_text("\n".join(lines) + "\n")
        self.last_lines = condensed(lines)
        code = int(said.split()[-1]) if said else None
        if code is None:
            self.death = "exit status unknown"
        elif code > 128:
            self.death = f"killed by signal {code - 128} ({signal.Signals(code - 128).name})"
        else:
            self.death = f"exit status {code}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.run("kill-server", check=False)
        if self.pid is not None:
            end_process(self.pid)
        if self.socket_path.endswith(self.socket):  # tmux 3.3 leaves its socket file behind
            with contextlib.suppress(OSError):
                os.unlink(self.socket_path)


class Ticks:
    """What the viewer's row model meets each tick, estimated from watch's stream (same source, same
    interval, its own phase): a tick's events share one time. The model takes its bulk path when a tick
    opens more than 64 rows and more than a quarter of the rows it shows (live plus closed ones lingering
    5 s); the case that once crashed it is a bulk tick in which a row closed less than 5 s ago comes back."""

    LINGER = 5.0  # nettop.view.CLOSED_LINGER_SECONDS

    def __init__(self) -> None:
        self.sockets = 0  # as of the tick before: the baseline's count, plus opens, minus closes
        self.time = ""
        self.opened: list[tuple[Any, ...]] = []
        self.closed: list[tuple[Any, ...]] = []
        self.recent: deque[tuple[float, list[tuple[Any, ...]]]] = deque()  # closes of the last 5 s
        self.recent_keys: Counter[tuple[Any, ...]] = Counter()
        self.ticks = 0
        self.most_opened = 0
        self.bulk = 0
        self.bulk_with_back = 0  # the crash case
        self.back = 0  # rows opened less than 5 s after the same row closed

    def add(self, event: dict[str, Any]) -> None:
        if event["time"] != self.time:
            self.flush()
            self.time = event["time"]
        record = event.get("connection")
        if not isinstance(record, dict):
            return
        key = tuple(record.get(name) for name in ROW_KEY)
        if event["event"] == "open":
            self.opened.append(key)
        elif event["event"] == "close":
            self.closed.append(key)

    def flush(self) -> None:
        if not self.time:
            return
        try:
            now = datetime.fromisoformat(self.time).timestamp()
        except ValueError:
            now = 0.0
        while self.recent and now - self.recent[0][0] >= self.LINGER:
            for key in self.recent.popleft()[1]:
                self.recent_keys[key] -= 1
                if not self.recent_keys[key]:
                    del self.recent_keys[key]
        shown = self.sockets + sum(self.recent_keys.values())
        opened = len(self.opened)
        back = sum(1 for key in self.opened if key in self.recent_keys)
        self.ticks += 1
        self.back += back
        self.most_opened = max(self.most_opened, opened)
        if opened > 64 and opened > shown // 4:
            self.bulk += 1
            self.bulk_with_back += back > 0
        self.sockets += opened - len(self.closed)
        self.recent.append((now, self.closed))
        self.recent_keys.update(self.closed)
        self.opened, self.closed = [], []


def condensed(lines: list[str]) -> list[str]:
    """A crash's pane, shortened: from Textual's traceback (boxes, source, locals), each frame's place and
    the line marked as running (❱), then the last lines (the exception); else just the last 30 lines."""
    kept: list[str] = []
    for line in lines:
        text = line.strip("│ ").rstrip("│ ").strip()
        if re.search(r"\S+\.py:\d+ in \S+$", text):
            kept.append(text)
        elif text.startswith("❱") and kept:
            kept.append("    " + re.sub(r"\s{8,}[│╭╰].*$|\s*│\s*$", "", text))  # cut the locals box beside
    tail = [line.rstrip() for line in lines if line.strip() and not line.lstrip().startswith(("│", "╰", "╭"))][-5:]
    return kept[-16:] + tail if kept else [line.rstrip() for line in lines[-30:]]


class Watch:
    """`nettop watch --format ndjson` as a child; threads count its events and keep its last stderr lines."""

    def __init__(self, command: list[str], server_ports: set[int]) -> None:
        self.command = command
        self.server_ports = server_ports
        self.proc: subprocess.Popen[bytes] | None = None
        self.kinds: Counter[str] = Counter()
        self.lines = 0
        self.invalid = 0  # not JSON
        self.malformed = 0  # JSON, but not an event object
        self.bad_examples: list[str] = []
        self.of_load = 0  # events on a connection to or from the load's servers
        self.ticks = Ticks()
        self.stderr: deque[str] = deque(maxlen=20)
        self.baseline = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C in the terminal is handled here, which then ends it
        )
        for target in (self.read_events, self.read_stderr):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self.threads.append(thread)

    def read_events(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines += 1
            try:
                event = json.loads(raw)
            except ValueError:
                self.invalid += 1
                self.keep_example(raw)
                continue
            if not isinstance(event, dict) or event.get("event") not in EVENT_KINDS or "time" not in event:
                self.malformed += 1
                self.keep_example(raw)
                continue
            self.kinds[event["event"]] += 1
            self.ticks.add(event)
            record = event.get("connection") or {}
            if {record.get("local_port"), record.get("remote_port")} & self.server_ports:
                self.of_load += 1

    def keep_example(self, raw: bytes) -> None:
        if len(self.bad_examples) < 3:
            self.bad_examples.append(raw[:300].decode(errors="replace").rstrip())

    def read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.stderr.append(line)
            if "watching from" in line:
                found = re.search(r"\((\d+) sockets\)", line)
                self.ticks.sockets = int(found.group(1)) if found else 0
                self.baseline.set()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)  # how a watch ends
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for thread in self.threads:
            thread.join(10)
        self.ticks.flush()


def pid_running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def end_process(pid: int) -> None:
    """Terminate ``pid`` (one of ours), then kill it if it is still there after 5 s."""
    try:
        process = psutil.Process(pid)
        process.terminate()
        process.wait(5)
    except psutil.TimeoutExpired:
        with contextlib.suppress(psutil.Error):
            process.kill()
    except psutil.Error:
        pass


# --- measuring -----------------------------------------------------------------------------------------


class Meter:
    """RSS and CPU (own + reaped children, i.e. its `ss` runs) of one process, sampled over time."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.samples: list[tuple[float, float]] = []  # (seconds since the load began, RSS in MB)
        self.last_cpu: tuple[float, float] | None = None  # (wall, cpu seconds)

    def sample(self, pid: int | None, at: float) -> str:
        if pid is None or not pid_running(pid):
            return f"{self.name} DEAD".ljust(30)
        try:
            process = psutil.Process(pid)
            rss = process.memory_info().rss / 2**20
            times = process.cpu_times()
        except psutil.Error:
            return f"{self.name} DEAD".ljust(30)
        self.samples.append((at, rss))
        cpu_now = (time.monotonic(), sum(times[:4]))  # user, system, children_user, children_system
        cpu = ""
        if self.last_cpu is not None:
            share = 100 * (cpu_now[1] - self.last_cpu[1]) / max(cpu_now[0] - self.last_cpu[0], 1e-9)
            cpu = f"cpu {share:3.0f} %"
        self.last_cpu = cpu_now
        return f"{self.name} {rss:6.1f} MB {cpu:9}"

    def summary(self, per_minute: float) -> tuple[str, float | None]:
        """RSS first/last/max and the slope after the first minute; and that slope (None: too few samples)."""
        if not self.samples:
            return "no samples", None
        values = [mb for _, mb in self.samples]
        text = f"RSS first {values[0]:.1f} MB, last {values[-1]:.1f}, max {max(values):.1f}"
        late = [(at / 60, mb) for at, mb in self.samples if at >= 60 - 1]
        if len(late) < 2:
            return text + "; slope: too few samples after the first minute", None
        rate = slope(late)
        per_connection = rate * 2**20 / per_minute if per_minute else 0.0
        text += (
            f"; slope after the first minute {rate:+.2f} MB/min over {len(late)} samples"
            f" (~{per_connection:.0f} bytes per connection churned)"
        )
        if len(late) < MIN_LATE_SAMPLES:
            return text + ": too few samples to judge", None
        return text, rate


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def tcp_sockets() -> str:
    """TCP sockets on the machine, IPv4 and IPv6, and how many of them are in TIME_WAIT."""
    numbers: dict[str, int] = {}
    for name in ("/proc/net/sockstat", "/proc/net/sockstat6"):
        with contextlib.suppress(OSError), open(name) as file:
            for line in file:
                label, _, rest = line.partition(":")
                if label in ("TCP", "TCP6"):
                    fields = rest.split()
                    for key, value in zip(fields[::2], fields[1::2], strict=False):
                        numbers[f"{label} {key}"] = int(value)
    inuse = numbers.get("TCP inuse", 0) + numbers.get("TCP6 inuse", 0)
    waiting = numbers.get("TCP tw", 0)
    return f"{inuse + waiting:5d} ({waiting:5d} tw)"


def clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


# --- the soak ------------------------------------------------------------------------------------------


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.seconds = args.minutes * 60
        command = nettop_command(args.nettop)
        self.viewer = Viewer([*command, "--interval", f"{args.interval:g}"])
        self.listeners = {address: self.listener(address) for address in ADDRESSES}
        ports = {sock.getsockname()[1] for sock in self.listeners.values()}
        self.watch = Watch([*command, "watch", "--format", "ndjson", "--interval", f"{args.interval:g}"], ports)
        self.meters = {"viewer": Meter("viewer"), "watch": Meter("watch")}
        self.context = mp.get_context("fork")
        self.stop_load = self.context.Event()
        self.load_out: mp.Queue = self.context.Queue()  # type: ignore[type-arg]
        self.load: mp.process.BaseProcess | None = None
        self.load_stats: dict[str, Any] = {}
        self.began = 0.0
        self.ended = 0.0
        self.shown: list[str | None] = []
        self.frozen = 0
        self.interrupted = False
        self.watch_death = ""
        self.viewer_alive_at_end = False
        self.watch_alive_at_end = False

    @staticmethod
    def listener(address: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((address, 0))
        sock.listen(4096)
        sock.settimeout(5.0)  # an accept never waits forever
        return sock

    def run(self) -> None:
        args = self.args
        print(
            f"soak: {args.minutes:g} min; viewer and watch at --interval {args.interval:g} s; load {args.rate:g}"
            f" connections/s on {' and '.join(ADDRESSES)}, bursts of {args.burst} every ~{args.burst_every:g} s",
            flush=True,
        )
        self.viewer.start()
        self.watch.start()
        print(f"  viewer pid {self.viewer.pid}: see it with  tmux -L {self.viewer.socket} attach -t {SESSION}")
        print(f"  watch pid {self.watch.pid}; load servers on ports {sorted(self.watch.server_ports)}", flush=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.viewer.alive() and self.watch.alive():
            if self.watch.baseline.is_set() and self.viewer.top_line()[0]:
                break
            time.sleep(0.5)
        else:
            print("  nettop did not come up within 2 minutes (or died): measuring anyway", flush=True)
        self.load = self.context.Process(
            target=run_load,
            args=(self.listeners, args.rate, args.burst, args.burst_every, self.seconds + 300, self.stop_load),
            kwargs={"out": self.load_out},
            daemon=True,
        )
        self.load.start()
        for sock in self.listeners.values():
            sock.close()  # the load process has them
        self.began = time.monotonic()
        self.sample(0.0)
        next_sample = SAMPLE_EVERY
        while True:
            now = time.monotonic() - self.began
            if now >= self.seconds:
                break
            self.drain_load()
            self.check_deaths(now)
            if now >= next_sample:
                self.sample(now)
                next_sample += SAMPLE_EVERY
            time.sleep(min(1.0, max(0.05, min(next_sample, self.seconds) - now)))
        self.check_deaths(self.seconds)
        self.sample(time.monotonic() - self.began)

    def drain_load(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self.load_stats = self.load_out.get_nowait()

    def check_deaths(self, now: float) -> None:
        if self.viewer.died_at is None and not self.viewer.alive():
            self.viewer.record_death(now)
            print(f"  {clock(now)}  viewer DIED ({self.viewer.death})", flush=True)
        if not self.watch_death and not self.watch.alive():
            self.watch_death = f"at {clock(now)}, exit status {self.watch.proc.poll() if self.watch.proc else '?'}"
            print(f"  {clock(now)}  watch DIED ({self.watch_death})", flush=True)

    def sample(self, at: float) -> None:
        viewer = self.meters["viewer"].sample(self.viewer.pid, at)
        watch = self.meters["watch"].sample(self.watch.pid, at)
        counts = self.load_stats.get("counts", {})
        elapsed = self.load_stats.get("elapsed", 0.0)
        rate = counts.get("opened", 0) / elapsed if elapsed else 0.0
        shown, screen = None, "viewer gone"
        if self.viewer.died_at is None and self.viewer.alive():
            shown, screen = self.viewer.top_line()
        if shown is not None and self.shown and shown == self.shown[-1]:
            self.frozen += 1
            screen += " FROZEN"
        self.shown.append(shown)
        churn = f"churn {rate:5.1f}/s" if elapsed else "load starting"
        print(
            f"  {clock(at)}  {viewer}  {watch}  {churn}  tcp {tcp_sockets()}  watch {self.watch.lines:6d} events"
            f"  | viewer: {screen}",
            flush=True,
        )

    def cleanup(self) -> None:
        """Stop everything this started: the load, watch, the tmux server and the viewer in it."""
        self.ended = time.monotonic()
        if self.viewer.pid is not None and self.viewer.died_at is None and not self.viewer.alive():
            self.viewer.record_death(self.ended - self.began)
        self.viewer_alive_at_end = self.viewer.died_at is None and self.viewer.alive()
        self.watch_alive_at_end = self.watch.alive()
        self.stop_load.set()
        if self.load is not None:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not self.load_stats.get("final"):
                with contextlib.suppress(queue.Empty):
                    self.load_stats = self.load_out.get(timeout=0.5)
                if not self.load.is_alive() and self.load_out.empty():
                    break
            self.load.join(10)
            if self.load.is_alive():
                self.load.kill()
                self.load.join(5)
        for sock in self.listeners.values():
            sock.close()
        self.watch.stop()
        self.viewer.stop()

    def report(self) -> bool:
        ran = (self.ended or time.monotonic()) - self.began if self.began else 0.0
        counts: dict[str, int] = self.load_stats.get("counts", {})
        elapsed = self.load_stats.get("elapsed", 0.0)
        rate = counts.get("opened", 0) / elapsed if elapsed else 0.0
        print()
        heading = f"after {clock(ran)}" + (" (interrupted)" if self.interrupted else "")
        print(f"soak {heading}:")
        per_minute = rate * 60
        limit = self.args.max_slope
        failures: list[str] = []

        viewer_alive = self.viewer_alive_at_end
        if viewer_alive:
            print(f"viewer (pid {self.viewer.pid}): alive")
        else:
            when = clock(self.viewer.died_at) if self.viewer.died_at is not None else "?"
            print(f"viewer (pid {self.viewer.pid}): DIED at {when}, {self.viewer.death or 'status unknown'}")
            where = f" (all of it in {self.viewer.pane_file})" if self.viewer.pane_file else ""
            print(f"  the pane's traceback, shortened{where}:")
            for line in self.viewer.last_lines:
                print(f"  | {line.rstrip()}")
            failures.append("the viewer crashed")
        text, viewer_slope = self.meters["viewer"].summary(per_minute)
        print(f"  {text}")
        if self.frozen:
            print(f"  the top line's collection time stood still across {self.frozen} of the 30 s samples")
            failures.append("the viewer stopped refreshing")

        watch_alive = self.watch_alive_at_end
        print(f"watch (pid {self.watch.pid}): " + ("alive" if watch_alive else f"DIED {self.watch_death}"))
        if not watch_alive:
            for line in self.watch.stderr:
                print(f"  | {line}")
            failures.append("watch died")
        text, watch_slope = self.meters["watch"].summary(per_minute)
        print(f"  {text}")
        kinds = ", ".join(f"{kind} {self.watch.kinds.get(kind, 0)}" for kind in ("open", "change", "close", "error"))
        print(f"  {self.watch.lines} NDJSON lines: {kinds}; {self.watch.of_load} of them on the load's connections")
        if self.watch.invalid or self.watch.malformed:
            print(f"  NOT all valid: {self.watch.invalid} not JSON, {self.watch.malformed} not an event object, e.g.:")
            for example in self.watch.bad_examples:
                print(f"  | {example}")
            failures.append("watch printed invalid lines")
        else:
            print("  every line is a JSON object with a known event and a time")
        ticks = self.watch.ticks
        print(
            f"  what the viewer's rows met, as watch saw it: {ticks.ticks} ticks with events, at most"
            f" {ticks.most_opened} rows opened in one; {ticks.back} rows back less than 5 s after closing;"
            f" {ticks.bulk} bulk ticks (> 64 rows opened and > 1/4 of those shown), {ticks.bulk_with_back} of"
            " them with a row coming back (the case that once crashed the viewer)"
        )
        if self.watch.lines == 0:
            failures.append("watch printed no events")
        if self.watch.kinds.get("error"):
            print(f"  {self.watch.kinds['error']} collections failed (error events)")

        closes = ", ".join(f"{how} {counts.get(f'closed {how}', 0)}" for how in ("fin-client", "fin-server", "rst"))
        print(
            f"load: {counts.get('opened', 0)} connections in {elapsed:.0f} s = {rate:.1f}/s"
            f" (target {self.args.rate:g}/s), {counts.get('reopened', 0)} of them re-opened from the same port"
            f" ({counts.get('reopen failed', 0)} re-openings failed)"
        )
        burst_ms = self.load_stats.get("burst_ms", [])
        slowest = f", each opened in at most {max(burst_ms):.0f} ms" if burst_ms else ""
        print(
            f"  bursts: {counts.get('bursts', 0)}, {counts.get('burst opened', 0)} connections{slowest};"
            f" {counts.get('sentinels back', 0)} reset just before came back with them,"
            f" {counts.get('burst back', 0)} came back after the burst was reset"
        )
        print(f"  closed: {closes}")
        errors = {name[6:]: number for name, number in counts.items() if name.startswith("error ")}
        if errors:
            print("  socket errors: " + ", ".join(f"{name} {number}" for name, number in sorted(errors.items())))
        if elapsed and rate < 0.9 * self.args.rate:
            print(f"  (the load fell short of its target: the churn was {rate / self.args.rate:.0%} of it)")

        for name, value in (("viewer", viewer_slope), ("watch", watch_slope)):
            if value is not None and value >= limit:
                failures.append(f"{name} RSS grows {value:+.2f} MB/min")
        slopes = ", ".join(
            f"{name} {value:+.2f}"
            for name, value in (("viewer", viewer_slope), ("watch", watch_slope))
            if value is not None
        )
        if failures:
            verdict = "FAIL: " + "; ".join(failures)
        elif viewer_slope is None or watch_slope is None:
            verdict = f"NO CRASH; RSS not judged (fewer than {MIN_LATE_SAMPLES} samples after the first minute)"
        else:
            verdict = f"PASS: no crash, RSS flat ({slopes} MB/min, limit {limit:g})"
        met = self.watch.ticks.bulk_with_back
        verdict += f"; crash case met in {met} ticks" if met else "; crash case NOT met (the bursts did not reach it)"
        if self.interrupted:
            verdict += " (interrupted)"
        print(f"verdict: {verdict}", flush=True)
        return not failures


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to soak (default 10)")
    parser.add_argument("--rate", type=float, default=200.0, help="loopback connections opened a second")
    parser.add_argument("--burst", type=int, default=300, help="connections opened at once in a burst (0: none)")
    parser.add_argument("--burst-every", type=float, default=20.0, help="seconds between bursts (about)")
    parser.add_argument("--interval", type=float, default=1.0, help="the viewer's and watch's --interval")
    parser.add_argument("--nettop", help="the command that runs nettop (default: the nettop beside this python)")
    parser.add_argument("--max-slope", type=float, default=1.0, help="RSS growth limit, MB per minute")
    args = parser.parse_args()
    if args.rate <= 0 or args.minutes <= 0 or args.burst_every < 8:
        parser.error("--rate and --minutes must be positive, --burst-every at least 8 (s)")
    if shutil.which("tmux") is None:
        print("soak: tmux is needed for the viewer (apt-get install tmux)", file=sys.stderr)
        return 2
    raise_fd_limit()

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    soak = Soak(args)
    try:
        soak.run()
    except KeyboardInterrupt:
        soak.interrupted = True
    finally:
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_IGN)  # cleanup runs to its end
        soak.cleanup()
    return 0 if soak.report() else 1


if __name__ == "__main__":
    sys.exit(main())
