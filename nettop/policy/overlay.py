"""A policy shown live: which rows break it, which expected listeners are missing, how many rules pass.

Pure data for the viewer (no Textual): evaluated in the poller's thread with each snapshot. A missing listener
is a row of its own kind in the viewer (``RowsModel.missing``), keyed apart from every socket: it is never in a
snapshot, its index or diff, the event log, the counts or an export. What it shows is the socket the rule
expects (``expected_listener``), so that columns, sorting and filters read it as they read any row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nettop.model import Connection, Owner, OwnerStatus, Proto, State
from nettop.policy.check import CheckReport, Status, evaluate
from nettop.policy.rules import ListenRule, Policy
from nettop.snapshots import RowKey

#: Where a missing listener's row says it comes from (its details screen says "from policy").
EXPECTED_SOURCE = "policy"
#: The first item of a missing listener's row key: no socket's key starts with it.
MISSING = "missing"
#: Assertion kinds whose evidence rows are the offenders (a count's evidence is every listener).
_OFFENDING_KINDS = frozenset({"listen", "forbid", "only_listed"})


@dataclass(frozen=True, slots=True)
class PolicyState:
    """The policy's verdict on one snapshot."""

    report: CheckReport
    #: Rows that break a rule (the ``Connection.key`` of each).
    offending: frozenset[tuple[object, ...]]
    #: Descriptions of the rules that fail, to notice new ones.
    failing: frozenset[str]
    #: The expected listeners that are not there, by their row key (``missing_key``).
    missing: dict[RowKey, Connection]

    @property
    def passed(self) -> int:
        return self.report.summary.passed

    @property
    def tested(self) -> int:
        return self.report.summary.tested


def judge(policy: Policy, records: Sequence[Connection]) -> PolicyState:
    report = evaluate(policy, records)
    failed = [a for a in report.assertions if a.status is not Status.PASS]
    offending = frozenset(evidence.record.key for a in failed if a.kind in _OFFENDING_KINDS for evidence in a.evidence)
    listening = {(r.proto, r.local_port) for r in records if r.is_listener}
    missing = {
        missing_key(number): expected_listener(rule)
        for number, rule in enumerate(policy.listen)
        if (Proto(rule.proto), rule.port) not in listening
    }
    return PolicyState(report, offending, frozenset(a.description for a in failed), missing)


def missing_key(rule_number: int) -> RowKey:
    """The row key of the policy's ``rule_number``-th [[listen]] rule while its listener is missing."""
    return (MISSING, rule_number)


def expected_listener(rule: ListenRule) -> Connection:
    """The socket ``rule`` expects, as its missing-listener row shows it: its protocol, address, port and owner,
    state UNKNOWN."""
    address = rule.bind if rule.bind not in (None, "any", "loopback") else None
    local = address or ("127.0.0.1" if rule.bind == "loopback" else "0.0.0.0")
    family = 6 if ":" in local else 4
    name = rule.program or (f"/{rule.program_regex}/" if rule.program_regex else None)
    owners = (Owner(0, name, rule.user),) if name or rule.user else ()
    return Connection(
        Proto(rule.proto), family, local, rule.port, None, None, State.UNKNOWN, owners, OwnerStatus.NOT_REPORTED,
        source=EXPECTED_SOURCE, raw=f"expected by the policy (line {rule.line}), not listening",
    )  # fmt: skip
