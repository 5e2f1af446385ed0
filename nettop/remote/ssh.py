"""Reaching a host with the system's ``ssh``: its config, agent, jump hosts and known_hosts all apply, and nettop
only adds what a refreshing tool needs (``ssh_argv``):

- one persistent connection per host (ControlMaster, in a directory of this run's own), so that a command run
  after the collector's session, such as the ``ss`` fallback at each refresh, pays no handshake;
- BatchMode: a refresh never stops at a password or host-key prompt (the user's own ``ssh HOST`` first, once);
- keep-alives, so that a host that stops answering is noticed in seconds, not at TCP's pace.

What the user typed is the destination, checked (``checked_host``) and given after ``--``: it can never be read
as an option (``-oProxyCommand=…``). The remote commands are nettop's own, fixed, quoted with ``shlex``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import shutil
import subprocess
import tempfile

from nettop.errors import NettopError

#: Seconds to connect and to agree keys; then a silent connection is given up after 3 keep-alives 5 s apart.
CONNECT_TIMEOUT, ALIVE_INTERVAL, ALIVE_COUNT = 10, 5, 3
#: How long an idle master connection outlives its last use (nettop also stops it when it ends).
PERSIST_SECONDS = 60


class HostError(NettopError):
    """A host name nettop will not give to ssh, or a host ssh could not reach (the message says which)."""


def checked_host(text: str) -> str:
    """``[user@]host`` (or an ssh_config alias) as typed, once it cannot be mistaken for anything else."""
    host = text.strip()
    if not host:
        raise HostError("an empty host name")
    if host.startswith("-"):
        raise HostError(f"{host!r} starts with '-': a host, not an option, is expected")
    if any(not character.isprintable() or character.isspace() for character in host):
        raise HostError(f"{host!r} holds a space or a control character")
    return host


def hosts_from(values: list[str]) -> list[str]:
    """``--host a --host b,c`` as ``[a, b, c]``, each checked, duplicates dropped (first kept)."""
    hosts: list[str] = []
    for value in values:
        for part in value.split(","):
            host = checked_host(part)
            if host not in hosts:
                hosts.append(host)
    return hosts


class SshOptions:
    """What every ssh command of one nettop run shares: the ssh program, an optional ``-F`` config, and the
    private directory of the master connections' sockets."""

    def __init__(self, config: str | None = None, program: str = "ssh") -> None:
        found = shutil.which(program)
        if found is None:
            raise HostError(f"{program} is not installed (Debian/Ubuntu: apt install openssh-client)")
        self.program = found
        self.config = config
        self._control = tempfile.TemporaryDirectory(prefix="nettop-ssh-")

    def argv(self, host: str, command: str) -> list[str]:
        """The ssh command line that runs ``command`` (nettop's own, already quoted) on ``host``."""
        options = [
            "-T",
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
            "-o", f"ServerAliveInterval={ALIVE_INTERVAL}",
            "-o", f"ServerAliveCountMax={ALIVE_COUNT}",
            "-o", "ControlMaster=auto",
            "-o", f"ControlPath={self._control.name}/%C",
            "-o", f"ControlPersist={PERSIST_SECONDS}",
        ]  # fmt: skip
        if self.config is not None:
            options[:0] = ["-F", self.config]
        return [self.program, *options, "--", checked_host(host), command]

    def stop_argv(self, host: str) -> list[str]:
        """The command that ends ``host``'s master connection (``ssh -O exit``)."""
        config = ["-F", self.config] if self.config is not None else []
        return [self.program, *config, "-o", f"ControlPath={self._control.name}/%C", "-O", "exit", "--",
                checked_host(host)]  # fmt: skip

    def stop_now(self, host: str) -> None:
        """``stop`` without an event loop."""
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(self.stop_argv(host), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=5, start_new_session=True)  # fmt: skip

    async def stop(self, host: str) -> None:
        """End ``host``'s master connection, if one runs (ControlPersist would keep it a minute more)."""
        stopping = await asyncio.create_subprocess_exec(
            *self.stop_argv(host), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            async with asyncio.timeout(5):
                await stopping.wait()
        except TimeoutError:
            stopping.kill()
            await stopping.wait()


def remote_command(*words: str) -> str:
    """A remote command line from fixed words, each quoted for the remote shell."""
    return " ".join(shlex.quote(word) for word in words)
