"""The pipeline never imports Textual: `nettop list` and the API stay light and start fast."""

from __future__ import annotations

import subprocess
import sys


def test_core_modules_do_not_load_textual() -> None:
    code = (
        "import sys, nettop, nettop.cli, nettop.sources, nettop.enrich, nettop.export, nettop.query;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
