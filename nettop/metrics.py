"""A snapshot as Prometheus metrics: what ``nettop exporter`` serves and ``nettop list --format prometheus`` writes
(for node_exporter's textfile collector).

Names follow Prometheus' conventions (``nettop_`` prefix, base units, ``_total`` for counters) and node_exporter's
where they overlap: state labels are its tcpstat collector's (``established``, ``time_wait``, …). No label ever
holds a remote address or port, nor a local ephemeral port: series must stay bounded however busy the machine.
A listener's port is a label (a machine listens on few ports, and which one is the point).

Read from remote hosts (``--host``), every socket series and policy result has a ``host`` label first (as the
host was given: an ssh alias, ``user@name``), and ``nettop_host_up`` says which hosts answered the last collection.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from nettop import __version__
from nettop.exposure import exposure
from nettop.model import Connection, OwnerStatus, Snapshot
from nettop.policy.check import CheckReport, Status
from nettop.text import safe_or

#: Where a metric's label says nothing is known (no owner, no unit): Prometheus has no null.
UNKNOWN = ""


@dataclass(frozen=True, slots=True)
class Collection:
    """One collection, as the metrics describe it: the snapshot (None when the collection failed), the policy's
    report on it (``--policy``), and, for a long-running exporter, how many collections failed so far."""

    snapshot: Snapshot | None
    #: The policy's report, or one per host (``--host``, each checked on its own).
    reports: tuple[CheckReport, ...] = ()
    errors: int = 0
    #: The error of the collection that failed (None when it did not).
    error: str | None = None
    #: The remote hosts read (``--host``): the series get a ``host`` label. Empty for this machine.
    hosts: tuple[str, ...] = ()


def _family(record: Connection) -> str:
    return f"ipv{record.family}"


def _program(record: Connection) -> str:
    owner = record.owners[0] if record.owners else None
    # A process names itself: its name is shown escaped, as everywhere (a lone surrogate would not even encode).
    return safe_or(owner.name if owner is not None else None, UNKNOWN)


def _unit(record: Connection) -> str:
    owner = record.owners[0] if record.owners else None
    placement = owner.placement if owner is not None and owner.placement is not None else record.runs_in
    return safe_or(placement.unit_name if placement is not None else None, UNKNOWN)


def socket_families(records: Iterable[Connection], by_host: bool = False) -> list[Metric]:
    """Sockets by protocol, family and state; one series per listener; connections per program. ``by_host``: each
    with a ``host`` label first (remote hosts' records)."""
    sockets: dict[tuple[str, ...], int] = {}
    listeners: dict[tuple[str, ...], int] = {}
    per_program: dict[tuple[str, ...], int] = {}
    hidden: dict[tuple[str, ...], int] = {}
    for record in records:
        where: tuple[str, ...] = (safe_or(record.host, UNKNOWN),) if by_host else ()
        proto, family = str(record.proto), _family(record)
        key = (*where, proto, family, str(record.state).lower())
        sockets[key] = sockets.get(key, 0) + 1
        program = _program(record)
        if record.owner_status is OwnerStatus.NOT_PERMITTED:
            hidden[where] = hidden.get(where, 0) + 1
        if record.is_listener and record.local_port is not None:
            scope = exposure(record) or UNKNOWN
            listener = (*where, proto, family, str(record.local_port), scope, program, _unit(record))
            listeners[listener] = listeners.get(listener, 0) + 1
        else:
            key = (*where, program, proto)
            per_program[key] = per_program.get(key, 0) + 1
    host: list[str] = ["host"] if by_host else []
    by_state = GaugeMetricFamily(
        "nettop_sockets", "Sockets by protocol, address family and state.", labels=[*host, "proto", "family", "state"]
    )
    for labels, count in sorted(sockets.items()):
        by_state.add_metric(labels, count)
    listening = GaugeMetricFamily(
        "nettop_listeners",
        "Listening sockets (TCP listeners, unconnected UDP sockets) by port, bind scope (loopback, address, all) "
        "and owning program and systemd unit; more than 1 where several sockets share them (SO_REUSEPORT).",
        labels=[*host, "proto", "family", "port", "scope", "program", "unit"],
    )
    for labels, count in sorted(listeners.items()):
        listening.add_metric(labels, count)
    programs = GaugeMetricFamily(
        "nettop_program_connections",
        "Sockets that are not listening, by owning program (empty: not known, as for TIME_WAIT) and protocol.",
        labels=[*host, "program", "proto"],
    )
    for labels, count in sorted(per_program.items()):
        programs.add_metric(labels, count)
    without_owner = GaugeMetricFamily(
        "nettop_sockets_owner_hidden", "Sockets whose owner this user may not see (not root).", labels=host
    )
    for where, count in sorted(hidden.items()):
        without_owner.add_metric(list(where), count)
    if not by_host and not hidden:
        without_owner.add_metric([], 0)
    return [by_state, listening, programs, without_owner]


def policy_families(reports: tuple[CheckReport, ...], by_host: bool = False) -> list[Metric]:
    """Each policy assertion's result (1 passed, 0 failed or not evaluated), and the policy's; ``by_host``: one
    report a host, each with its ``host`` label."""
    host: list[str] = ["host"] if by_host else []
    assertions = GaugeMetricFamily(
        "nettop_policy_assertion_passed",
        "1 when the policy's assertion passed, 0 when it failed or could not be evaluated.",
        labels=[*host, "policy", "kind", "assertion"],
    )
    overall = GaugeMetricFamily(
        "nettop_policy_passed", "1 when every assertion of the policy passed.", labels=[*host, "policy"]
    )
    for report in reports:
        where = [safe_or(report.host, UNKNOWN)] if by_host else []
        for assertion in report.assertions:
            passed = 1 if assertion.status is Status.PASS else 0
            assertions.add_metric([*where, report.policy, assertion.kind, assertion.description], passed)
        overall.add_metric([*where, report.policy], 1 if report.exit_code == 0 else 0)
    return [assertions, overall]


def collection_families(collection: Collection) -> list[Metric]:
    snapshot = collection.snapshot
    success = GaugeMetricFamily("nettop_collection_success", "1 when the last collection of sockets succeeded.")
    success.add_metric([], 1 if collection.error is None else 0)
    families: list[Metric] = [success]
    if collection.hosts:
        up = GaugeMetricFamily("nettop_host_up", "1 when the host answered the last collection.", labels=["host"])
        stale = snapshot.stale if snapshot is not None else collection.hosts
        for host in collection.hosts:
            up.add_metric([safe_or(host, UNKNOWN)], 0 if host in stale else 1)
        families.append(up)
    if snapshot is not None:
        duration = GaugeMetricFamily(
            "nettop_collection_duration_seconds", "How long the last collection took.", labels=["source"]
        )
        duration.add_metric([snapshot.source], snapshot.duration)
        skipped = GaugeMetricFamily(
            "nettop_collection_skipped_lines", "Lines of the last listing that could not be parsed and were skipped."
        )
        skipped.add_metric([], len(snapshot.issues))
        families += [duration, skipped]
    errors = CounterMetricFamily("nettop_collection_errors", "Collections that failed since nettop started.")
    errors.add_metric([], collection.errors)
    info = GaugeMetricFamily("nettop_build_info", "nettop's version.", labels=["version"])
    info.add_metric([__version__], 1)
    return [*families, errors, info]


def families_of(collection: Collection) -> list[Metric]:
    """Every metric of one collection."""
    families = collection_families(collection)
    by_host = bool(collection.hosts)
    if collection.snapshot is not None:
        families += socket_families(collection.snapshot.records, by_host)
    if collection.reports:
        families += policy_families(collection.reports, by_host)
    return families


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def exposition(collection: Collection) -> bytes:
    """The metrics in Prometheus' text format (version 0.0.4): what a scrape returns, and a textfile holds."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families_of(collection)))
    return generate_latest(registry)


def write_records(records: Iterable[Connection], names: object = None) -> bytes:
    """``nettop list --format prometheus`` without its snapshot (a records writer): the socket metrics alone.
    The CLI calls ``exposition`` with the snapshot instead, so that the collection's metrics come too."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(socket_families(records)))
    return generate_latest(registry)
