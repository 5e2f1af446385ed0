"""The kill dialog: who the owner is, what it holds, and which signal to send it.

Like htop's kill menu: the dialog names the process (pid, name, user, command line) and the connections that
close with it, and lets the user pick the signal (t, k, h, i or the arrows); Enter sends the one picked, Esc
sends nothing. Choosing a signal never sends it, so ``k`` pressed twice picks KILL and still asks for Enter.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, RadioButton, RadioSet, Static

from nettop.model import Connection, Owner
from nettop.snapshots import RowKey
from nettop.text import local_text, remote_text, safe, safe_or, safe_words

#: The connections listed by name; the rest are counted.
CONNECTIONS_SHOWN = 3
#: A command line longer than this (about three lines of the dialog) loses its middle.
COMMAND_LIMIT = 200


@dataclass(frozen=True)
class SignalChoice:
    signal: signal.Signals
    key: str
    meaning: str


#: The signals offered, TERM first (the default); those the system lacks (Windows: HUP, KILL) are left out.
SIGNALS: tuple[SignalChoice, ...] = tuple(
    SignalChoice(getattr(signal, f"SIG{name}"), key, meaning)
    for name, key, meaning in (
        ("TERM", "t", "ask it to exit cleanly"),
        ("KILL", "k", "stop it at once, no clean-up"),
        ("HUP", "h", "hang up: many daemons reload"),
        ("INT", "i", "interrupt, as Ctrl+C does"),
    )
    if hasattr(signal, f"SIG{name}")
)


def elide_middle(text: str, limit: int = COMMAND_LIMIT) -> str:
    """``text`` cut to ``limit`` characters by taking out its middle: a command's program and its last
    arguments (often the file or port that tells two workers apart) both stay."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return f"{text[:head]}…{text[len(text) - (limit - 1 - head) :]}"


def connections_of(pid: int, current: Mapping[RowKey, Connection], first: RowKey | None = None) -> list[Connection]:
    """The sockets process ``pid`` holds in the snapshot ``current``, the one at ``first`` (the selected row's)
    leading if it is still open."""
    held = [r for k, r in current.items() if k != first and any(o.pid == pid for o in r.owners)]
    selected = current.get(first) if first is not None else None
    return [selected, *held] if selected is not None else held


def connection_line(record: Connection) -> str:
    """``tcp4 127.0.0.1:8000 → 10.0.0.9:50000 ESTABLISHED``, made safe."""
    return safe(
        f"{record.proto.value}{record.family} {local_text(record)} → {remote_text(record)} {record.state.value}"
    )


def describe_owner(owner: Owner, connections: list[Connection]) -> Text:
    """What the dialog says of the process: never markup, whatever its name or command line holds."""
    started = (
        "unknown" if owner.start_time is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner.start_time))
    )
    command = elide_middle(safe_words(owner.cmdline, "unknown"))
    lines = [
        Text.assemble(("Send a signal to ", "bold"), (f"pid {owner.pid} ({safe_or(owner.name, '?')})", "bold")),
        Text(f"user {safe_or(owner.user, '?')}   started {started}"),
        Text.assemble("command ", (command, "italic")),
        Text(),
    ]
    plural = "s" if len(connections) != 1 else ""
    lines.append(Text.assemble((f"{len(connections)} connection{plural}", "bold"), " close with it:"))
    lines += [Text(f"  {connection_line(r)}") for r in connections[:CONNECTIONS_SHOWN]]
    if len(connections) > CONNECTIONS_SHOWN:
        lines.append(Text(f"  … and {len(connections) - CONNECTIONS_SHOWN} more"))
    shared = {o.pid for r in connections for o in r.owners if o.pid != owner.pid}
    if shared:
        lines.append(
            Text(f"  (sockets it shares with {len(shared)} other process{'es' * (len(shared) > 1)} stay open)")
        )
    return Text("\n").join(lines)


def _label(index: int, chosen: bool) -> Text:
    """A signal's line; the chosen one pointed at, not only coloured (NO_COLOR, a monochrome terminal)."""
    choice = SIGNALS[index]
    mark = "▶" if chosen else " "
    return Text(f"{mark} {choice.signal.value:>2} {choice.signal.name:<7}  {choice.meaning} ({choice.key})")


class KillScreen(ModalScreen[signal.Signals | None]):
    """Dismisses with the signal to send, or None (Esc, Cancel)."""

    BINDINGS = [
        *(
            Binding(choice.key, f"choose({index})", choice.signal.name, show=False)
            for index, choice in enumerate(SIGNALS)
        ),
        # Before the radio set's own keys: there Enter only marks the highlighted signal and the arrows only move
        # the highlight; here what is highlighted is what is marked, and Enter sends it.
        Binding("down,right", "step(1)", "Next signal", show=False, priority=True),
        Binding("up,left", "step(-1)", "Previous signal", show=False, priority=True),
        Binding("enter", "send", "Send", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, owner: Owner, connections: list[Connection]) -> None:
        super().__init__()
        self.owner = owner
        #: The index in SIGNALS of the signal marked: kept here, not read back from the radio set, which learns of
        #: a key's choice a message later.
        self._chosen = 0
        self._text = describe_owner(owner, connections)

    def compose(self) -> ComposeResult:
        with Vertical(id="kill"):
            yield Static(self._text, id="kill-owner")
            with RadioSet(id="kill-signals", compact=True):
                for index in range(len(SIGNALS)):
                    yield RadioButton(_label(index, index == 0), value=index == 0, compact=True)
            with Horizontal(id="kill-buttons"):
                yield Button("Send (Enter)", variant="error", id="send", compact=True)
                yield Button("Cancel (Esc)", variant="primary", id="cancel", compact=True)

    def on_mount(self) -> None:
        # The buttons answer clicks only: Enter sends and Esc cancels wherever the focus would be.
        for button in self.query(Button):
            button.can_focus = False
        self.query_one(RadioSet).focus()

    @property
    def chosen(self) -> signal.Signals:
        """The signal Enter sends now."""
        return SIGNALS[self._chosen].signal

    def action_choose(self, index: int) -> None:
        self._chosen = index
        list(self.query(RadioButton))[index].value = True
        self._mark()

    def _mark(self) -> None:
        for index, button in enumerate(self.query(RadioButton)):
            button.label = _label(index, index == self._chosen)

    def action_step(self, step: int) -> None:
        self.action_choose((self._chosen + step) % len(SIGNALS))

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        self._chosen = event.index  # a click (a key's own choice comes back here too, in order)
        self._mark()

    def action_send(self) -> None:
        self.dismiss(self.chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.chosen if event.button.id == "send" else None)
