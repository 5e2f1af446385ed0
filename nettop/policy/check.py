"""Evaluate a policy against a snapshot's records: one assertion a rule, each PASS or FAIL with evidence.

Semantics, chosen so that a check never passes on a guess:

- A listener is ``record.is_listener``: TCP in LISTEN, or UDP bound with no peer.
- ``bind = "any"`` expects the port on every IPv4 address (the common meaning of "listening on any"):
  ``0.0.0.0``, or an IPv6 wildcard ``::`` that is dual-stack (``v6only`` False, as ``ss -e`` shows it).
  When ``v6only`` is unknown (None: netstat, ss without ``-e``) the ``::`` socket is *not* taken for
  dual-stack, and the failure says so: Linux defaults to dual-stack, but daemons such as sshd set v6only
  and pair it with a ``0.0.0.0`` socket, so guessing could pass a port that IPv4 cannot reach.
  ``bind = "0.0.0.0"`` is read the same way; ``bind = "::"`` matches the ``::`` socket itself.
- ``bind = "loopback"`` matches 127.0.0.0/8, ``::1`` and ``::ffff:127.x``; a wildcard does not match
  (it is reachable from outside, which is what a loopback rule is there to catch). An address matches
  itself (an IPv4 address also its ``::ffff:`` mapped form).
- ``program``/``program_regex`` and ``user`` must hold for one owner of the socket (a socket shared by a
  master and its workers has several). A socket without owners fails such a rule: "owner unknown".
- Counting listeners (``count``, ``max``): one per distinct (protocol, port, bind scope), the scope being
  "any" for every wildcard, "loopback" for every loopback address, else the address. So sshd's
  ``0.0.0.0:22`` + ``[::]:22`` pair, cupsd's ``127.0.0.1:631`` + ``[::1]:631``, and an SO_REUSEPORT group
  count once each, as a person reading the list would count them; DNS on TCP and UDP 53 counts twice.
"""

from __future__ import annotations

import asyncio
import enum
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from nettop.errors import NettopError
from nettop.exposure import address as parsed_address
from nettop.exposure import is_loopback, is_wildcard
from nettop.model import Connection, Owner, Proto, Snapshot, unmapped
from nettop.policy.rules import ForbidRule, ListenerLimits, ListenRule, Policy
from nettop.text import local_text, owners_text

if TYPE_CHECKING:  # sources pulls in psutil and the runner: only its protocol is needed here
    from nettop.sources import Source
    from nettop.sources.hosts import HostsSource

EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2
OWNER_UNKNOWN = "owner unknown (not root?)"


