"""Formats: a tool's text to records, one module per output family; ``registry`` holds one spec per format.

Every format is a pure function ``parse(text) -> ParseResult``: it runs no command, reads no file, looks up
no owner and keeps no state. Formats import only ``nettop.model``, ``nettop.errors`` (the errors a parse
raises), ``nettop.text`` (quoting input in messages), ``nettop.cgroups`` (classifying a cgroup read back) and
each other: ``tests/test_import_rules.py`` checks it.
Importing this package loads no format: each is imported where it is used, so that ``nettop list`` on Linux
loads ss's and netstat's alone. ``detect_format`` and ``parse_text`` load them all (see ``detect``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nettop.model import ParseResult


def detect_format(text: str) -> str:
    """Name the format of ``text`` from its header lines, or raise a clear error."""
    from nettop.formats import detect

    return detect.detect_format(text)


def parse_text(text: str, format: str = "auto") -> ParseResult:
    """Parse a listing, detecting its format unless one is named."""
    from nettop.formats import detect

    return detect.parse_text(text, format)
