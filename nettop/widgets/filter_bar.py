"""The filter bar: an input that checks the query as it is typed and says what is wrong with it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label

from nettop.filterquery import Query, QueryError, parse_query
from nettop.text import safe


class FilterBar(Horizontal):
    """Posts ``FilterBar.Changed`` with a parsed query; a malformed one is shown, never applied."""

    BINDINGS = [Binding("escape", "close", "Back to the table")]

    class Changed(Message):
        def __init__(self, query: Query) -> None:
            self.query = query
            super().__init__()

    class Closed(Message):
        """Escape or Enter: hand the focus back to the table."""

    def compose(self) -> ComposeResult:
        yield Label("Filter:", id="filter-label")
        yield Input(
            placeholder="text  port:443  state:listen  proto:udp  prog:nginx  ip:10.0.0.0/8  -term",
            id="filter-input",
        )
        yield Label("", id="filter-error")

    def set_text(self, text: str) -> None:
        self.query_one(Input).value = text

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        error = self.query_one("#filter-error", Label)
        try:
            query = parse_query(event.value)
        except QueryError as bad:
            # What was typed is in the message: shown as text, never read as markup (`port:[/` once crashed).
            error.update(Text(safe(f"✗ {bad.message} (at {bad.position + 1})")))
            self.add_class("-invalid")
            return
        error.update("")
        self.remove_class("-invalid")
        self.post_message(self.Changed(query))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Closed())

    def action_close(self) -> None:
        self.post_message(self.Closed())
