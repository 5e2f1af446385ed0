"""Record what nettop's live sources read (`ss -tunae`, `netstat -tunaeW`) with known loopback sockets open.

    python3 tests/data/record.py tests/data/debian12-nettop

Writes each command's output as `<command>.out` and `manifest.json`: every socket opened, with its role,
addresses, inode and expected state, so tests can check the parsers against what the kernel was told.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.sockets import open_loopback_sockets

COMMANDS = {"ss-tunae.out": ["ss", "-tunae"], "netstat-tunaeW.out": ["netstat", "-tunaeW"]}


def main() -> None:
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, open_loopback_sockets(Path(tmp)) as s:
        roles = {
            "tcp4_listener": (s.tcp4_listener, "LISTEN"),
            "tcp6_listener": (s.tcp6_listener, "LISTEN"),
            "client": (s.client, "ESTABLISHED"),
            "accepted": (s.accepted, "ESTABLISHED"),
            "udp_bound": (s.udp_bound, "UNCONNECTED"),
            "udp_connected": (s.udp_connected, "ESTABLISHED"),
        }
        manifest = []
        for role, (sock, state) in roles.items():
            if sock is None:
                continue
            try:
                remote = list(sock.getpeername()[:2])
            except OSError:
                remote = None
            manifest.append(
                {
                    "role": role,
                    "proto": "tcp" if sock.type == 1 else "udp",
                    "local": list(sock.getsockname()[:2]),
                    "remote": remote,
                    "state": state,
                    "inode": os.fstat(sock.fileno()).st_ino,
                }
            )
        env = {**os.environ, "LC_ALL": "C"}
        for name, argv in COMMANDS.items():
            text = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
            (out_dir / name).write_text(text)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
