"""Time the viewer's row filter over 25,000 records: the predicate the rows model calls once per row.

    python3 benchmarks/bench_filter.py

For each filter it prints the best of several runs of (a) the filter alone over every record and (b) a
whole ``RowsModel.resort`` (filter, sort keys, sort) with it, in milliseconds, and how many rows it keeps.
"""

from __future__ import annotations

import json
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nettop.app import NettopApp
from nettop.model import Connection, Proto, State
from nettop.query import Query
from nettop.snapshots import diff, index_records
from nettop.view import RowsModel
from tests.scripted import FakeClock, ScriptedSource, conn

NAMES = ["nginx", "sshd", "postgres", "dnsmasq", "python3", "redis-server", "node"]


def records(n: int = 25_000) -> list[Connection]:
    out = []
    for i in range(n):
        k, name, pid = i % 10, NAMES[i % len(NAMES)], 1000 + i % 300
        if k == 0:
            out.append(conn(1024 + i, name=name, pid=pid))
        elif k == 1:
            out.append(conn(2000 + i % 60000, proto=Proto.UDP, name=name, pid=pid))
        elif k < 6:
            remote = f"192.0.2.{i % 250}"
            out.append(
                conn(
                    443 if k == 2 else 5432,
                    10000 + i % 50000,
                    local_ip="10.0.0.1",
                    remote_ip=remote,
                    name=name,
                    pid=pid,
                )
            )
        elif k < 8:
            out.append(conn(8080, 20000 + i % 40000, local_ip="::1", family=6, name=name, pid=pid))
        else:
            out.append(conn(30000 + i % 30000, 80, remote_ip=f"198.51.100.{i % 250}", pid=None, state=State.TIME_WAIT))
    return out


RECORDS = records()
#: (toggle keys pressed, typed filter, baseline marked on every other record)
CASES = {
    "port:443": ("", "port:443", False),
    "nginx (free text)": ("", "nginx", False),
    "state:listen -proto:udp": ("", "state:listen -proto:udp", False),
    "l (listening toggle)": ("l", "", False),
    "l t 4 + port:443": ("lt4", "port:443", False),
    "baseline": ("", "", True),
    "baseline + t + prog:ng": ("t", "prog:ng", True),
}


def viewer_filter(keys: str, text: str, baseline: bool):  # type: ignore[no-untyped-def]
    """The predicate the viewer hands its rows model, made as the app makes it (no app running)."""
    app = NettopApp(ScriptedSource([[]], FakeClock()), filter_text=text)
    toggles = Query()
    for key in keys:  # as the l, t and 4 keys set them
        toggles = toggles.replaced(*{"l": ("is", "listening"), "t": ("proto", "tcp"), "4": ("fam", "4")}[key])
    app.set_reactive(NettopApp.quick, toggles)  # not running: no watcher may fire
    if baseline:
        app.baseline = {r.key: (r.state, tuple(o.pid for o in r.owners)) for r in RECORDS[::2]}
    return app.row_filter()


def main() -> None:
    model = RowsModel()
    index = index_records(RECORDS)
    model.apply(index, diff({}, index), 0.0)
    result = {}
    for name, case in CASES.items():
        keep = viewer_filter(*case)
        loop = min(timeit.repeat(lambda k=keep: [r for r in RECORDS if k(r)], number=1, repeat=15))
        resort = min(timeit.repeat(lambda k=keep: model.resort("proto", k), number=1, repeat=7))
        result[name] = (loop * 1000, resort * 1000, sum(1 for r in RECORDS if keep(r)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
