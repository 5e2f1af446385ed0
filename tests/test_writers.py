"""The writers' registry: every format the CLI offers and every export suffix is one registered writer."""

from __future__ import annotations

import argparse

from nettop import writers
from nettop.cli import build_parser
from nettop.model import Connection, Owner, OwnerStatus, Proto, State

RECORD = Connection(Proto.TCP, 4, "127.0.0.1", 22, None, None, State.LISTEN, (Owner(7, "sshd"),), OwnerStatus.KNOWN)


def _format_choices(parser: argparse.ArgumentParser, *command: str) -> list[str]:
    for name in command:
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = subparsers.choices[name]
    (action,) = [a for a in parser._actions if "--format" in a.option_strings]
    return list(action.choices or ())


def test_every_format_choice_of_the_cli_is_the_registry_s() -> None:
    parser = build_parser()
    for command, kind in ((("list",), "records"), (("watch",), "events"), (("diff",), "diff"), (("check",), "report")):
        assert _format_choices(parser, *command) == writers.names(kind) != []


def test_every_registered_writer_loads_and_records_writers_write_a_record() -> None:
    for entry in writers.WRITERS:
        assert callable(entry.load()) and callable(entry.load(for_file=True))
    for name in writers.names("records"):
        written = writers.writer("records", name)([RECORD])
        assert b"sshd" in (written.encode() if isinstance(written, str) else written)


def test_export_suffixes_name_records_writers_and_nothing_else_does() -> None:
    assert writers.export_suffixes() == [".json", ".csv", ".tsv"]
    for suffix in writers.export_suffixes():
        assert writers.for_suffix(suffix) is not None
    assert writers.for_suffix("") is None and writers.for_suffix(".txt") is None
    assert writers.for_suffix(".json")([RECORD]).startswith(b"[\n  {")  # indented in a file


def test_one_record_orjson_cannot_write_leaves_the_others_to_it() -> None:
    """A process named in bytes that are not UTF-8 (kept as lone surrogates) is written with a \\u escape; the
    other records are still orjson's, and the whole reads back exactly."""
    import json as stdlib_json

    from nettop.writers.json import dump_json

    values = [{"a": "plain"}, {"b": "bad\udcff"}, {"c": 2**70}, {"d": [1, 2]}]
    data = dump_json(values)
    assert stdlib_json.loads(data) == values
    assert data.startswith(b'[{"a":"plain"},{"b":"bad\\udcff"}')
