"""Help: the keys, and the filter language."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
[b]nettop[/b]: live network connections

[b]Keys[/b]
  ↑ ↓ PgUp PgDn Home End   move the cursor
  Enter        details of the selected connection
  /            filter (Enter or Esc returns to the table)
  s / r        sort by the next column / reverse the sort (or click a header)
  l            listening sockets only
  t            cycle TCP / UDP / both
  4 / 6        IPv4 only / IPv6 only (press again for both)
  space        pause / resume the display
  + / -        refresh slower / faster
  k            terminate the owner of the selected connection (asks first)
  e            show / hide the event log (what opened, closed, changed)
  b            baseline: from now on show only what changed (b again clears)
  x            export the connections on screen to a .json or .csv file
  ctrl+p       command palette (every action, and themes)
  ?            this help
  q            quit

[b]Filter[/b]: terms combine with AND; a leading - negates one
  nginx            free text, in any column
  port:443         local or remote port (lport:, rport:; 80,443 and 8000-8100 work)
  state:listen     a state (established, time-wait, …)
  proto:udp        tcp, udp
  pid:1234         an owner's pid;  prog:nginx  an owner's name;  user:www
  ip:10.0.0.0/8    an address or network at either end (lip:, rip: for one end)
  fam:6            IPv4 or IPv6

Rows: new connections are highlighted for a few seconds; closed ones stay dimmed, then go.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(HELP, id="help-text")
