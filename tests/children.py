"""Ending a child process a test started (a server: sshd, Prometheus, nettop's exporter or web server)."""

from __future__ import annotations

import subprocess
from typing import Any


def end(child: subprocess.Popen[Any], grace: float = 20.0) -> None:
    """SIGTERM, and SIGKILL if it has not exited within ``grace`` seconds; reaped either way."""
    child.terminate()
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
