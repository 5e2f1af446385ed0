"""nettop.text: untrusted text made safe to print, in one place."""

from __future__ import annotations

import json
import sys
import unicodedata
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nettop.text import cut, json_safe_bytes, safe

UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def unsafe_characters(text: str) -> list[str]:
    """What must never reach a terminal raw: controls, format characters, surrogates, line separators."""
    return [c for c in text if unicodedata.category(c) in UNSAFE_CATEGORIES or c in "\ufffe\uffff"]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("nginx", "nginx"),
        ("\x1b]0;pwn\x07", "\\x1b]0;pwn\\x07"),
        ("\x1b[2J", "\\x1b[2J"),
        ("tab\there\nand\r", "tab\\there\\nand\\r"),
        ("\x9b2J", "\\x9b2J"),  # C1 CSI
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),  # right-to-left override
        ("x\udcffy", "x\\xffy"),  # a byte that was not UTF-8, as psutil keeps it
        ("tag\U000e0041", "tag\\U000e0041"),
        ("café 日本 [red]x[/]", "café 日本 [red]x[/]"),  # text and markup characters are kept: markup is never built
    ],
)
def test_safe_escapes_what_a_terminal_acts_on_and_keeps_the_rest(raw: str, shown: str) -> None:
    assert safe(raw) == shown


def test_every_unsafe_character_of_unicode_is_escaped() -> None:
    every = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in UNSAFE_CATEGORIES]
    assert len(every) > 2000  # surrogates alone are 2,048
    leaked = [c for c in every if safe(c) == c]
    assert leaked == []


@settings(derandomize=True, max_examples=500, deadline=None)
@given(st.text())
def test_safe_output_is_printable_valid_xml_and_idempotent(text: str) -> None:
    shown = safe(text)
    assert unsafe_characters(shown) == []
    assert safe(shown) == shown
    element = ET.Element("case", name=shown)
    element.text = shown
    assert ET.fromstring(ET.tostring(element, encoding="unicode")).get("name") == shown  # valid XML 1.0


def test_cut_bounds_and_escapes_a_quote() -> None:
    assert cut("\x1b" * 1000, 10) == "\\x1b" * 10 + "…"
    assert cut("short") == "short"


def test_json_safe_bytes_escapes_del_and_c1_and_keeps_the_values() -> None:
    value = {"name": "a\x7fb\x9bc\u00e9\u00a0"}
    data = json.dumps(value, ensure_ascii=False).encode()
    assert b"\x7f" in data and b"\xc2\x9b" in data
    safe_data = json_safe_bytes(data)
    assert b"\x7f" not in safe_data and b"\xc2\x9b" not in safe_data
    assert "\u00e9\u00a0".encode() in safe_data  # other Latin-1 characters stay as they are
    assert json.loads(safe_data) == value


def test_an_owner_named_without_its_pid_is_shown_and_never_signalled() -> None:
    from nettop.model import Owner
    from nettop.owners.kill import KillRefused, signal_owner
    from nettop.text import owners_text

    named = Owner(None, "sshd")
    assert owners_text([named, Owner(7, None)]) == "?/sshd,7/?"
    with pytest.raises(KillRefused, match="sshd: its pid is unknown"):
        signal_owner(named)
