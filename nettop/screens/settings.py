"""The settings screen: each setting as it is now, where it came from (the config file, a flag, the default, or
changed in the viewer), and a button that saves them to the config file (``nettop.config``)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from nettop.config import KEYS, Loaded, SaveRefused, Settings, file_values, save, toml_value
from nettop.text import safe

TITLE = "Settings"
CHANGED = "changed here, not saved"
NO_CONFIG = "--no-config: no config file is read, and nothing is saved"


def settings_rows(start: Loaded, now: Settings) -> list[tuple[str, str, str]]:
    """(key, value as the file would say it, where it came from) for every setting: its origin at start, or
    ``CHANGED`` when the viewer has changed it since."""
    before, after = file_values(start.settings), file_values(now)
    rows = []
    for key in KEYS:
        value = after[key]
        shown = "all" if value is None else toml_value(value)
        rows.append((key, shown, CHANGED if value != before[key] else start.origins[key]))
    return rows


def save_settings(start: Loaded, now: Settings, keys: tuple[str, ...]) -> tuple[Loaded | None, str]:
    """Save ``keys`` of ``now`` in the config file: the settings from then on (None when not saved), and what
    to tell the user."""
    path = start.path
    if path is None:
        return None, "--no-config: settings are not saved"
    values = file_values(now)
    try:
        save(path, {key: values[key] for key in keys})
    except OSError as error:
        return None, f"settings not saved: {path}: {error.strerror or type(error).__name__}"
    except SaveRefused as refusal:
        return None, f"settings not saved: {refusal}"
    return start.saved(now, keys), f"settings saved to {path}"


def settings_text(start: Loaded, now: Settings) -> Text:
    """The table of settings and the file's path, as text (never markup: a filter or a path may hold ``[``)."""
    rows = settings_rows(start, now)
    key_width = max(len(key) for key, _, _ in rows)
    value_width = min(max(len(value) for _, value, _ in rows), 44)
    text = Text()
    text.append(f"{'setting':<{key_width}}  {'value':<{value_width}}  from\n", style="bold")
    for key, value, origin in rows:
        cell = value if len(value) <= value_width else value[: value_width - 1] + "…"
        text.append(f"{key:<{key_width}}  {safe(cell):<{value_width}}  ")
        text.append(origin + "\n", style="bold" if origin == CHANGED else "")
    text.append("\n")
    if start.path is None:
        text.append(NO_CONFIG)
    else:
        text.append(f"Config file: {safe(str(start.path))}")
    text.append("\nThe quick toggles (l t 4 6), pause and baseline last one session.")
    return text


class SettingsScreen(ModalScreen[bool]):
    """Dismisses with True when the user asks to save the current settings, else False."""

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("s", "save", "Save", tooltip="save the current settings to the config file"),
    ]

    def __init__(self, start: Loaded, now: Settings) -> None:
        super().__init__()
        self._start = start
        self._now = now

    def compose(self) -> ComposeResult:
        with Vertical(id="settings"):
            yield Static(Text(TITLE, style="bold"), id="settings-title")
            yield Static(settings_text(self._start, self._now), id="settings-table")
            with Horizontal(id="settings-buttons"):
                yield Button("Save current settings (s)", id="settings-save", disabled=self._start.path is None)
                yield Button("Close (Esc)", id="settings-close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "settings-save":
            self.action_save()
        else:
            self.action_close()

    def action_save(self) -> None:
        if self._start.path is not None:
            self.dismiss(True)

    def action_close(self) -> None:
        self.dismiss(False)
