"""Parsers from a tool's text to records, one module per output family, and a detector that picks one.

Every parser is a pure function ``parse(text) -> ParseResult``; none runs a command or reads a file.
Importing this package loads no parser: each is imported where it is used, so that ``nettop list`` on Linux
loads ss's and netstat's alone. ``detect_format`` and ``parse_text`` load them all (see ``detect``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nettop.model import ParseResult


def detect_format(text: str) -> str:
    """Name the format of ``text`` from its header lines, or raise a clear error."""
    from nettop.parsers import detect

    return detect.detect_format(text)


def parse_text(text: str, format: str = "auto") -> ParseResult:
    """Parse a listing, detecting its format unless one is named."""
    from nettop.parsers import detect

    return detect.parse_text(text, format)
