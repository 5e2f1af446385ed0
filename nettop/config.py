"""The viewer's settings that stay: read from, and saved to, a small TOML file.

The file is ``$XDG_CONFIG_HOME/nettop/config.toml`` (``~/.config/nettop/config.toml``), or ``--config PATH``;
``--no-config`` reads and writes nothing. Its keys, all optional::

    theme = "nord"                  # a Textual theme
    interval = 2.0                  # seconds between refreshes, 0.5 to 60
    sort = "-rx"                    # a column key; a leading "-" reverses the order
    columns = ["proto", "local"]    # the columns to show (the screen's width still hides some)
    filter = "-proto:udp"           # the filter language, as typed in the viewer
    hide_states = ["time_wait"]     # states never shown: added to the filter as -state:time_wait

A broken file never stops the viewer: each problem is one line naming the file, the line and the key, and
what was broken takes its default. Command-line flags win over the file. No Textual here: the loader and the
writer are plain functions over text, and the viewer (``nettop.screens.settings``) calls them.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from nettop.query import QueryError, parse_query, state_from_user
from nettop.view import COLUMN_KEYS

MIN_INTERVAL, MAX_INTERVAL = 0.5, 60.0
DEFAULT_THEME = "textual-dark"
#: The file's keys, in the order the file and the settings screen give them.
KEYS = ("theme", "interval", "sort", "columns", "filter", "hide_states")

Origin = Literal["default", "file", "flag"]
#: What a key holds in the file: the few TOML types the settings use.
TomlValue = str | float | int | list[str]


@dataclass(frozen=True, slots=True)
class Settings:
    """The viewer's settings, as the file, the flags and the defaults make them."""

    theme: str = DEFAULT_THEME
    interval: float = 2.0
    sort: str = "state"
    sort_reverse: bool = False
    #: The columns the user wants (a narrow screen, or a source without traffic, still hides some of them).
    columns: frozenset[str] = frozenset(COLUMN_KEYS)
    filter: str = ""
    #: States never shown, as ``State`` values lowered (``time_wait``).
    hide_states: tuple[str, ...] = ()

    @property
    def start_filter(self) -> str:
        """The filter the viewer starts with: the typed one, then a ``-state:`` term per hidden state, but for
        the states the filter asks for by name (``--filter state:time_wait`` must not come up empty)."""
        asked = asked_states(self.filter)
        hidden = [state for state in self.hide_states if state not in asked]
        return " ".join([*([self.filter] if self.filter.strip() else []), *hidden_terms(hidden)])


def hidden_terms(states: Collection[str]) -> list[str]:
    return [f"-state:{state}" for state in states]


def asked_states(text: str) -> set[str]:
    """The states a filter's ``state:`` terms (not negated) ask for, as ``hide_states`` names them."""
    try:
        query = parse_query(text)
    except QueryError:
        return set()
    words = [word for c in query.terms if c.key == "state" and not c.negated for word in c.value.split(",")]
    return {state_from_user(word).value.lower() for word in words}


def filter_without_hidden(text: str, hide_states: Collection[str]) -> str:
    """A filter typed in the viewer, less the terms ``hide_states`` adds at start: they are saved as hide_states,
    and saving them in the filter too would double them at the next start."""
    try:
        query = parse_query(text)
    except QueryError:
        return text
    hidden = set(hide_states)
    kept = [c for c in query.terms if not (c.key == "state" and c.negated and c.value.lower() in hidden)]
    return text if len(kept) == len(query.terms) else " ".join(c.text for c in kept)


@dataclass(frozen=True, slots=True)
class Loaded:
    """Settings and where each came from; ``path`` is the file to save to (None: ``--no-config``)."""

    path: Path | None
    settings: Settings = field(default_factory=Settings)
    origins: Mapping[str, Origin] = field(default_factory=lambda: dict.fromkeys(KEYS, "default"))
    #: One line per thing wrong with the file, each naming the file, the line and the key.
    problems: tuple[str, ...] = ()

    def with_flags(self, interval: float | None, filter_text: str | None) -> Loaded:
        """Flags win over the file (None: not given). ``--filter`` replaces the file's filter; its hide_states
        still hide, but for states the flag's filter names (``Settings.start_filter``)."""
        settings, origins = self.settings, dict(self.origins)
        if interval is not None:
            settings, origins["interval"] = replace(settings, interval=interval), "flag"
        if filter_text is not None:
            settings, origins["filter"] = replace(settings, filter=filter_text), "flag"
        return replace(self, settings=settings, origins=origins)

    def saved(self, now: Settings, keys: Collection[str]) -> Loaded:
        """These settings once ``keys`` of ``now`` are saved: from the file from now on."""
        names = [name for key in keys for name in (("sort", "sort_reverse") if key == "sort" else (key,))]
        settings = replace(self.settings, **{name: getattr(now, name) for name in names})
        return replace(self, settings=settings, origins={**self.origins, **dict.fromkeys(keys, "file")})


