"""The pipeline never imports Textual: `nettop list` and the API stay light and start fast."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import TEXTUAL_OR_RICH, modules_loaded_by


def test_core_modules_do_not_load_textual() -> None:
    imports = "import nettop, nettop.cli, nettop.sources, nettop.owners.enrich, nettop.export, nettop.query"
    assert modules_loaded_by(imports, TEXTUAL_OR_RICH) == "[]"


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2); .ci/run installs it")
def test_one_shot_list_loads_neither_asyncio_nor_other_platforms_formats() -> None:
    """`nettop list` collects without an event loop (asyncio's import alone is a sixth of its time budget),
    and loads the formats of Linux's tools alone (and the registry, which names the others without loading
    them)."""
    code = (
        "import io, sys, nettop.cli; sys.stdout = io.TextIOWrapper(io.BytesIO());"
        "code = nettop.cli.main(['list', '--format', 'json', '--listening']);"
        "formats = sorted(m.rpartition('.')[2] for m in sys.modules if m.startswith('nettop.formats.'));"
        "print(code, 'asyncio' in sys.modules, *formats, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.splitlines()[-1] == "0 False common netstat_linux registry ss"


def test_the_cli_starts_light() -> None:
    """`nettop list` starts ss after importing only the CLI: the parsers, psutil and orjson load while it runs."""
    imports = "import nettop.cli; nettop.cli.build_parser().parse_args(['list', '--state', 'listen'])"
    assert (
        modules_loaded_by(imports, "m in ('psutil', 'orjson', 'nettop.sources.command', 'nettop.formats.ss')") == "[]"
    )
