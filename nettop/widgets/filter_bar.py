"""The filter bar: an input that checks the query as it is typed and says what is wrong with it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label

from nettop.query import Query, QueryError, parse_query
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

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: The query the viewer holds, already parsed: the input showing its text is not parsed again.
        self._shown = Query()

    def show_query(self, query: Query) -> None:
        """Show a query the viewer already applies (``--filter``), without parsing it a second time."""
        self._shown = query
        self.query_one(Input).value = query.text

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        error = self.query_one("#filter-error", Label)
        if event.value == self._shown.text:  # the text of the query in force: nothing to parse nor apply
            error.update("")
            self.remove_class("-invalid")
            return
        try:
            query = parse_query(event.value)
        except QueryError as bad:
            # What was typed is in the message: shown as text, never read as markup (`port:[/` once crashed).
            error.update(Text(safe(f"✗ {bad.message} (at {bad.position + 1})")))
            self.add_class("-invalid")
            return
        error.update("")
        self.remove_class("-invalid")
        self._shown = query
        self.post_message(self.Changed(query))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Closed())

    def action_close(self) -> None:
        self.post_message(self.Closed())
