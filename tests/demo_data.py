"""A believable busy server's sockets, for screenshots and snapshot tests (documentation addresses only)."""

from __future__ import annotations

from dataclasses import replace

from nettop.cgroups import Placement, classify
from nettop.model import Connection, Proto, State
from tests.scripted import conn


def demo_records() -> list[Connection]:
    records = [
        conn(22, name="sshd", pid=812, user="root", local_ip="0.0.0.0"),
        conn(22, name="sshd", pid=812, user="root", local_ip="::", family=6),
        conn(80, name="nginx", pid=1190, user="www-data", local_ip="0.0.0.0"),
        conn(443, name="nginx", pid=1190, user="www-data", local_ip="0.0.0.0"),
        conn(443, name="nginx", pid=1190, user="www-data", local_ip="::", family=6),
        conn(5432, name="postgres", pid=977, user="postgres"),
        conn(6379, name="redis-server", pid=1021, user="redis"),
        conn(9100, name="node_exporter", pid=1402, user="prometheus", local_ip="0.0.0.0"),
        conn(53, proto=Proto.UDP, name="systemd-resolve", pid=655, user="systemd-resolve", local_ip="127.0.0.53"),
        conn(123, proto=Proto.UDP, name="chronyd", pid=702, user="_chrony", local_ip="0.0.0.0"),
        conn(22, 51234, local_ip="198.51.100.7", remote_ip="203.0.113.45", name="sshd", pid=2301, user="alice"),
        conn(5432, 40112, name="postgres", pid=3310, user="postgres"),
        conn(40112, 5432, name="gunicorn", pid=2877, user="app"),
        conn(6379, 40220, name="redis-server", pid=1021, user="redis"),
        conn(40220, 6379, name="gunicorn", pid=2877, user="app"),
        conn(
            9100,
            33012,
            local_ip="198.51.100.7",
            remote_ip="192.0.2.20",
            name="node_exporter",
            pid=1402,
            user="prometheus",
        ),
        conn(
            44718,
            443,
            local_ip="198.51.100.7",
            remote_ip="192.0.2.80",
            name="apt",
            pid=4410,
            user="_apt",
            state=State.CLOSE_WAIT,
        ),
        conn(
            443,
            60311,
            local_ip="2001:db8::7",
            remote_ip="2001:db8:5::19",
            family=6,
            name="nginx",
            pid=1191,
            user="www-data",
        ),
    ]
    for n in range(12):
        records.append(
            conn(
                443,
                50000 + n * 7,
                local_ip="198.51.100.7",
                remote_ip=f"203.0.113.{10 + n}",
                name="nginx",
                pid=1191 + n % 3,
                user="www-data",
            )
        )
    for n in range(4):
        records.append(
            conn(
                80, 41000 + n, local_ip="198.51.100.7", remote_ip=f"192.0.2.{100 + n}", pid=None, state=State.TIME_WAIT
            )
        )
    return [_placed(record) for record in records]


#: Where the demo's processes run (systemd units, a container): the Unit column's cells.
PLACES = {
    "sshd": "/system.slice/ssh.service",
    "nginx": "/system.slice/nginx.service",
    "postgres": "/system.slice/system-postgresql.slice/postgresql@15-main.service",
    "redis-server": "/system.slice/docker-" + "3f2a9c1b7e4d" * 5 + "3f2a.scope",
    "node_exporter": "/system.slice/prometheus-node-exporter.service",
    "systemd-resolve": "/system.slice/systemd-resolved.service",
    "chronyd": "/system.slice/chrony.service",
    "gunicorn": "/system.slice/app.service",
    "apt": "/system.slice/apt-daily.service",
}


def _placement(cgroup: str | None) -> Placement | None:
    return classify(cgroup) if cgroup is not None else None


def _placed(record: Connection) -> Connection:
    owners = tuple(replace(owner, placement=_placement(PLACES.get(owner.name or ""))) for owner in record.owners)
    return record._replace(owners=owners)