class Status(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    #: The assertion could not be evaluated (the sockets could not be listed).
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class Evidence:
    """A socket that bears on an assertion, and what it says about it."""

    record: Connection
    note: str


@dataclass(frozen=True, slots=True)
class Assertion:
    #: listen, forbid, count, max, only_listed, or collect (for a listing that failed).
    kind: str
    description: str
    status: Status
    evidence: tuple[Evidence, ...] = ()
    #: Why it failed; None when it passed.
    reason: str | None = None
    #: The policy line of the rule, when known.
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    tested: int
    passed: int
    failed: int
    errors: int


@dataclass(frozen=True, slots=True)
class CheckReport:
    policy: str
    assertions: tuple[Assertion, ...]
    #: Where the records came from ("ss", "file (netstat-linux)"), and what the user should know about it.
    source: str = ""
    notes: tuple[str, ...] = ()
    #: The remote host checked (``--host``); None for this machine.
    host: str | None = None

    @property
    def summary(self) -> Summary:
        statuses = [a.status for a in self.assertions]
        return Summary(len(statuses), statuses.count(Status.PASS), statuses.count(Status.FAIL),
                       statuses.count(Status.ERROR))  # fmt: skip

    @property
    def exit_code(self) -> int:
        return exit_code(self)


def exit_code(report: CheckReport | None) -> int:
    """0 when every assertion passed, 1 when one failed, 2 when the policy or the collection is broken
    (``None``: there is no report, the policy could not be read)."""
    if report is None:
        return EXIT_ERROR
    summary = report.summary
    if summary.errors:
        return EXIT_ERROR
    return EXIT_FAIL if summary.failed else EXIT_PASS


def evaluate(
    policy: Policy, records: Iterable[Connection], source: str = "", notes: Sequence[str] = (), host: str | None = None
) -> CheckReport:
    """Every rule of ``policy`` checked against ``records`` (of ``host``, None for this machine), in the
    policy's order."""
    listeners = [r for r in records if r.is_listener and r.local_port is not None]
    assertions = [
        *(check_listen(rule, listeners) for rule in policy.listen),
        *(check_forbid(rule, listeners) for rule in policy.forbid),
        *check_limits(policy, listeners),
    ]
    return CheckReport(policy.name, tuple(assertions), source, tuple(notes), host)


def collection_failed(policy: Policy, message: str) -> CheckReport:
    """A report for a listing that could not be taken: one ERROR, so CI formats still say what happened."""
    return CheckReport(policy.name, (Assertion("collect", "list the sockets", Status.ERROR, reason=message),))


def worst_exit_code(reports: Sequence[CheckReport]) -> int:
    """Several hosts' reports: broken if one is, else failed if one failed, else passed."""
    codes = [report.exit_code for report in reports]
    return EXIT_ERROR if EXIT_ERROR in codes else EXIT_FAIL if EXIT_FAIL in codes else EXIT_PASS


async def check_hosts(
    policy: Policy, source: HostsSource, wait: float = 0.0, every: float = 1.0
) -> tuple[CheckReport, ...]:
    """Every host of ``source`` checked on its own (a listener on one host does not pass the policy for
    another): one report per host, in the order given. A host that does not answer is an ERROR report, never its
    last rows (a check says what is true now). Collects again, as ``check_source``, while one does not pass."""
    deadline = time.monotonic() + wait
    while True:
        try:
            snapshot = await source.collect()
        except NettopError as error:
            reports = tuple(replace(collection_failed(policy, str(error)), host=host) for host in source.hosts)
        else:
            reports = tuple(host_report(policy, snapshot, host) for host in source.hosts)
        remaining = deadline - time.monotonic()
        if worst_exit_code(reports) == EXIT_PASS or remaining <= 0:
            return reports
        await asyncio.sleep(min(every, remaining))


def host_report(policy: Policy, snapshot: Snapshot, host: str) -> CheckReport:
    """``host``'s records of a several-host snapshot checked on their own; an ERROR report when it did not answer."""
    said = [note for note in snapshot.notes if note.startswith(f"{host}: ")]
    if host in snapshot.stale:
        failed = collection_failed(policy, said[0].removeprefix(f"{host}: ") if said else "no answer")
        return replace(failed, source=f"ssh:{host}", host=host)
    records = [r for r in snapshot.records if r.host == host]
    return evaluate(policy, records, f"ssh:{host}", said, host=host)


async def check_source(policy: Policy, source: Source, wait: float = 0.0, every: float = 1.0) -> CheckReport:
    """Collect from ``source`` and evaluate; while it fails and ``wait`` seconds have not passed, collect again
    every ``every`` seconds (a service just started in CI may not listen yet). A listing that cannot be
    taken is a report with an ERROR, not an exception, so every output format can still say what happened."""
    deadline = time.monotonic() + wait
    while True:
        try:
            snapshot = await source.collect()
        except NettopError as error:
            report = collection_failed(policy, str(error))
        else:
            notes = [*snapshot.notes]
            if snapshot.issues:
                notes.append(f"{len(snapshot.issues)} line(s) of the listing could not be parsed and were skipped")
            report = evaluate(policy, snapshot.records, snapshot.source, notes)
        remaining = deadline - time.monotonic()
        if report.exit_code == EXIT_PASS or remaining <= 0:
            return report
        await asyncio.sleep(min(every, remaining))


# ---- bind scopes


def bind_scope(record: Connection) -> str:
    """``any``, ``loopback`` or the address: what a person means by where a socket listens."""
    if is_wildcard(record.local_ip):
        return "any"
    return "loopback" if is_loopback(record.local_ip) else record.local_ip


def is_dual_stack(record: Connection) -> bool:
    """An IPv6 wildcard socket known to accept IPv4 too."""
    return record.family == 6 and is_wildcard(record.local_ip) and record.v6only is False


def _where(record: Connection) -> str:
    return local_text(record)


def _bind_problem(bind: str | None, record: Connection) -> tuple[str | None, str]:
    """(None, how it matched) when ``record`` listens where ``bind`` asks, else (the problem, "")."""
    ip = record.local_ip
    if bind is None:
        return None, ""
    if bind == "loopback":
        return (None, "") if is_loopback(ip) else (f"wrong bind: {_where(record)} is not loopback", "")
    if bind in ("any", "0.0.0.0"):
        if is_wildcard(ip) and record.family == 4:
            return None, ""
        if is_dual_stack(record):
            return None, f"via dual-stack {_where(record)}"
        if is_wildcard(ip) and record.v6only is None:
            return f"wrong bind: {_where(record)} may not accept IPv4 (v6only unknown; ss -e shows it)", ""
        if is_wildcard(ip):
            return f"wrong bind: {_where(record)} is IPv6 only (v6only)", ""
        return f"wrong bind: {_where(record)} is not the any address", ""
    return (None, "") if _same_address(bind, ip) else (f"wrong bind: {_where(record)} is not {bind}", "")


def _same_address(expected: str, ip: str) -> bool:
    if expected == "::" and is_wildcard(ip):
        return ip != "0.0.0.0"
    return canonical_address(ip) == canonical_address(expected)


def canonical_address(ip: str) -> str | None:
    """The address in one spelling, an IPv4-mapped IPv6 address as its IPv4 one; None if not an address."""
    address = unmapped(parsed_address(ip))
    return None if address is None else str(address)


# ---- owners


def _program_matches(rule: ListenRule, owner: Owner) -> bool:
    if rule.unit is not None and owner_unit(owner) != rule.unit:
        return False
    if rule.program is not None:
        return owner.name == rule.program
    if rule.program_regex is not None:
        return owner.name is not None and re.fullmatch(rule.program_regex, owner.name) is not None
    return True


def _owner_problem(rule: ListenRule, record: Connection) -> str | None:
    """None when one owner of ``record`` is the program and user ``rule`` names, else why not."""
    if rule.program is None and rule.program_regex is None and rule.user is None and rule.unit is None:
        return None
    if not record.owners:
        return f"{OWNER_UNKNOWN}: {record.owner_status.value}"
    for owner in record.owners:
        if _program_matches(rule, owner) and (rule.user is None or owner.user == rule.user):
            return None
    named = [o for o in record.owners if _program_matches(rule, o)]
    if not named:
        if rule.program is None and rule.program_regex is None:
            units = ",".join(sorted({owner_unit(o) or "?" for o in record.owners}))
            return f"wrong unit: {units}, expected {rule.unit}"
        return f"wrong owner: {_owners_text(record)}, expected {_expected_program(rule)}"
    if all(o.user is None for o in named):
        return f"owner's user unknown (the listing does not say), expected {rule.user}"
    users = ",".join(sorted({o.user or "?" for o in named}))
    return f"wrong user: {users}, expected {rule.user}"


def _owners_text(record: Connection) -> str:
    return owners_text(record.owners)


def _expected_program(rule: ListenRule) -> str:
    named = rule.program if rule.program is not None else f"a program matching {rule.program_regex!r}"
    return named if rule.unit is None else f"{named} in {rule.unit}"


def owner_unit(owner: Owner) -> str | None:
    """The systemd unit ``owner`` runs in, as systemctl names it; None where its cgroup is unknown or no unit's."""
    return owner.placement.unit_name if owner.placement is not None else None


# ---- the rules


def describe_listen(rule: ListenRule) -> str:
    """ "tcp port 22 is listening on any address, owned by sshd, user root"."""
    parts = [f"{rule.proto.value} port {rule.port} is listening"]
    if rule.bind == "any":
        parts[0] += " on any address"
    elif rule.bind == "loopback":
        parts[0] += " on loopback only"
    elif rule.bind is not None:
        parts[0] += f" on {rule.bind}"
    if rule.program is not None or rule.program_regex is not None:
        parts.append(f"owned by {_expected_program(rule)}")
    if rule.user is not None:
        parts.append(f"user {rule.user}")
    if rule.unit is not None and rule.program is None and rule.program_regex is None:
        parts.append(f"in {rule.unit}")
    return ", ".join(parts)


def check_listen(rule: ListenRule, listeners: Sequence[Connection]) -> Assertion:
    """PASS with the matching sockets; FAIL with the sockets on that port and why each does not match."""
    description = describe_listen(rule)
    on_port = [r for r in listeners if r.local_port == rule.port and r.proto is rule.proto]
    matched: list[Evidence] = []
    missed: list[Evidence] = []
    for record in on_port:
        bind_problem, via = _bind_problem(rule.bind, record)
        problem = bind_problem or _owner_problem(rule, record)
        if problem is None:
            matched.append(Evidence(record, via or "matches"))
        else:
            missed.append(Evidence(record, problem))
    if matched:
        return Assertion("listen", description, Status.PASS, tuple(matched), line=rule.line)
    if not missed:
        other = [
            Evidence(r, f"{r.proto.value}, not {rule.proto.value}") for r in listeners if r.local_port == rule.port
        ]
        reason = f"nothing listening on {rule.proto.value} port {rule.port}"
        return Assertion("listen", description, Status.FAIL, tuple(other), reason, rule.line)
    reason = "; ".join(dict.fromkeys(e.note for e in missed))  # each distinct problem once, in order
    return Assertion("listen", description, Status.FAIL, tuple(missed), reason, rule.line)


def check_forbid(rule: ForbidRule, listeners: Sequence[Connection]) -> Assertion:
    protos = rule.proto.value if rule.proto else "tcp or udp"
    description = f"{protos} port {rule.port} is not listening"
    offending = [
        Evidence(r, f"listening, owned by {_owners_text(r) or 'unknown'}")
        for r in listeners
        if r.local_port == rule.port and (rule.proto is None or r.proto is rule.proto)
    ]
    if not offending:
        return Assertion("forbid", description, Status.PASS, line=rule.line)
    reason = f"{len(offending)} socket{'s' if len(offending) > 1 else ''} listening on port {rule.port}"
    return Assertion("forbid", description, Status.FAIL, tuple(offending), reason, rule.line)


def listener_groups(listeners: Iterable[Connection]) -> dict[tuple[Proto, int, str], list[Connection]]:
    """Listening sockets by (protocol, port, bind scope): one group is one listener as people count them."""
    groups: dict[tuple[Proto, int, str], list[Connection]] = {}
    for record in listeners:
        if record.local_port is not None:
            groups.setdefault((record.proto, record.local_port, bind_scope(record)), []).append(record)
    return dict(sorted(groups.items()))


def check_limits(policy: Policy, listeners: Sequence[Connection]) -> list[Assertion]:
    limits = policy.limits
    groups = listener_groups(listeners)
    assertions = []
    if limits.count is not None or limits.max is not None:
        assertions.append(_check_count(limits, groups))
    if limits.only_listed:
        assertions.extend(_check_only_listed(policy, groups))
    return assertions


def _group_evidence(groups: dict[tuple[Proto, int, str], list[Connection]]) -> tuple[Evidence, ...]:
    return tuple(Evidence(g[0], f"{proto.value} {port} on {scope}") for (proto, port, scope), g in groups.items())


def _check_count(limits: ListenerLimits, groups: dict[tuple[Proto, int, str], list[Connection]]) -> Assertion:
    found = len(groups)
    if limits.count is not None:
        kind, wanted, holds = "count", limits.count, found == limits.count
        description = f"exactly {wanted} listener{'s' if wanted != 1 else ''}"
    else:
        assert limits.max is not None
        kind, wanted, holds = "max", limits.max, found <= limits.max
        description = f"at most {wanted} listener{'s' if wanted != 1 else ''}"
    status = Status.PASS if holds else Status.FAIL
    reason = None if holds else f"found {found} listener{'s' if found != 1 else ''}"
    return Assertion(kind, description, status, _group_evidence(groups), reason, limits.line)


def _check_only_listed(policy: Policy, groups: dict[tuple[Proto, int, str], list[Connection]]) -> list[Assertion]:
    """One PASS when every listener is named by a [[listen]] rule, else one FAIL per unnamed (proto, port)."""
    named = {(rule.proto, rule.port) for rule in policy.listen}
    unnamed: dict[tuple[Proto, int], list[Connection]] = {}
    for (proto, port, _scope), records in groups.items():
        if (proto, port) not in named:
            unnamed.setdefault((proto, port), []).extend(records)
    line = policy.limits.line
    if not unnamed:
        return [Assertion("only_listed", "every listener is named by a [[listen]] rule", Status.PASS, line=line)]
    return [
        Assertion(
            "only_listed",
            f"{proto.value} port {port} listens only if listed",
            Status.FAIL,
            tuple(Evidence(r, f"listening, owned by {_owners_text(r) or 'unknown'}") for r in records),
            "not named by any [[listen]] rule",
            line,
        )
        for (proto, port), records in unnamed.items()
    ]
