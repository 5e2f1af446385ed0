"""A socket's cgroup id (sock_diag's ``INET_DIAG_CGROUP_ID``) → its cgroup path, found in the cgroup v2 tree.

The id is the inode of the cgroup's directory in the v2 hierarchy (``/sys/fs/cgroup``, or ``/sys/fs/cgroup/unified``
beside v1 controllers), so it names where the socket's creator ran without a pid and without root: what the Unit
column shows for another user's socket. The tree is walked once and again only on an id it does not hold (a new
cgroup: a service started, a container run), at most every ``RESCAN_AFTER`` seconds: a busy host makes cgroups
faster than it should be walked.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

#: Seconds between walks of the tree when an id is not found.
RESCAN_AFTER = 5.0
#: A tree deeper than this is not walked further (cgroup.max.depth is unlimited by default; a loop is impossible in
#: cgroupfs, but a bind mount given as root could make one).
MAX_DEPTH = 32


def cgroup2_root(mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """Where the cgroup v2 hierarchy is mounted: ``/sys/fs/cgroup`` (v2 alone) or ``.../unified`` (hybrid)."""
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as file:
            for line in file:
                fields = line.split(" - ", 1)
                if len(fields) == 2 and fields[1].split(" ", 1)[0] == "cgroup2":
                    return fields[0].split()[4].replace("\\040", " ")
    except OSError:
        return None
    return None


class CgroupPaths:
    """Cgroup ids → paths (``/system.slice/nginx.service``), by walking the v2 tree; None where there is none."""

    def __init__(self, root: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._root = root if root is not None else cgroup2_root()
        self._clock = clock
        self._paths: dict[int, str] = {}
        self._walked_at: float | None = None

    def path(self, cgroup_id: int) -> str | None:
        found = self._paths.get(cgroup_id)
        if found is None and self._root is not None:
            now = self._clock()
            if self._walked_at is None or now - self._walked_at >= RESCAN_AFTER:
                self._walked_at = now
                self._paths = _walk(self._root)
                found = self._paths.get(cgroup_id)
        return found


def _walk(root: str) -> dict[int, str]:
    """Every cgroup directory's inode → its path from the root. Directories that go while walked are skipped."""
    paths: dict[int, str] = {}
    try:
        paths[os.stat(root).st_ino] = "/"
    except OSError:
        return paths
    pending = [(root, "", 0)]
    while pending:
        directory, relative, depth = pending.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        path = f"{relative}/{entry.name}"
                        paths[entry.inode()] = path
                        if depth < MAX_DEPTH:
                            pending.append((entry.path, path, depth + 1))
        except OSError:  # removed meanwhile, or not readable
            continue
    return paths
