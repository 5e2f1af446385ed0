"""Regenerate the SVG screenshots in this folder; the app renders them itself (Textual's screenshots).

    python3 screenshots/make.py            # rewrite them
    python3 screenshots/make.py --check    # exit 1, naming them, if any is out of date

The data are scripted (a believable server, documentation addresses), the clock is frozen, so the
pictures change only when the UI does.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from nettop import config  # noqa: E402
from nettop.app import NettopApp  # noqa: E402
from nettop.model import Proto, State, Traffic  # noqa: E402
from nettop.policy.rules import parse_policy  # noqa: E402
from tests.demo_data import demo_records  # noqa: E402
from tests.scripted import FakeClock, ScriptedSource, conn  # noqa: E402

SHOTS = [
    # (file, size, keys pressed after the first snapshot)
    ("main-120x35.svg", (120, 35), []),
    ("main-80x24.svg", (80, 24), []),
    ("main-200x50.svg", (200, 50), []),
    ("filter.svg", (120, 35), ["slash", *"port:443", "space", *"-state:listen"]),
    ("details.svg", (120, 35), ["down", "down", "down", "enter"]),
    ("help.svg", (100, 40), ["question_mark"]),
    ("events.svg", (120, 35), ["e", "refresh"]),
    ("policy.svg", (120, 35), ["policy"]),
    ("traffic.svg", (150, 35), ["traffic", "sort:rx"]),
    ("kill.svg", (120, 35), [*["down"] * 8, "k"]),  # an nginx worker with five connections
    ("settings.svg", (100, 30), ["config", "s", "S"]),
    ("processes.svg", (120, 35), ["traffic", "p", "enter"]),
]


def later_records() -> list:  # type: ignore[type-arg]
    """The demo a refresh later: a connection closed, one went to TIME_WAIT, two opened."""
    records = demo_records()
    records[10] = records[10]._replace(state=State.TIME_WAIT, owners=())
    del records[14]
    return [*records, conn(443, 50999, local_ip="198.51.100.7", remote_ip="203.0.113.99", name="nginx", pid=1191),
            conn(8443, name="caddy", pid=5012, user="caddy", local_ip="0.0.0.0")]  # fmt: skip


#: For policy.svg: ssh and the web server expected, a metrics agent missing, the database must stay local.
DEMO_POLICY = """
[[listen]]
port = 22
proto = "tcp"
program = "sshd"
[[listen]]
port = 443
proto = "tcp"
program = "nginx"
[[listen]]
port = 9273
proto = "tcp"
program = "telegraf"
[[forbid]]
port = 6379
"""


#: For settings.svg: a config file that sets the interval and hides TIME_WAIT (the sort is then changed by s).
DEMO_SETTINGS = config.Loaded(
    Path("/home/alice/.config/nettop/config.toml"),
    config.Settings(interval=60.0, hide_states=("time_wait",)),
    {**dict.fromkeys(config.KEYS, "default"), "interval": "file", "hide_states": "file"},
)


def with_traffic(records: list) -> list:  # type: ignore[type-arg]
    """The demo as the netlink source reads it: each TCP connection with bytes, rates and a round-trip time."""
    out = []
    for at, record in enumerate(records):
        if record.proto is Proto.TCP and record.remote_port is not None and record.state is State.ESTABLISHED:
            rate = (at * 7919) % 2_500_000
            record = record._replace(traffic=Traffic(rate * 40, rate * 3, 180 + at * 37, at % 3, rate, rate // 12))
        out.append(record)
    return out


async def shoot(name: str, size: tuple[int, int], keys: list[str], folder: Path = HERE) -> None:
    clock = FakeClock()
    traffic = "traffic" in keys
    script = [demo_records(), later_records()]
    source = ScriptedSource([with_traffic(s) for s in script] if traffic else script, clock,
                            "netlink" if traffic else "scripted")  # fmt: skip
    policy = parse_policy(DEMO_POLICY, "policy.toml") if "policy" in keys else None
    settings = DEMO_SETTINGS if "config" in keys else None
    keys = [key for key in keys if key not in ("policy", "traffic", "config")]
    start = settings.settings.start_filter if settings is not None else ""
    app = NettopApp(source, interval=60, filter_text=start, clock=clock, policy=policy, settings=settings)
    async with app.run_test(size=size) as pilot:
        while source.collected < 1:
            await pilot.pause(0.01)
        await pilot.pause()
        for key in keys:
            if key == "refresh":  # a second snapshot, a second later on the frozen clock
                clock.now += 1
                app.refresh_now()
                while source.collected < 2:
                    await pilot.pause(0.01)
                await pilot.pause()
            elif key.startswith("sort:"):
                app.sort_column = key.removeprefix("sort:")
            else:
                await pilot.press(key)
        await pilot.pause()
        app.save_screenshot(filename=name, path=str(folder))


def main() -> None:
    os.environ["TZ"] = "UTC"  # times on screen are local: the same pictures on every machine
    time.tzset()
    if "--check" not in sys.argv[1:]:
        for name, size, keys in SHOTS:
            asyncio.run(shoot(name, size, keys))
            print(f"wrote screenshots/{name}")
        return
    with tempfile.TemporaryDirectory() as scratch:
        stale = []
        for name, size, keys in SHOTS:
            asyncio.run(shoot(name, size, keys, Path(scratch)))
            saved = HERE / name
            if not saved.exists() or saved.read_bytes() != (Path(scratch) / name).read_bytes():
                stale.append(name)
    if stale:
        sys.exit(f"out of date: {', '.join(stale)}; run python3 screenshots/make.py")
    print(f"all {len(SHOTS)} screenshots match the UI")


if __name__ == "__main__":
    main()
