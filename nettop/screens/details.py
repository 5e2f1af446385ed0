"""Details of one connection: every owner, the owners' other sockets, and the raw line it came from.

The screen stays live: the viewer hands it each snapshot it applies (``DetailsScreen.refresh_from``), and it
shows the connection's newest state, queues, owners and traffic, or says when the connection closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from nettop.cgroups import place_name
from nettop.exposure import exposure
from nettop.model import Connection, Owner
from nettop.snapshots import RowKey
from nettop.text import bytes_text, local_text, remote_text, rtt_text, safe, safe_or, safe_words
from nettop.writers.table import traffic_cells

#: The owners' other sockets listed at most.
OTHERS_SHOWN = 200


def _when(start_time: float | None) -> str:
    if start_time is None:
        return "unknown"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(start_time))


def _line(*parts: str | tuple[str, str]) -> Text:
    """One line from plain pieces and (text, style) pairs: never markup, whatever the text holds."""
    return Text.assemble(*parts, end="")


def describe(
    record: Connection, others: Iterable[Connection], remote_name: str | None = None, closed_at: float | None = None
) -> Text:
    """The details as rich Text. Names, command lines and raw lines are other users' text: they are made safe
    (control characters escaped) and never read as markup (``[@click=...]`` stays text). ``remote_name``: the
    peer's host name (reverse DNS), shown beside its number, which stays in the first line. ``closed_at``: when
    the connection was first missing from a snapshot; the rest is then how it was last seen."""
    local = safe(local_text(record))
    remote = safe(remote_text(record))
    lines = [
        _line(
            (f"{record.proto.value.upper()} (IPv{record.family})", "bold"),
            f"  {local}  →  {remote}" + (f"   in network namespace {safe(record.netns)}" if record.netns else ""),
        ),
        _line(
            "State: ",
            (record.state.value, "bold"),
            f"   Recv-Q {record.recv_q}  Send-Q {record.send_q}"
            f"   inode {record.inode if record.inode is not None else '-'}"
            f"   uid {record.uid if record.uid is not None else '-'}"
            + ("" if record.v6only is None else f"   v6only {'yes' if record.v6only else 'no'}")
            + (f"   exposure {reach}" if (reach := exposure(record)) else ""),
        ),
        Text(),
    ]
    if closed_at is not None:
        closed = time.strftime("%H:%M:%S", time.localtime(closed_at))
        lines.insert(0, _line((f"CLOSED at {closed}", "bold reverse"), "  (as it was last seen:)"))
    traffic = record.traffic
    if traffic is not None:
        lines[-1:-1] = [_line("Traffic: ", _traffic_text(record)), _line(f"RTT {rtt_text(traffic.rtt_us)}   "
                        f"retransmitted segments {traffic.retransmits}")]  # fmt: skip
    others = list(others)
    if remote_name is not None:
        lines.insert(2 + (closed_at is not None), _line("Peer: ", (safe(remote_name), "bold"), f" ({remote})"))
    if not record.owners:
        lines.append(_line(("Owner", "bold"), f": none ({record.owner_status.value})"))
    for owner in record.owners:
        lines += _owner_lines(owner)
    counted = [r.traffic for r in (record, *others) if r.traffic is not None]
    if counted:
        rate_in = sum(t.rate_in or 0 for t in counted)
        rate_out = sum(t.rate_out or 0 for t in counted)
        plural = "s" if len(counted) > 1 else ""
        lines.append(
            _line(f"  traffic of its TCP connections ({len(counted)} connection{plural}): ",
                  f"in {bytes_text(rate_in)}/s, out {bytes_text(rate_out)}/s")
        )  # fmt: skip
    other_lines = [
        Text(f"  {o.proto.value}{o.family} {safe(local_text(o))} → {safe(remote_text(o))} {o.state.value}")
        for o in others
    ]
    plural = "s" if len(record.owners) > 1 else ""
    lines += [Text(), _line((f"Other sockets of the owner{plural}", "bold"), f" ({len(other_lines)})")]
    lines += other_lines[:OTHERS_SHOWN] or [Text("  none")]
    if len(other_lines) > OTHERS_SHOWN:
        lines.append(Text(f"  … and {len(other_lines) - OTHERS_SHOWN} more"))
    lines += [
        Text(),
        _line(("Raw line", "bold"), f" (from {safe(record.source or 'unknown')})"),
        Text(
            safe(record.raw)
            if record.raw
            else "(none: the kernel's table has no text)"
            if record.source == "netlink"
            else "(none)"
        ),
    ]
    return Text("\n").join(lines)


def _traffic_text(record: Connection) -> str:
    """``in 1.2 MB (12.3 kB/s)   out 40.0 kB (0 B/s)``: totals, and rates once the socket was seen twice."""
    bytes_in, bytes_out, _ = traffic_cells(record)
    return f"in {bytes_in}   out {bytes_out}"


def _owner_lines(owner: Owner) -> list[Text]:
    pid = "?" if owner.pid is None else owner.pid
    lines = [
        _line(("Owner", "bold"), f" pid {pid}  {safe_or(owner.name, '?')}  user {safe_or(owner.user, '?')}"),
        Text(f"  started {_when(owner.start_time)}"),
        Text(f"  command {safe_words(owner.cmdline, 'unknown')}"),
    ]
    if owner.placement is not None:
        lines.append(
            Text(f"  runs in {safe(place_name(owner.placement) or 'no unit')}  (cgroup {safe(owner.cgroup or '')})")
        )
    return lines


def sockets_of_owners(key: RowKey, record: Connection, current: Mapping[RowKey, Connection]) -> list[Connection]:
    """The other sockets of ``record``'s owners in the snapshot ``current``."""
    pids = {owner.pid for owner in record.owners if owner.pid is not None}
    if not pids:
        return []
    return [r for k, r in current.items() if k != key and any(o.pid in pids for o in r.owners)]


class DetailsScreen(ModalScreen[None]):
    """Everything nettop knows about the selected connection, kept up to date while it is open."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(
        self,
        key: RowKey,
        record: Connection,
        current: Mapping[RowKey, Connection],
        closed_at: float | None = None,
        name_of: Callable[[str | None], str | None] | None = None,
    ) -> None:
        """``record``: the row's newest record; ``current``: the snapshot on screen (by row key); ``closed_at``:
        when the row closed, if it has; ``name_of``: host names for peers, when they are shown."""
        super().__init__()
        self.key = key
        self._record = record
        self._closed_at = closed_at
        self._name_of = name_of
        self._text = self._describe(current)

    def _describe(self, current: Mapping[RowKey, Connection]) -> Text:
        record = self._record
        name = self._name_of(record.remote_ip) if self._name_of is not None else None
        return describe(record, sockets_of_owners(self.key, record, current), name, self._closed_at)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="details"):
            yield Static(self._text, id="details-text")

    def on_mount(self) -> None:
        self.set_class(self._closed_at is not None, "-closed")

    def refresh_from(self, current: Mapping[RowKey, Connection], closed_at: float | None, now: float) -> None:
        """Show the connection as the snapshot ``current`` has it. Gone from it, the last record stays, marked
        closed at ``closed_at`` (the row's, while it lingers) or, failing that, ``now``."""
        record = current.get(self.key)
        if record is not None:
            self._record, self._closed_at = record, None
        elif self._closed_at is None:
            self._closed_at = closed_at if closed_at is not None else now
        text = self._describe(current)
        self.set_class(self._closed_at is not None, "-closed")
        if text != self._text:
            self._text = text
            self.query_one("#details-text", Static).update(text)
