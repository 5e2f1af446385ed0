"""Every parser takes time linear in its input, on inputs crafted to make a careless one super-linear.

Each case builds an adversarial text of size n and of size 4n and times the parse of each (CPU time, best of a
few runs, after a warm-up). Linear work grows 4x; the bound is 10x (4 x 2.5), which leaves room for a noisy
2-core VM and for the constant costs of a small input, while a quadratic parser (16x, more where its quadratic
part dominates, as at the sizes chosen here) or a cubic one fails it. Sizes are set so that the small input
takes some 5-30 ms: the whole file runs in a few seconds.

The known cases came from a security review: sockstat rows with long runs of spaces (a backtracking regex: 2 KB
took 26 s), ``users:((`` repeated on an ss line (a lazy ``.*?``: 96 KB took 11 s), and many `` *:*`` on one ss
line (a search back to the line start for each).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import pytest

from nettop.errors import NettopError
from nettop.formats import lsof, netstat_bsd, netstat_linux, parse_text, procnet, sockstat, ss, windows
from nettop.model import OwnerStatus
from nettop.sources.linux import LiveListing

#: How much more time 4x the input may take: linear is 4.
BOUND = 4 * 2.5

SS_HEADER = "Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
NETSTAT_HEADER = (
    "Active Internet connections (servers and established)\n"
    "Proto Recv-Q Send-Q Local Address Foreign Address State User Inode PID/Program name Security Context Timer\n"
)
BSD_HEADER = (
    "Active Internet connections (including servers)\n"
    "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)     rhiwat shiwat    pid   epid\n"
)
LSOF_HEADER = "COMMAND     PID   USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME\n"
SOCKSTAT_HEADER = "USER     COMMAND    PID   FD  PROTO     LOCAL ADDRESS         FOREIGN ADDRESS       CONN STATE\n"
WINDOWS_HEADER = (
    "\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n"
)
PROC_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def _live(text: str) -> object:
    """ss's live reader, which strips ``timer:(…)`` first, with no owners to give."""

    def owners(inodes: set[int]) -> tuple[Callable[..., tuple[tuple[()], OwnerStatus]], None]:
        return (lambda inode, state, uid: ((), OwnerStatus.NOT_REPORTED)), None

    return LiveListing().read(text, owners)


def _refused(parse: Callable[[str], object]) -> Callable[[str], object]:
    """``parse``, for an input it may refuse: a refusal is an outcome like any other."""

    def run(text: str) -> object:
        try:
            return parse(text)
        except NettopError as error:
            return error

    return run


#: name → (parser, the adversarial text of size n, n for the small input).
CASES: dict[str, tuple[Callable[[str], object], Callable[[int], str], int]] = {
    # The three known cases.
    "sockstat rows with long runs of spaces": (
        sockstat.parse,
        lambda n: SOCKSTAT_HEADER + ("root" + ("   " * 8 + "x") * 200 + "\n") * (n // 200),
        100_000,
    ),
    "ss users:(( repeated on a line": (
        ss.parse,
        lambda n: SS_HEADER + "tcp LISTEN 0 5 127.0.0.1:80 0.0.0.0:* " + 'users:(("' * n + "\n",
        300_000,
    ),
    "ss *:* repeated on a line": (
        ss.parse,
        lambda n: SS_HEADER + "tcp LISTEN 0 5 foo:80" + " *:*" * n + "\n",
        40_000,
    ),
    # One adversarial input a parser, and detection.
    "ss: a socket with many owners, and many lines": (
        ss.parse,
        lambda n: (
            SS_HEADER
            + "tcp LISTEN 0 5 127.0.0.1:80 0.0.0.0:* users:("
            + ",".join(f'("w{i}",pid={i},fd=3)' for i in range(n))
            + ")\n"
            + "".join(f"tcp ESTAB 0 0 10.0.{i // 250 % 250}.{i % 250}:{i % 60000} 1.2.3.4:443\n" for i in range(n // 4))
        ),
        5_000,
    ),
    "ss live: timer:( repeated on a line": (
        _live,
        lambda n: SS_HEADER + "tcp ESTAB 0 0 127.0.0.1:80 1.2.3.4:5" + " timer:(" * n + "\n",
        20_000,
    ),
    "netstat-linux: long cells and runs of spaces": (
        netstat_linux.parse,
        lambda n: (
            NETSTAT_HEADER
            + ("tcp 0 0 1.2.3.4:80 0.0.0.0:* LISTEN 0 1 9/" + "a   " * 100 + " ctx off (0.00/0/0)\n") * (n // 100)
            + "tcp 0 0 1.2.3.4:80 0.0.0.0:* LISTEN"
            + " " * n
            + "\n"
        ),
        300_000,
    ),
    "netstat-bsd: many header-like lines and a long row": (
        netstat_bsd.parse,
        lambda n: (
            BSD_HEADER
            + "Proto Local Address Foreign Address x\n" * (n // 8)
            + "tcp4 0 0 1.2.3.4.80 *.* LISTEN"
            + " 1" * n
            + "\n"
        ),
        40_000,
    ),
    "lsof: one socket held by many processes": (
        lsof.parse,
        lambda n: LSOF_HEADER + "".join(f"nginx {i} www 6u IPv4 21535 0t0 TCP *:80 (LISTEN)\n" for i in range(1, n)),
        4_000,
    ),
    "sockstat: one socket held by many processes": (
        sockstat.parse,
        lambda n: SOCKSTAT_HEADER + "".join(f"www nginx {i} 6 tcp4 *:80 *:* LISTEN\n" for i in range(1, n)),
        3_000,
    ),
    "netstat-windows: rows under many lines": (
        windows.parse,
        lambda n: (
            WINDOWS_HEADER
            + "  TCP    0.0.0.0:135   0.0.0.0:0   LISTENING   1712\r\n"
            + "  RpcSs\r\n" * n
            + " [svchost.exe]\r\n"
            + "  TCP    0.0.0.0:445   0.0.0.0:0   LISTENING   4\r\n" * (n // 4)
        ),
        10_000,
    ),
    "proc-net: long lines": (
        procnet.parse,
        lambda n: (
            PROC_HEADER
            + ("   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1" + " 0" * 50 + "\n")
            * (n // 50)
        ),
        100_000,
    ),
    "detection: a long first line": (
        _refused(parse_text),
        lambda n: "Proto" + " x" * n,
        100_000,
    ),
    "detection: ss rows after a long run of blank lines": (
        _refused(parse_text),
        lambda n: "\n" * n + SS_HEADER + "tcp LISTEN 0 5 127.0.0.1:80 0.0.0.0:*\n" * (n // 8),
        40_000,
    ),
}


def cpu_time(parse: Callable[[str], object], text: str, runs: int = 3) -> float:
    """The best CPU time of ``runs`` parses of ``text`` (the collector paused, as a long parse would not be)."""
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            started = time.process_time()
            parse(text)
            best = min(best, time.process_time() - started)
        finally:
            gc.enable()
    return best


@pytest.mark.parametrize("case", CASES)
def test_four_times_the_input_takes_at_most_about_four_times_the_time(case: str) -> None:
    parse, build, n = CASES[case]
    small, large = build(n), build(4 * n)
    parse(small)  # warm-up: imports, caches
    small_time = max(cpu_time(parse, small), 1e-3)  # below a millisecond, the clock's grain and noise dominate
    large_time = cpu_time(parse, large)
    ratio = large_time / small_time
    assert ratio < BOUND, f"{case}: {len(large):,} characters took {ratio:.1f}x the time of {len(small):,}"
