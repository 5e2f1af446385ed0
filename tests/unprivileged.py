"""Running nettop's code as another user (uid 65534, or root without capabilities) in a child process.

The checkout may lie where that user cannot read (a clone under a mode-700 temporary directory, as CI makes),
and the test interpreter under root's home: the package is copied once into a directory anyone may read, and an
interpreter that the user may run is looked for.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def readable_package() -> Path:
    """A copy of ``nettop/`` in a fresh directory that every user may read; removed when the tests end."""
    folder = Path(tempfile.mkdtemp(prefix="nettop-readable-"))
    shutil.copytree(ROOT / "nettop", folder / "nettop", ignore=shutil.ignore_patterns("__pycache__"))
    for directory, _, files in os.walk(folder):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)
    import atexit

    atexit.register(shutil.rmtree, folder, True)
    return folder


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(readable_package()), "PYTHONDONTWRITEBYTECODE": "1"}


def python_for(prefix: list[str], module: str) -> str | None:
    """An interpreter that runs behind ``prefix`` (``setpriv ...``), 3.11 or later, and imports ``module`` from
    the readable copy; None when there is none."""
    for candidate in dict.fromkeys([sys.executable, os.path.realpath(sys.executable), "/usr/bin/python3"]):
        probe = [*prefix, candidate, "-c", f"import sys, {module}; assert sys.version_info >= (3, 11)"]
        if subprocess.run(probe, capture_output=True, env=environment(), cwd="/", timeout=30).returncode == 0:
            return candidate
    return None
