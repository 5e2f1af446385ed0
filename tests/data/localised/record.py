"""Record Linux net-tools ``netstat`` in every language it is translated into, with known loopback sockets open.

    LOCPATH=/tmp/nt-locales python3 tests/data/localised/record.py tests/data/localised

Needs net-tools and the compiled locales (``localedef -i fr_FR -f UTF-8 $LOCPATH/fr_FR.UTF-8``, likewise for
each of ``LOCALES``; or Debian's ``locales-all``). Opens sockets on fixed loopback ports (47101-47107) in
known states, runs each of ``FLAGS`` under each locale (``LANG`` and ``LC_ALL``) and writes
``<locale>_netstat<flags>.out``, the rows of ``GREP_FLAGS`` alone as ``C_netstat<flags>-grep.out`` (what
``netstat -tlnp | grep 4710`` leaves), and ``manifest.json``: the sockets, their roles, pids and inodes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

LOCALES = ["C", "fr_FR.UTF-8", "de_DE.UTF-8", "ja_JP.UTF-8", "pt_BR.UTF-8", "cs_CZ.UTF-8", "et_EE.UTF-8"]
FLAGS = ["-tunaepW", "-tunaW", "-tuna", "-tuaep", "-tunaeoW"]
GREP_FLAGS = ["-tlnp", "-tunaeW", "-tunaepW"]


def pair(listener: socket.socket) -> tuple[socket.socket, socket.socket]:
    client = socket.create_connection(listener.getsockname()[:2])
    accepted, _ = listener.accept()
    return client, accepted


def listen(family: int, host: str, port: int) -> socket.socket:
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(8)
    return s


def main() -> None:
    out = Path(sys.argv[1])
    roles: dict[str, socket.socket] = {}
    roles["tcp4_listener"] = listen(socket.AF_INET, "127.0.0.1", 47101)
    roles["tcp6_listener"] = listen(socket.AF_INET6, "::1", 47102)
    roles["client"], roles["accepted"] = pair(roles["tcp4_listener"])
    # TIME_WAIT: the client closes first, then the server; the client's side lingers with no process.
    gone_client, gone_server = pair(roles["tcp4_listener"])
    time_wait_port = gone_client.getsockname()[1]
    gone_client.close()
    gone_server.close()
    # FIN_WAIT2 / CLOSE_WAIT: the server half-closes; the client has not closed yet.
    roles["closer_listener"] = listen(socket.AF_INET, "127.0.0.1", 47104)
    roles["close_wait_client"], roles["fin_wait2_server"] = pair(roles["closer_listener"])
    roles["fin_wait2_server"].shutdown(socket.SHUT_WR)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 47105))
    roles["udp_bound"] = udp
    connected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    connected.bind(("127.0.0.1", 47106))
    connected.connect(("127.0.0.1", 47105))
    roles["udp_connected"] = connected
    udp6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    udp6.bind(("::1", 47107))
    roles["udp6_bound"] = udp6

    manifest = {"pid": os.getpid(), "time_wait_client_port": time_wait_port, "sockets": {}}
    for role, sock in roles.items():
        try:
            peer = list(sock.getpeername()[:2])
        except OSError:
            peer = None
        manifest["sockets"][role] = {
            "local": list(sock.getsockname()[:2]),
            "peer": peer,
            "inode": os.fstat(sock.fileno()).st_ino,
        }
    for name in LOCALES:
        env = {**os.environ, "LANG": name, "LC_ALL": name}
        for flags in FLAGS:
            text = subprocess.run(["netstat", flags], capture_output=True, env=env, check=True).stdout
            (out / f"{name.split('.')[0]}_netstat{flags}.out").write_bytes(text)
    env = {**os.environ, "LC_ALL": "C"}
    for flags in GREP_FLAGS:
        text = subprocess.run(["netstat", flags], capture_output=True, env=env, check=True).stdout
        rows = [line for line in text.splitlines(keepends=True) if b":4710" in line]
        (out / f"C_netstat{flags}-grep.out").write_bytes(b"".join(rows))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
