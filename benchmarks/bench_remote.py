"""Remote refresh over ssh, and the exporter's scrape, with N live loopback connections.

    python3 benchmarks/bench_remote.py                 # 5,000 connections for ssh, 10,000 for the scrape
    python3 benchmarks/bench_remote.py --n 2000 --scrape-n 2000

In a network namespace of its own (root; see bench_sources.py), with the loopback holders of loopback.py and a
real sshd on 127.0.0.1 started the tests' way (tests/sshd.py) in that namespace, so that "the host" lists
exactly these sockets. Printed, as medians where repeated:

- ``--host`` with nettop's collector: the first refresh (connect, send the collector, full answer) and the next
  ones, 1 s apart while 1 % of the connections are replaced each second; bytes received and sent per refresh;
- the same with ``--remote-reader ss`` (ss's whole text every refresh);
- ``nettop exporter``: one scrape (a fresh collection and the text) at 2 x scrape-n sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_sources import own_network_namespace, raise_fd_limit
from loopback import loopback_connections

from nettop.exporter import ScrapeCollector
from nettop.remote.ssh import SshOptions
from nettop.sources import platform_source
from nettop.sources.remote import RemoteSource
from tests import sshd

NEXT_REFRESHES = 5


async def refreshes(source: RemoteSource) -> tuple[float, list[float], int, list[int], int]:
    """The first refresh's ms and bytes received, the next ones' ms and bytes, and the records."""
    started = time.perf_counter()
    snapshot = await source.collect()
    first, first_bytes = (time.perf_counter() - started) * 1000, source.last_received
    times, sizes = [], []
    for _ in range(NEXT_REFRESHES):
        await asyncio.sleep(1.0)
        started = time.perf_counter()
        snapshot = await source.collect()
        times.append((time.perf_counter() - started) * 1000)
        sizes.append(source.last_received + source.last_sent)
    await source.close()
    return first, times, first_bytes, sizes, len(snapshot.records)


def scrape_ms(runs: int = 5) -> list[float]:
    ticks = iter(range(0, 10_000, 10))  # a clock that moves 10 s a call: every scrape collects afresh
    collector = ScrapeCollector(platform_source(), clock=lambda: float(next(ticks)))
    from prometheus_client.exposition import generate_latest
    from prometheus_client.registry import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    times = []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            generate_latest(registry)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        collector.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="connections for the ssh refreshes")
    parser.add_argument("--scrape-n", type=int, default=10_000, help="connections for the exporter's scrape")
    options = parser.parse_args()
    reason = sshd.available()
    if reason is not None:
        sys.exit(f"bench_remote: {reason}")
    raise_fd_limit()
    print(f"network namespace: {own_network_namespace()}")
    with (
        loopback_connections(options.n, churn=0.01) as opened,
        tempfile.TemporaryDirectory() as tmp,
        sshd.ssh_server(Path(tmp) / "ssh") as server,
    ):
        ssh = SshOptions(str(server.config))
        for reader in ("python", "ss"):
            source = RemoteSource(server.alias, ssh, timeout=60, reader=reader)
            first, times, first_bytes, sizes, records = asyncio.run(refreshes(source))
            print(
                f"--host, reader {reader:<6} {opened:,} connections ({records:,} records): first refresh "
                f"{first:7.0f} ms, {first_bytes / 1024:8.0f} kB;  next (median of {NEXT_REFRESHES}, 1 % "
                f"churn/s) {statistics.median(times):6.0f} ms, {statistics.median(sizes) / 1024:7.1f} kB"
            )
    with loopback_connections(options.scrape_n) as opened:
        times = scrape_ms()
        print(
            f"exporter scrape, {opened:,} connections ({2 * opened:,} sockets): median {statistics.median(times):.0f}"
            f" ms (min {min(times):.0f}, max {max(times):.0f})"
        )


if __name__ == "__main__":
    main()
