"""Every output format nettop writes, in one registry: the CLI's ``--format`` choices and the viewer's export
suffixes come from it, so a new format is one writer function and one entry here.

A writer is looked up by what it writes (its ``kind``) and its name:

- ``records``: a snapshot's connections (``nettop list --format``; with a ``suffix``, the viewer's export);
- ``events``: one ``watch`` event, as one line (``nettop watch --format``);
- ``diff``: what differs between two snapshots (``nettop diff --format``);
- ``report``: a policy check's report (``nettop check --format``; the writers live in ``nettop.policy.report``).

A writer takes that one value and returns the text or bytes to write (text is written as UTF-8 to a file).
Entries name their function as ``module:function`` and it is imported on first use: the CLI reads this registry
to build its parser, before anything heavy (orjson, the parsers) may load.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import NamedTuple

#: What writes one value of a kind: text, or bytes (JSON, which orjson makes as bytes). ``records`` writers also
#: take ``names``, the peers' host names (``nettop list --resolve``).
WriteFunction = Callable[..., str | bytes]


class Writer(NamedTuple):
    kind: str
    name: str
    #: ``module:function``, imported when the writer is first used.
    target: str
    #: The export file suffix that selects this writer in the viewer (``records`` only); "" for none.
    suffix: str = ""
    #: The function for an export file, when it differs from ``target`` (JSON is indented in a file).
    file_target: str = ""

    def load(self, for_file: bool = False) -> WriteFunction:
        module, _, function = ((for_file and self.file_target) or self.target).partition(":")
        write: WriteFunction = getattr(importlib.import_module(module), function)
        return write


WRITERS: tuple[Writer, ...] = (
    Writer("records", "table", "nettop.writers.table:to_table"),
    Writer("records", "json", "nettop.writers.json:write_records", ".json", "nettop.writers.json:write_file"),
    Writer("records", "csv", "nettop.writers.csv:to_csv", ".csv"),
    Writer("records", "tsv", "nettop.writers.csv:to_tsv", ".tsv"),
    # For node_exporter's textfile collector; ``nettop list`` writes the collection's metrics too.
    Writer("records", "prometheus", "nettop.metrics:write_records"),
    Writer("events", "ndjson", "nettop.writers.events:ndjson_line"),
    Writer("events", "text", "nettop.writers.events:text_line"),
    Writer("diff", "text", "nettop.writers.events:diff_text"),
    Writer("diff", "json", "nettop.writers.events:diff_json"),
    Writer("report", "text", "nettop.policy.report:to_text"),
    Writer("report", "json", "nettop.policy.report:to_json"),
    Writer("report", "junit", "nettop.policy.report:to_junit"),
    Writer("report", "tap", "nettop.policy.report:to_tap"),
)


def names(kind: str) -> list[str]:
    """The formats of one kind, in the registry's order: what ``--format`` offers."""
    return [w.name for w in WRITERS if w.kind == kind]


def writer(kind: str, name: str) -> WriteFunction:
    """The function that writes ``kind`` as ``name``; KeyError for a format the registry does not have."""
    for w in WRITERS:
        if w.kind == kind and w.name == name:
            return w.load()
    raise KeyError(f"no {kind} writer named {name!r}")


def export_suffixes() -> list[str]:
    """The file suffixes the viewer's export knows, each naming a ``records`` writer."""
    return [w.suffix for w in WRITERS if w.kind == "records" and w.suffix]


def for_suffix(suffix: str) -> WriteFunction | None:
    """The ``records`` writer for an export file named ``*suffix`` (lower case), None when there is none."""
    for w in WRITERS:
        if w.kind == "records" and w.suffix and w.suffix == suffix:
            return w.load(for_file=True)
    return None
