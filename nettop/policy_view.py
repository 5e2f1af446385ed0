"""A policy shown live: which rows break it, which expected listeners are missing, how many rules pass.

Pure data for the viewer (no Textual): evaluated in the poller's thread with each snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nettop.changes import identity
from nettop.check import CheckReport, Status, evaluate
from nettop.model import Connection, Owner, OwnerStatus, Proto, State
from nettop.policy import ListenRule, Policy

#: ``Connection.source`` of a placeholder row: an expected listener that is not there.
PLACEHOLDER_SOURCE = "policy"
#: Assertion kinds whose evidence rows are the offenders (a count's evidence is every listener).
_OFFENDING_KINDS = frozenset({"listen", "forbid", "only_listed"})


@dataclass(frozen=True, slots=True)
class PolicyState:
    """The policy's verdict on one snapshot."""

    report: CheckReport
    #: Rows that break a rule (``nettop.changes.identity`` of each).
    offending: frozenset[tuple[object, ...]]
    #: Descriptions of the rules that fail, to notice new ones.
    failing: frozenset[str]
    placeholders: tuple[Connection, ...]

    @property
    def passed(self) -> int:
        return self.report.summary.passed

    @property
    def tested(self) -> int:
        return self.report.summary.tested


def judge(policy: Policy, records: Sequence[Connection]) -> PolicyState:
    report = evaluate(policy, records)
    failed = [a for a in report.assertions if a.status is not Status.PASS]
    offending = frozenset(
        identity(evidence.record) for a in failed if a.kind in _OFFENDING_KINDS for evidence in a.evidence
    )
    listening = {(r.proto, r.local_port) for r in records if r.is_listener}
    missing = [rule for rule in policy.listen if (Proto(rule.proto), rule.port) not in listening]
    return PolicyState(
        report, offending, frozenset(a.description for a in failed), tuple(placeholder(r) for r in missing)
    )


def placeholder(rule: ListenRule) -> Connection:
    """A row for an expected listener that is missing, shown so its absence is seen."""
    address = rule.bind if rule.bind not in (None, "any", "loopback") else None
    local = address or ("127.0.0.1" if rule.bind == "loopback" else "0.0.0.0")
    family = 6 if ":" in local else 4
    name = rule.program or (f"/{rule.program_regex}/" if rule.program_regex else None)
    owners = (Owner(0, name, rule.user),) if name or rule.user else ()
    return Connection(
        Proto(rule.proto), family, local, rule.port, None, None, State.UNKNOWN, owners, OwnerStatus.NOT_REPORTED,
        source=PLACEHOLDER_SOURCE, raw=f"expected by the policy (line {rule.line}), not listening",
    )  # fmt: skip
