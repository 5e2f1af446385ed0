"""The pipeline never imports Textual: `nettop list` and the API stay light and start fast."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest


def test_core_modules_do_not_load_textual() -> None:
    code = (
        "import sys, nettop, nettop.cli, nettop.sources, nettop.enrich, nettop.export, nettop.query;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2); .ci/run installs it")
def test_one_shot_list_loads_neither_asyncio_nor_other_platforms_parsers() -> None:
    """`nettop list` collects without an event loop (asyncio's import alone is a sixth of its time budget),
    and loads the parsers of Linux's tools alone."""
    code = (
        "import io, sys, nettop.cli; sys.stdout = io.TextIOWrapper(io.BytesIO());"
        "code = nettop.cli.main(['list', '--format', 'json', '--listening']);"
        "parsers = sorted(m.rpartition('.')[2] for m in sys.modules if m.startswith('nettop.parsers.'));"
        "print(code, 'asyncio' in sys.modules, *parsers, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.splitlines()[-1] == "0 False common netstat_linux ss"


def test_the_cli_starts_light() -> None:
    """`nettop list` starts ss after importing only the CLI: the parsers, psutil and orjson load while it runs."""
    code = (
        "import sys, nettop.cli; nettop.cli.build_parser().parse_args(['list', '--state', 'listen']);"
        "print(sorted(m for m in ('psutil', 'orjson', 'nettop.sources', 'nettop.parsers.ss') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
