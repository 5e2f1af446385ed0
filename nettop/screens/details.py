"""Details of one connection: every owner, the owners' other sockets, and the raw line it came from."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from nettop.export import endpoint_text
from nettop.model import Connection, Owner


def _when(start_time: float | None) -> str:
    if start_time is None:
        return "unknown"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(start_time))


def describe(record: Connection, others: Iterable[Connection]) -> str:
    """The details as Rich markup, every value escaped (addresses like [::1] are not markup)."""
    local = endpoint_text(record.local_ip, record.local_port, record.interface)
    remote = endpoint_text(record.remote_ip, record.remote_port)
    lines = [
        f"[b]{record.proto.value.upper()} (IPv{record.family})[/b]  {escape(local)}  →  {escape(remote)}",
        f"State: [b]{record.state.value}[/b]   Recv-Q {record.recv_q}  Send-Q {record.send_q}"
        f"   inode {record.inode if record.inode is not None else '-'}"
        f"   uid {record.uid if record.uid is not None else '-'}"
        + ("" if record.v6only is None else f"   v6only {'yes' if record.v6only else 'no'}"),
        "",
    ]
    if not record.owners:
        lines.append(f"[b]Owner[/b]: none ({escape(record.owner_status.value)})")
    for owner in record.owners:
        lines += _owner_lines(owner)
    other_lines = [
        f"  {o.proto.value}{o.family} {escape(endpoint_text(o.local_ip, o.local_port, o.interface))}"
        f" → {escape(endpoint_text(o.remote_ip, o.remote_port))} {o.state.value}"
        for o in others
    ]
    lines += ["", f"[b]Other sockets of the owner{'s' if len(record.owners) > 1 else ''}[/b] ({len(other_lines)})"]
    lines += other_lines[:200] or ["  none"]
    if len(other_lines) > 200:
        lines.append(f"  … and {len(other_lines) - 200} more")
    lines += ["", f"[b]Raw line[/b] (from {escape(record.source or 'unknown')})", escape(record.raw or "(none)")]
    return "\n".join(lines)


def _owner_lines(owner: Owner) -> list[str]:
    command = " ".join(owner.cmdline) if owner.cmdline else "unknown"
    return [
        f"[b]Owner[/b] pid {owner.pid}  {escape(owner.name or '?')}  user {escape(owner.user or '?')}",
        f"  started {_when(owner.start_time)}",
        f"  command {escape(command)}",
    ]


class DetailsScreen(ModalScreen[None]):
    """Everything nettop knows about the selected connection."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(self, record: Connection, others: Iterable[Connection]) -> None:
        super().__init__()
        self._text = describe(record, others)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="details"):
            yield Static(self._text, id="details-text")
