"""The filter bar: an input that checks the query as it is typed and says what is wrong with it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label

from nettop.query import Query, QueryError, parse_query
from nettop.text import safe


def whole_terms_before(text: str, position: int) -> Query | None:
    """The query of the terms before the one at ``position`` (the term being typed, in error), or None if they
    do not parse either. ``port:443 po`` is valid free text on the way to ``port:443 port:22``: once ``port:``
    is an error, the filter in effect is ``port:443``, not a search for the word "port" that hides every row."""
    start = max(text.rfind(" ", 0, position), text.rfind("\t", 0, position)) + 1
    try:
        return parse_query(text[:start])
    except QueryError:
        return None


def error_text(error: QueryError) -> Text:
    """What is wrong, as text: what was typed is in the message, and ``port:[/`` once crashed the bar as markup."""
    return Text(safe(f"✗ {error.message} (at {error.position + 1})"))


def in_effect_text(query: Query) -> Text:
    """Which filter holds while the input is invalid."""
    return Text(safe(f"· in effect: {query.text.strip() or 'none'}"))


class FilterBar(Vertical):
    """Posts ``FilterBar.Changed`` with a parsed query; a malformed one is shown, never applied.

    The error goes on a line of its own below the input (the bar grows while the text is invalid): beside it, a
    long message left the input a single character at 80 columns. The filter in effect meanwhile ends that line,
    on its right, where a long message (the list of terms) cannot push it out of sight.
    """

    BINDINGS = [Binding("escape", "close", "Back to the table")]

    class Changed(Message):
        def __init__(self, query: Query) -> None:
            self.query = query
            super().__init__()

    class Closed(Message):
        """Escape or Enter: hand the focus back to the table."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="filter-row"):
            yield Label("Filter:", id="filter-label")
            yield Input(
                placeholder="text  port:443  state:listen  proto:udp  prog:nginx  ip:10.0.0.0/8  -term",
                id="filter-input",
            )
        with Horizontal(id="filter-problem"):
            yield Label("", id="filter-error")
            yield Label("", id="filter-in-effect")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: The query the viewer holds, already parsed: the input showing its text is not parsed again.
        self._shown = Query()

    @property
    def invalid(self) -> bool:
        """The input holds a malformed filter (the one in effect is said below it)."""
        return self.has_class("-invalid")

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
            fallback = whole_terms_before(event.value, bad.position)
            if fallback is not None and fallback.text.strip() != self._shown.text.strip():
                self._apply(fallback)
            error.update(error_text(bad))
            self.query_one("#filter-in-effect", Label).update(in_effect_text(self._shown))
            self.add_class("-invalid")
            return
        error.update("")
        self.remove_class("-invalid")
        self._apply(query)

    def _apply(self, query: Query) -> None:
        self._shown = query
        self.post_message(self.Changed(query))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Closed())

    def action_close(self) -> None:
        self.post_message(self.Closed())
