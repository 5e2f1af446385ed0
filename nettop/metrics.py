"""A snapshot as Prometheus metrics: what ``nettop exporter`` serves and ``nettop list --format prometheus`` writes
(for node_exporter's textfile collector).

Names follow Prometheus' conventions (``nettop_`` prefix, base units, ``_total`` for counters) and node_exporter's
where they overlap: state labels are its tcpstat collector's (``established``, ``time_wait``, …). No label ever
holds a remote address or port, nor a local ephemeral port: series must stay bounded however busy the machine.
A listener's port is a label (a machine listens on few ports, and which one is the point).
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
    report: CheckReport | None = None
    errors: int = 0
    #: The error of the collection that failed (None when it did not).
    error: str | None = None


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


def socket_families(records: Iterable[Connection]) -> list[Metric]:
    """Sockets by protocol, family and state; one series per listener; connections per program."""
    sockets: dict[tuple[str, str, str], int] = {}
    listeners: dict[tuple[str, str, str, str, str, str], int] = {}
    per_program: dict[tuple[str, str], int] = {}
    hidden = 0
    for record in records:
        proto, family = str(record.proto), _family(record)
        key = (proto, family, str(record.state).lower())
        sockets[key] = sockets.get(key, 0) + 1
        program = _program(record)
        if record.owner_status is OwnerStatus.NOT_PERMITTED:
            hidden += 1
        if record.is_listener and record.local_port is not None:
            scope = exposure(record) or UNKNOWN
            listener = (proto, family, str(record.local_port), scope, program, _unit(record))
            listeners[listener] = listeners.get(listener, 0) + 1
        else:
            per_program[(program, proto)] = per_program.get((program, proto), 0) + 1
    by_state = GaugeMetricFamily(
        "nettop_sockets", "Sockets by protocol, address family and state.", labels=["proto", "family", "state"]
    )
    for labels, count in sorted(sockets.items()):
        by_state.add_metric(labels, count)
    listening = GaugeMetricFamily(
        "nettop_listeners",
        "Listening sockets (TCP listeners, unconnected UDP sockets) by port, bind scope (loopback, address, all) "
        "and owning program and systemd unit; more than 1 where several sockets share them (SO_REUSEPORT).",
        labels=["proto", "family", "port", "scope", "program", "unit"],
    )
    for labels, count in sorted(listeners.items()):
        listening.add_metric(labels, count)
    programs = GaugeMetricFamily(
        "nettop_program_connections",
        "Sockets that are not listening, by owning program (empty: not known, as for TIME_WAIT) and protocol.",
        labels=["program", "proto"],
    )
    for labels, count in sorted(per_program.items()):
        programs.add_metric(labels, count)
    without_owner = GaugeMetricFamily(
        "nettop_sockets_owner_hidden", "Sockets whose owner this user may not see (not root)."
    )
    without_owner.add_metric([], hidden)
    return [by_state, listening, programs, without_owner]


def policy_families(report: CheckReport) -> list[Metric]:
    """Each policy assertion's result (1 passed, 0 failed or not evaluated), and the policy's."""
    assertions = GaugeMetricFamily(
        "nettop_policy_assertion_passed",
        "1 when the policy's assertion passed, 0 when it failed or could not be evaluated.",
        labels=["policy", "kind", "assertion"],
    )
    for assertion in report.assertions:
        passed = 1 if assertion.status is Status.PASS else 0
        assertions.add_metric([report.policy, assertion.kind, assertion.description], passed)
    overall = GaugeMetricFamily(
        "nettop_policy_passed", "1 when every assertion of the policy passed.", labels=["policy"]
    )
    overall.add_metric([report.policy], 1 if report.exit_code == 0 else 0)
    return [assertions, overall]


def collection_families(collection: Collection) -> list[Metric]:
    snapshot = collection.snapshot
    success = GaugeMetricFamily("nettop_collection_success", "1 when the last collection of sockets succeeded.")
    success.add_metric([], 1 if collection.error is None else 0)
    families: list[Metric] = [success]
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
    if collection.snapshot is not None:
        families += socket_families(collection.snapshot.records)
    if collection.report is not None:
        families += policy_families(collection.report)
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
