"""Key, diff, count and judge each snapshot for the viewer, in the poller's thread, not the UI's.

The first snapshot is keyed and counted whole. After that, a snapshot that says what changed since the one
before it (``Snapshot.delta``: a live ``ss`` does) is digested from that change alone, so a tick costs what
changed, not the number of sockets; anything else (a scripted or fallback source, a policy to judge, a gap
after a failed tick) is digested whole, as before.
"""

from __future__ import annotations

from typing import NamedTuple

from nettop.changes import LiveIndex, RowKey, SnapshotDiff, diff, diff_delta
from nettop.model import Connection, Snapshot
from nettop.policy import Policy
from nettop.policy_view import PolicyState, judge
from nettop.view import Counts, recount, tally


class Digest(NamedTuple):
    index: dict[RowKey, Connection]
    change: SnapshotDiff
    counts: Counts
    verdict: PolicyState | None


class Digester:
    """Digests one source's snapshots in order; each against the last one it digested."""

    def __init__(self, policy: Policy | None = None) -> None:
        self._policy = policy
        self._index = LiveIndex()
        self._counts: Counts | None = None
        #: When the last digested snapshot was taken: a delta must be against that very one.
        self._taken: float | None = None
        #: Whether the last snapshot was digested whole (not from its delta).
        self.last_whole = True

    def digest(self, snapshot: Snapshot) -> Digest:
        before = self._index.index
        delta = snapshot.delta
        counts = self._counts
        if self._policy is None and delta is not None and counts is not None and delta.since == self._taken:
            after = self._index.update(delta.removed, delta.added)
            if after is not None:
                self.last_whole = False
                self._taken, self._counts = snapshot.taken_at, recount(counts, delta.removed, delta.added)
                return Digest(after, diff_delta(before, after, delta.removed, delta.added), self._counts, None)
        verdict = judge(self._policy, snapshot.records) if self._policy is not None else None
        rows = snapshot.records + verdict.placeholders if verdict is not None else snapshot.records
        after = self._index.rebuild(rows)
        self.last_whole = True
        self._taken, self._counts = snapshot.taken_at, tally(snapshot.records)
        return Digest(after, diff(before, after), self._counts, verdict)
