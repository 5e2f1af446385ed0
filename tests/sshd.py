"""A real OpenSSH server on 127.0.0.1 for the remote-host tests: its own host key, a throwaway client key, and an
ssh config naming it, all in a temporary directory. Debian's openssh-server (``.ci/run`` installs it)."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.children import end

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class SshServer:
    #: The ``Host`` alias in ``config`` that reaches it.
    alias: str
    config: Path
    port: int


def available() -> str | None:
    """Why the tests cannot start an sshd here, or None when they can."""
    if not os.path.exists(SSHD):
        return "openssh-server is not installed (.ci/run installs it)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "openssh-client is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return (path.with_suffix(".pub")).read_text().strip()


@contextlib.contextmanager
def ssh_server(tmp: Path, alias: str = "nettop-test", environment: dict[str, str] | None = None) -> Iterator[SshServer]:
    """Start sshd on a free loopback port for this user, and yield how to reach it. ``environment`` is set in its
    sessions (``SetEnv``: a PATH without python3 stands for a host that has none)."""
    tmp.mkdir(parents=True, exist_ok=True)
    host_public = _keygen(tmp / "host_key")
    (tmp / "authorized_keys").write_text(_keygen(tmp / "client_key") + "\n")
    port = _free_port()
    settings = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {tmp / 'host_key'}",
        f"PidFile {tmp / 'sshd.pid'}",
        f"AuthorizedKeysFile {tmp / 'authorized_keys'}",
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "LogLevel ERROR",
    ]
    if environment:
        settings.append("SetEnv " + " ".join(f"{name}={value}" for name, value in environment.items()))
    (tmp / "sshd_config").write_text("\n".join(settings) + "\n")
    (tmp / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_public}\n")
    config = tmp / "ssh_config"
    config.write_text(
        f"Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User {getpass.getuser()}\n"
        f"  IdentityFile {tmp / 'client_key'}\n  IdentitiesOnly yes\n  UserKnownHostsFile {tmp / 'known_hosts'}\n"
        "  StrictHostKeyChecking yes\n  LogLevel ERROR\n"
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # its privilege separation directory
    server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(tmp / "sshd_config")], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:  # up when it accepts connections
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start: {server.stderr.read().decode() if server.stderr else ''}")
            time.sleep(0.05)
        yield SshServer(alias, config, port)
    finally:
        end(server, grace=10)
