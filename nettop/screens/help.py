"""Help: the keys and the filter language, made from the bindings and from ``nettop.query.TERMS``.

Nothing here is a copy: a key is listed from its ``Binding`` (its tooltip, or else its description), a filter
term from its entry in the query's table, so a new key or term is in the help as soon as it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from nettop import query

TITLE = "nettop: live network connections"
FILTER_HEADING = 'Filter: all terms must hold; -term negates one; quotes keep spaces: prog:"my app"'
#: The keys' column; a longer key (the cursor keys, together) takes the room it needs on its line.
KEY_WIDTH = 8
ROWS_NOTE = "Rows: new connections are highlighted for a few seconds; closed ones stay dimmed, then go."


def key_lines(bindings: Iterable[BindingType], key_display: Callable[[Binding], str]) -> list[tuple[str, str]]:
    """(keys as shown, what they do) for every binding with a description, in order; bindings that do the same
    (the same tooltip: the cursor keys, 4 and 6, a letter and its function key) share the first one's line."""
    keys_of: dict[str, list[str]] = {}  # what they do -> keys, in the order first seen
    for binding in bindings:
        if isinstance(binding, Binding) and binding.description:
            keys_of.setdefault(binding.tooltip or binding.description, []).append(key_display(binding))
    return [(" ".join(keys), does) for does, keys in keys_of.items()]


def term_lines() -> list[tuple[str, str]]:
    """(example, what it matches) for free text and every term of the filter language (read now, not at import)."""
    lines = [(query.FREE_TEXT_EXAMPLE, query.FREE_TEXT_HELP)]
    for term in query.TERMS:
        also = f" (also {', '.join(alias + ':' for alias in term.aliases)})" if term.aliases else ""
        lines.append((term.example, term.help + also))
    return lines


def help_text(keys: list[tuple[str, str]], terms: list[tuple[str, str]]) -> Text:
    """The help as text (never markup: it is assembled, so a ``[`` in a description is shown as typed)."""
    text = Text()
    text.append(TITLE + "\n\n", style="bold")
    text.append("Keys\n", style="bold")
    width = min(max((len(key) for key, _ in keys), default=0), KEY_WIDTH)
    for key, does in keys:
        text.append(f"  {key:<{width}}  {does}\n")
    text.append("\n" + FILTER_HEADING + "\n", style="bold")
    width = max(len(example) for example, _ in terms)
    for example, matches in terms:
        text.append(f"  {example:<{width}}  {matches}\n")
    text.append("\n" + ROWS_NOTE)
    return text


class HelpScreen(ModalScreen[None]):
    """The keys of ``bindings`` (the app's and its widgets'), then the filter language."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, bindings: Iterable[BindingType] = ()) -> None:
        super().__init__()
        # Not ``_bindings``: that name is Textual's own map of a screen's keys, and replacing it broke every key.
        self._listed = list(bindings)

    def compose(self) -> ComposeResult:
        keys = key_lines(self._listed, self.app.get_key_display)
        with VerticalScroll(id="help"):
            yield Static(help_text(keys, term_lines()), id="help-text")
