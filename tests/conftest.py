"""Shared fixtures: where the recorded corpus lives, and helpers to read it."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
DATA = Path(__file__).resolve().parent / "data"


def read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of recorded outputs; present in CI, absent in a user's clone."""
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not beside this checkout ({CORPUS}); CI provides it")
    return CORPUS
