"""Ask where to export the rows on screen; the file name's suffix (.json or .csv) chooses the format."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ExportScreen(ModalScreen[str | None]):
    """Dismisses with the path typed (Enter), or None (Esc)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, default_path: str, count: int) -> None:
        super().__init__()
        self._default = default_path
        self._count = count

    def compose(self) -> ComposeResult:
        with Vertical(id="export"):
            yield Static(f"Export the {self._count} connections on screen to (.json or .csv):")
            yield Input(self._default, id="export-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