def default_path(environ: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_CONFIG_HOME/nettop/config.toml``; the XDG spec says a relative or empty value is to be ignored."""
    base = environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path(environ.get("HOME") or Path.home()) / ".config"
    return root / "nettop" / "config.toml"


def load(path: Path | None, themes: Collection[str]) -> Loaded:
    """Read the settings at ``path`` (None: the defaults). A missing file is the defaults, silently; anything
    wrong with it is said in ``problems``, never raised."""
    if path is None:
        return Loaded(None)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Loaded(path)
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return Loaded(path, problems=(f"{path}: cannot read it ({reason}); using the defaults",))
    settings, origins, problems = read_settings(text, themes, str(path))
    return Loaded(path, settings, origins, problems)


def read_settings(text: str, themes: Collection[str], name: str) -> tuple[Settings, dict[str, Origin], tuple[str, ...]]:
    """The settings ``text`` holds, where each came from, and what is wrong with it (``name`` is the file's)."""
    origins: dict[str, Origin] = dict.fromkeys(KEYS, "default")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:  # its message says the line and column
        return Settings(), origins, (f"{name}: not valid TOML: {error}; using the defaults",)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in table.items():
        where = f"{name}, line {_line_of(text, key)}"
        read = _READERS.get(key)
        if read is None:
            problems.append(f"{where}: unknown key {key!r} (known: {', '.join(KEYS)}); ignored")
            continue
        try:
            values.update(read(value, themes))
        except ValueError as error:
            default = _default_text(key)
            problems.append(f"{where}: {key}: {error}; using the default ({default})")
            continue
        origins[key] = "file"
    return Settings(**values), origins, tuple(problems)


def _line_of(text: str, key: str) -> int | str:
    """The line a top-level key is set on (the first), or "?" (a key inside a table, say)."""
    pattern = re.compile(rf"""\s*("{re.escape(key)}"|'{re.escape(key)}'|{re.escape(key)})\s*=""")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return number
    return "?"


def _default_text(key: str) -> str:
    shown = file_values(Settings()).get(key)
    return "all" if shown is None else toml_value(shown)


def _text(value: object, what: str = "text") -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected {what} in quotes, got {toml_type(value)}")
    return value


def _texts(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f'expected a list of names in quotes, like ["a", "b"], got {toml_type(value)}')
    return value


def toml_type(value: object) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "a table"}
    return next((name for kind, name in names.items() if isinstance(value, kind)), type(value).__name__)


def _theme(value: object, themes: Collection[str]) -> dict[str, Any]:
    name = _text(value, "a theme name")
    if name not in themes:
        raise ValueError(f"unknown theme {name!r} (one of {', '.join(sorted(themes))})")
    return {"theme": name}


def _interval(value: object, themes: Collection[str]) -> dict[str, Any]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number of seconds, got {toml_type(value)}")
    if not (math.isfinite(value) and MIN_INTERVAL <= value <= MAX_INTERVAL):
        raise ValueError(f"{value:g} is out of range (give {MIN_INTERVAL:g} to {MAX_INTERVAL:g} seconds)")
    return {"interval": float(value)}


def _sort(value: object, themes: Collection[str]) -> dict[str, Any]:
    text = _text(value, "a column key")
    key = text.removeprefix("-")
    if key not in COLUMN_KEYS:
        raise ValueError(f"unknown column {key!r} (one of {', '.join(COLUMN_KEYS)})")
    return {"sort": key, "sort_reverse": text.startswith("-")}


def _columns(value: object, themes: Collection[str]) -> dict[str, Any]:
    keys = _texts(value)
    unknown = [key for key in keys if key not in COLUMN_KEYS]
    if unknown:
        raise ValueError(f"unknown column {unknown[0]!r} (one of {', '.join(COLUMN_KEYS)})")
    if not keys:
        raise ValueError("no column to show")
    return {"columns": frozenset(keys)}


def _filter(value: object, themes: Collection[str]) -> dict[str, Any]:
    text = _text(value, "a filter")
    try:
        parse_query(text)
    except QueryError as error:
        raise ValueError(str(error)) from None
    return {"filter": text}


def _hide_states(value: object, themes: Collection[str]) -> dict[str, Any]:
    return {"hide_states": tuple(dict.fromkeys(state_from_user(word).value.lower() for word in _texts(value)))}


_READERS: dict[str, Callable[[object, Collection[str]], dict[str, Any]]] = {
    "theme": _theme,
    "interval": _interval,
    "sort": _sort,
    "columns": _columns,
    "filter": _filter,
    "hide_states": _hide_states,
}


# --- saving -------------------------------------------------------------------------------------


def file_values(settings: Settings) -> dict[str, TomlValue | None]:
    """What the file says for ``settings``; None leaves a key out (every column shown: a column a later nettop
    adds is then shown too)."""
    every = settings.columns >= frozenset(COLUMN_KEYS)
    return {
        "theme": settings.theme,
        "interval": settings.interval,
        "sort": ("-" if settings.sort_reverse else "") + settings.sort,
        "columns": None if every else [key for key in COLUMN_KEYS if key in settings.columns],
        "filter": settings.filter,
        "hide_states": list(settings.hide_states),
    }


def toml_value(value: TomlValue) -> str:
    """A value as TOML writes it (the settings hold only text, numbers and lists of text)."""
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, float):
        return repr(value)  # 2.0, 0.5: always a TOML float
    if isinstance(value, int):
        return str(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


HEADER = "# nettop's settings (see the README). nettop rewrites the keys it saves; other lines are kept.\n"


def updated_text(text: str, values: Mapping[str, TomlValue | None]) -> str:
    """``text`` with each key of ``values`` set (None: removed), every other line, comments included, kept.

    The keys are top-level and their values one line long (as nettop writes them); a key set over several lines
    or inside a table is not edited in place: the file is then written anew (``save`` checks the result).
    """
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    first_table = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines))
    missing: list[str] = []
    for key, value in values.items():
        pattern = re.compile(rf"\s*{re.escape(key)}\s*=")
        at = next((i for i in range(first_table) if pattern.match(lines[i])), None)
        new = None if value is None else f"{key} = {toml_value(value)}\n"
        if at is not None:
            lines[at] = new or ""
        elif new is not None:
            missing.append(new)
    head = lines[:first_table]
    while head and not head[-1].strip():  # new keys go after the last top-level line, before any table
        head.pop()
    tail = lines[len(head) :]
    return "".join([*([HEADER] if not text.strip() else []), *head, *missing, *tail])


