"""A host's own listing commands, run over ssh: how nettop reads a host where its collector cannot run (no
``python3`` there, or a system without Linux's ``/proc``).

``SshRunner`` is a ``Runner`` (``nettop.runner``) whose commands run on the host, so that macOS's and FreeBSD's
sources (netstat with lsof; sockstat, then netstat) read a remote host with the same steps and parsers as they
read this machine. Their argv are nettop's own, each word quoted; ``LC_ALL=C`` as for local commands.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from typing import IO

from nettop.errors import CommandFailed, CommandNotFound, NettopError
from nettop.remote.ssh import SshOptions, remote_command
from nettop.runner import DEFAULT_TIMEOUT
from nettop.text import cut, safe

#: ``uname -s`` -> the ``sys.platform`` prefix whose commands nettop runs there.
PLATFORMS = {"Linux": "linux", "Darwin": "darwin", "FreeBSD": "freebsd"}
#: The shell's status for a command it did not find, and ssh's for a failure of its own.
NOT_FOUND, SSH_FAILED = 127, 255


class RemoteError(NettopError):
    """A refresh of a remote host that failed: unreachable, refused, timed out, or an answer that made no sense."""


def said(stderr: IO[bytes]) -> str:
    """The last thing ssh (or the remote command) said on its standard error (a file): the reason, as ssh puts
    it."""
    stderr.seek(0)
    lines = [line.strip() for line in stderr.read().decode("utf-8", "replace").splitlines() if line.strip()]
    return cut(lines[-1], 300) if lines else ""


class SshRunner:
    """Runs a listing command on ``host`` and returns its standard output, as ``runner.run_command`` does here.

    A command missing there is ``CommandNotFound`` and one that fails ``CommandFailed`` (the source falls back to
    the next command); ssh's own failure or no answer within the timeout is a ``RemoteError``: the host, not the
    command, failed, and trying its other commands would only wait longer."""

    def __init__(self, ssh: SshOptions, host: str) -> None:
        self._ssh, self._host = ssh, host
        #: Bytes the commands wrote, all told (a benchmark's figure).
        self.received = 0

    async def __call__(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> str:
        command = remote_command("env", "LC_ALL=C", *argv)
        with tempfile.TemporaryFile() as stderr:  # a file, not a pipe: see ``CollectorSession``
            process = await asyncio.create_subprocess_exec(
                *self._ssh.argv(self._host, command), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=stderr, start_new_session=True,
            )  # fmt: skip
            try:
                async with asyncio.timeout(timeout):  # not wait_for, which can lose a cancellation (3.11)
                    out, _ = await process.communicate()
            except TimeoutError:
                process.kill()
                await process.wait()
                raise RemoteError(f"{self._host}: no answer in {timeout:g} s") from None
            status = process.returncode
            if status == SSH_FAILED:
                raise RemoteError(f"{self._host}: {said(stderr) or 'ssh failed (status 255)'}")
            if status == NOT_FOUND:
                raise CommandNotFound(argv, f"not on {safe(self._host)}")
            if status != 0:
                stderr.seek(0)
                raise CommandFailed(argv, status or 0, stderr.read().decode("utf-8", "replace"))
        self.received += len(out)
        return out.decode("utf-8", "replace")


async def host_platform(run: SshRunner, host: str, timeout: float) -> str:
    """The ``sys.platform`` prefix of the host's system, from its ``uname -s``; RemoteError for one nettop cannot
    read."""
    try:
        name = (await run(("uname", "-s"), timeout)).strip()
    except (CommandNotFound, CommandFailed) as error:
        raise RemoteError(f"{host}: no uname there ({error}): nettop reads Linux, macOS and FreeBSD hosts") from None
    if name not in PLATFORMS:
        raise RemoteError(
            f"{host}: a system called '{safe(cut(name, 40))}': nettop reads Linux, macOS and FreeBSD hosts"
        )
    return PLATFORMS[name]
