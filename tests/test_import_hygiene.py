"""The pipeline never imports Textual: `nettop list` and the API stay light and start fast."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import TEXTUAL_OR_RICH, modules_loaded_by

#: What happens after a snapshot: keys, diffs and counts, every writer, watch, policies, the text rules.
AFTER_SNAPSHOT = (
    "import nettop.snapshots, nettop.events, nettop.text, nettop.savefile, nettop.writers;"
    "import nettop.policy.rules, nettop.policy.check, nettop.policy.report, nettop.policy.init, nettop.policy.overlay;"
    "[w.load() and w.load(for_file=True) for w in nettop.writers.WRITERS]"
)
#: The modules that collect: running commands, parsing their text, finding and enriching owners (whatever their
#: names after the parsers, sources and owners move), psutil.
SOURCE_MODULE = (
    "m == 'psutil' or m.split('.')[:2] in (['nettop', 'sources'], ['nettop', 'parsers'], ['nettop', 'formats'],"
    " ['nettop', 'owners'], ['nettop', 'procfs'], ['nettop', 'enrich'], ['nettop', 'runner'], ['nettop', 'early'],"
    " ['nettop', 'commands'], ['nettop', 'platforms'])"
)


def test_core_modules_do_not_load_textual() -> None:
    imports = "import nettop, nettop.cli, nettop.sources, nettop.owners.enrich, nettop.writers.json, nettop.query"
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


def test_what_follows_a_snapshot_loads_neither_textual_nor_a_source() -> None:
    """snapshot, writers (every registered one), watch and policy work in a plain script: they are given
    snapshots, they never collect one (watch and check are handed a source; its protocol is typing only)."""
    assert modules_loaded_by(AFTER_SNAPSHOT, TEXTUAL_OR_RICH) == "[]"
    assert modules_loaded_by(AFTER_SNAPSHOT, SOURCE_MODULE) == "[]"


def test_nothing_but_the_cli_imports_the_viewer() -> None:
    assert modules_loaded_by(AFTER_SNAPSHOT + "; import nettop.view, nettop.api", "m == 'nettop.app'") == "[]"


def test_no_module_shadows_a_function_of_the_api() -> None:
    """Importing ``nettop.x`` binds the module to the package's ``x``: a module named ``snapshot`` or ``watch``
    would replace ``nettop.snapshot()`` and ``nettop.watch()`` for whoever imported it first."""
    code = "import nettop, nettop.snapshots, nettop.events, nettop.writers, nettop.policy.check; import nettop.api"
    shadowed = f"m.startswith('nettop.') and m.split('.')[1] in {sorted(set(__import__('nettop').__all__))!r}"
    assert modules_loaded_by(code, shadowed) == "[]"
