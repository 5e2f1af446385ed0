"""The column chooser: every column of the table with a checkbox; a change shows at once behind the dialog.

A chosen column may still be left out where it cannot be shown (a narrow screen, no traffic counts): its line
says when it shows. At least one column stays chosen: a table of no columns would look like a broken viewer.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from nettop.view import COLUMNS, HOSTS, NETNS, TRAFFIC, Column

HINT = "Space toggles · Esc closes · to keep the choice: S, then s"
#: What a column needs to be shown, beyond being chosen.
NEEDS = {TRAFFIC: "traffic (netlink)", NETNS: "--all-netns", HOSTS: "--host"}


def column_label(column: Column) -> Text:
    """The column's title and key (two columns are called Port), and when it shows beyond being chosen."""
    notes = [f"from {column.min_screen} columns wide"] if column.min_screen else []
    if column.needs:
        notes.append(f"with {NEEDS.get(column.needs, column.needs)}")
    label = Text(f"{column.title} ")
    label.append(f"({column.key})", style="dim")
    if notes:
        label.append(f"  {', '.join(notes)}", style="italic")
    return label


class ColumnsScreen(ModalScreen[None]):
    """Posts ``Chosen`` with the chosen columns at every change."""

    BINDINGS = [Binding("escape,c", "dismiss", "Close")]

    class Chosen(Message):
        def __init__(self, columns: frozenset[str]) -> None:
            self.columns = columns
            super().__init__()

    def __init__(self, chosen: frozenset[str]) -> None:
        super().__init__()
        #: The columns chosen now (what an attempt to untick the last one goes back to).
        self._chosen = chosen

    def compose(self) -> ComposeResult:
        with Vertical(id="columns"):
            yield Static(Text("Columns", style="bold"))
            yield SelectionList[str](
                *(Selection(column_label(c), c.key, c.key in self._chosen) for c in COLUMNS), id="columns-list"
            )
            yield Static(HINT, id="columns-hint", markup=False)

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        event.stop()
        chosen = frozenset(event.selection_list.selected)
        if not chosen:  # the last one was unticked: tick it again
            for key in self._chosen:
                event.selection_list.select(key)
            self.notify("At least one column stays shown.", severity="warning", markup=False)
            return
        self._chosen = chosen
        self.post_message(self.Chosen(chosen))
