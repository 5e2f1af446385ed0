"""Map socket inodes to the processes holding them, by reading ``/proc/<pid>/fd`` links (Linux).

This replaces ``ss -p`` / ``netstat -p``: both walk a 256-bucket hash chain per socket, which grows
quadratically (``ss -tunap`` 365 ms against ``ss -tunae`` 107 ms at 20,000 sockets on a 2-core VM). One
readlink per open fd is linear, and it runs in a thread while the listing command runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(slots=True)
class SocketOwners:
    """Which pids hold each socket inode, and how many processes' fds could not be read."""

    pids_by_inode: dict[int, list[int]] = field(default_factory=dict)
    #: Processes whose fd table was not readable (another user's, without root).
    denied: int = 0


def scan_socket_owners(proc_root: str = "/proc") -> SocketOwners:
    """Read every process's fd links once; a process that exits mid-scan is simply skipped."""
    owners = SocketOwners()
    by_inode = owners.pids_by_inode
    for entry in os.listdir(proc_root):
        if not entry.isdigit():
            continue
        fd_dir = f"{proc_root}/{entry}/fd/"
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            owners.denied += 1
            continue
        except OSError:
            continue  # exited, or a kernel thread
        pid = int(entry)
        for fd in fds:
            try:
                target = os.readlink(fd_dir + fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = int(target[8:-1])
                pids = by_inode.get(inode)
                if pids is None:
                    by_inode[inode] = [pid]
                elif pids[-1] != pid:
                    pids.append(pid)
    return owners
