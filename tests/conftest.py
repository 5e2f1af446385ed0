"""Shared fixtures: where the recorded corpus lives, and helpers to read it."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests press Ctrl-C (SIGINT) on the nettop they start, as a user at a terminal would. A suite started in the
# background (a shell's `&` ignores SIGINT for it) passes that ignoring on to every process it starts, and nettop
# keeps an ignored signal ignored (as after nohup): its watch would never end. A handler of our own is reset to the
# default in each child instead.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
DATA = Path(__file__).resolve().parent / "data"


#: For ``modules_loaded_by``: Textual and Rich, which only the viewer may load.
TEXTUAL_OR_RICH = "m.split('.')[0] in ('textual', 'rich')"


def modules_loaded_by(imports: str, watched: str) -> str:
    """What a fresh interpreter prints of ``sys.modules`` after running ``imports``: the sorted names for which
    the expression ``watched`` (over ``m``, a module name) holds."""
    code = f"import sys; {imports}; print(sorted(m for m in sys.modules if {watched}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of recorded outputs; present in CI, absent in a user's clone."""
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not beside this checkout ({CORPUS}); CI provides it")
    return CORPUS


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[int]:
    """A listener on 127.0.0.1 owned by a child process named ``sockets.PROBE_NAME``: its port."""
    from tests.sockets import start_probe, stop_probe

    child, port = start_probe(tmp_path)
    try:
        yield port
    finally:
        stop_probe(child)