def fresh_text(values: Mapping[str, TomlValue | None]) -> str:
    return HEADER + "".join(f"{key} = {toml_value(value)}\n" for key, value in values.items() if value is not None)


class SaveRefused(ValueError):
    """The file there is not one nettop can edit (not TOML, not text): it is left as it is for its owner to fix."""


def save(path: Path, values: Mapping[str, TomlValue | None]) -> None:
    """Set ``values`` in the file at ``path``, keeping its other lines; written whole to a temporary file that
    then replaces it, so that a crash or a full disk never leaves half a file. Raises OSError, or SaveRefused
    for a file that is not valid TOML: rewriting it would lose what its owner meant to write."""
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = ""
    except UnicodeDecodeError:
        raise SaveRefused(f"{path} is not UTF-8 text: fix or remove it first") from None
    try:
        tomllib.loads(old)
    except tomllib.TOMLDecodeError as error:
        raise SaveRefused(f"{path} is not valid TOML ({error}): fix or remove it first") from None
    text = updated_text(old, values)
    if not _says(text, values):  # a key set in a form the line editor does not know: write the file anew
        text = fresh_text({**_known(old), **values})
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=".config.", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def _known(text: str) -> dict[str, TomlValue | None]:
    """The settings' keys in ``text`` (what a file written anew keeps of it)."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
    kinds = (str, float, int, list)
    return {key: value for key, value in table.items() if key in KEYS and isinstance(value, kinds)}


def _says(text: str, values: Mapping[str, TomlValue | None]) -> bool:
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return all(table.get(key) == value for key, value in values.items())
