"""A remote host as a source (``--host``), reached with the system's ``ssh`` (``nettop.remote.ssh``).

Where the host is Linux with Python 3, a session sends it nettop's collector (``nettop.remote.collector``, nothing
installed) and keeps it running: each refresh is a line asked and a line of changes answered, over one connection.
Elsewhere each refresh runs the host's own listing command there and parses its text here: ``ss -tunaep`` on
Linux, and on macOS and FreeBSD that platform's source's commands (``nettop.remote.commands``). A session that
fails (the host went away, an answer cut) is dropped and the next refresh starts a new one, from a full answer.
Each refresh has a deadline: a host that hangs fails its refresh, on its own (``sources.hosts`` keeps the other
hosts going).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
import time
from importlib import resources
from typing import Any, Protocol

from nettop.errors import CommandError, CommandNotFound, NettopError, SourceUnavailable
from nettop.formats import ss
from nettop.model import Snapshot
from nettop.remote.commands import SSH_FAILED, RemoteError, SshRunner, host_platform, said
from nettop.remote.ssh import SshOptions, remote_command
from nettop.remote.state import ProtocolError, RemoteTables
from nettop.sources import platform_source
from nettop.sources.command import CommandSource
from nettop.text import cut, safe, skipped_text

#: What the remote Python runs: read the collector's length, then the collector, and run it (``-u``: unbuffered).
BOOTSTRAP = "import sys;exec(sys.stdin.read(int(sys.stdin.readline())))"
#: The fallback where the host has no Python 3.
SS_ARGV = ("ss", "-tunaep")
#: How a host is read (``--remote-reader``): the collector where it runs (else the host's command), the collector
#: only, the host's command only (``ss`` on Linux: the name it had first).
READERS = ("auto", "python", "command", "ss")
#: An answer is one line; the first of a busy host's is megabytes.
MAX_ANSWER = 256 * 2**20


__all__ = ["READERS", "RemoteError", "RemoteSource", "collect_and_close"]


class NoPython(Exception):
    """The collector could not run on the host: no ``python3`` there, or one that fails (a shim of a version
    manager with no version behind it, a Python older than 3.6), or a host that is not Linux (``platform``)."""

    def __init__(self, reason: str, platform: str | None = None) -> None:
        super().__init__(reason)
        self.platform = platform


def _collector() -> str:
    return resources.files("nettop.remote").joinpath("collector.py").read_text(encoding="utf-8")


class CollectorSession:
    """One running collector on one host: ``ask`` for the next answer."""

    def __init__(self, ssh: SshOptions, host: str) -> None:
        self._ssh, self._host = ssh, host
        self._process: asyncio.subprocess.Process | None = None
        # A file, not a pipe: a master connection that ssh leaves behind (ControlPersist) keeps its stderr open.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - open for the session, closed by close()
        self.received = 0
        self.sent = 0
        #: Whether the collector ever answered: a session that ends before it did had no Python to run it.
        self.answered = False

    async def start(self) -> None:
        argv = self._ssh.argv(self._host, remote_command("exec", "python3", "-u", "-c", BOOTSTRAP))
        self._process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._stderr,
            limit=MAX_ANSWER, start_new_session=True,
        )  # fmt: skip
        code = _collector()
        self._write(f"{len(code)}\n{code}".encode())

    def _write(self, data: bytes) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(data)
        self.sent += len(data)

    async def ask(self) -> Any:
        """The collector's next answer, parsed; RemoteError or NoPython when the session ended instead."""
        process = self._process
        assert process is not None and process.stdout is not None
        self._write(b"tick\n")
        try:
            line = await process.stdout.readline()
        except (ValueError, asyncio.LimitOverrunError):
            raise RemoteError(f"{self._host}: an answer larger than {MAX_ANSWER >> 20} MB") from None
        self.received += len(line)
        if not line.endswith(b"\n"):  # the session ended: say why
            status = await process.wait()
            reason = said(self._stderr)
            # ssh says its own failures with 255; another status is the remote command's: python3 did not run.
            if status != SSH_FAILED and not self.answered:
                raise NoPython(reason or f"python3 ended with status {status}")
            raise RemoteError(f"{self._host}: " + (reason or f"the session ended (status {status})"))
        try:
            answer = json.loads(line)
        except ValueError as error:
            raise RemoteError(f"{self._host}: an answer that is not JSON: {error}") from None
        if not self.answered and isinstance(answer, dict) and "unsupported" in answer:
            system = safe(cut(str(answer["unsupported"]), 40))
            raise NoPython(f"the collector reads Linux's /proc; this host is '{system}'", system)
        self.answered = True
        return answer

    def kill(self) -> None:
        """Kill the session without an event loop (see ``RemoteSource.shutdown``)."""
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process.pid, signal.SIGKILL)
        self._stderr.close()

    async def close(self) -> None:
        process = self._process
        self._process = None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        self._stderr.close()


class RemoteSource:
    """The sockets of one host, refreshed over ssh (see the module's text)."""

    def __init__(self, host: str, ssh: SshOptions, timeout: float = 10.0, reader: str = "auto") -> None:
        self.host = host
        self.name = f"ssh:{host}"
        self._ssh = ssh
        self._timeout = timeout
        self._session: CollectorSession | None = None
        self._tables = RemoteTables()
        #: False once the host is found to have no python3 or not to be Linux (or ``reader`` says so): its own
        #: listing command is run at each refresh.
        self.with_python = reader not in ("command", "ss")
        self._reader = reader
        #: Why the collector does not run there, for the notes.
        self._python_missing: str | None = None
        #: The host's system (a ``sys.platform`` prefix) once known, and its commands' source where not Linux.
        self._platform: str | None = None
        self._commands: CommandSource | None = None
        self._runner = SshRunner(ssh, host)
        #: Bytes sent and received by the last refresh (the benchmark's figure).
        self.last_sent = self.last_received = 0

    async def collect(self) -> Snapshot:
        started, clock = time.time(), time.perf_counter()
        if self.with_python:
            try:
                return await self._from_collector(started, clock)
            except NoPython as error:
                if self._reader == "python":
                    raise RemoteError(f"{self.host}: nettop's collector did not run: {error}") from None
                self.with_python, self._platform = False, error.platform
                if error.platform is None:
                    self._python_missing = f"no python3 to run nettop's collector ({error})"
                else:
                    self._python_missing = f"not Linux ({error.platform}): nettop's collector does not run there"
        if self._platform is None:
            self._platform = await host_platform(self._runner, self.host, self._timeout)
        if self._platform.startswith("linux"):
            return await self._from_ss(started, clock)
        return await self._from_platform(started, clock)

    async def _from_collector(self, started: float, clock: float) -> Snapshot:
        if self._session is None:
            self._session, self._tables = CollectorSession(self._ssh, self.host), RemoteTables()
            await self._session.start()
        session = self._session
        sent, received = session.sent, session.received
        try:
            # The first answer's deadline counts the connection too: a host that hangs fails within the timeout.
            async with asyncio.timeout(self._timeout):  # not wait_for, which can lose a cancellation (3.11)
                answer = await session.ask()
            self._tables.apply(answer)
        except (TimeoutError, RemoteError, ProtocolError, NoPython, OSError) as error:
            self._session = None
            await session.close()
            if isinstance(error, NoPython):
                raise
            if isinstance(error, TimeoutError):
                raise RemoteError(f"{self.host}: no answer in {self._timeout:g} s") from None
            if isinstance(error, ProtocolError):
                raise RemoteError(f"{self.host}: {error}") from None
            raise RemoteError(str(error) if isinstance(error, RemoteError) else f"{self.host}: {error}") from None
        self.last_sent, self.last_received = session.sent - sent, session.received - received
        records, issues = self._tables.records(self.name, self.host)
        notes = []
        if self._tables.hidden:
            notes.append(f"{self.host}: {self._tables.hidden} processes hide their sockets' owners (not root there)")
        return Snapshot(records, self._tables.taken_at or started, time.perf_counter() - clock,
                        f"{self.name} (proc-net)", issues, tuple(notes))  # fmt: skip

    async def _from_ss(self, started: float, clock: float) -> Snapshot:
        before = self._runner.received
        try:
            text = await self._runner(SS_ARGV, self._timeout)
        except CommandNotFound:
            raise RemoteError(f"{self.host}: neither python3 nor ss is there") from None
        except CommandError as error:
            raise RemoteError(f"{self.host}: {error}") from None
        self.last_sent, self.last_received = 0, self._runner.received - before
        result = ss.parse(text, source=self.name)
        records = tuple(record._replace(host=self.host) for record in result.records)
        notes = []
        if self._python_missing is not None:
            notes.append(f"{self.host}: {self._python_missing}: ss is run at each refresh")
        if result.skipped:
            notes.append(skipped_text(result.skipped))
        return Snapshot(records, started, time.perf_counter() - clock, f"{self.name} (ss)", result.issues,
                        tuple(notes))  # fmt: skip

    async def _from_platform(self, started: float, clock: float) -> Snapshot:
        """A macOS or FreeBSD host: that platform's source, its commands run there (``SshRunner``)."""
        assert self._platform is not None
        if self._commands is None:
            try:
                self._commands = platform_source(platform=self._platform, runner=self._runner, timeout=self._timeout)
            except NettopError as error:
                raise RemoteError(f"{self.host}: {error}") from None
        before = self._runner.received
        try:
            snapshot = await self._commands.collect()
        except SourceUnavailable as error:
            raise RemoteError(f"{self.host}: {error}") from None
        self.last_sent, self.last_received = 0, self._runner.received - before
        records = tuple(record._replace(host=self.host, source=self.name) for record in snapshot.records)
        notes = list(snapshot.notes)
        if self._python_missing is not None:
            notes.insert(0, f"{self.host}: {self._python_missing}: {snapshot.source} is run at each refresh")
        return Snapshot(records, started, time.perf_counter() - clock, f"{self.name} ({snapshot.source})",
                        snapshot.issues, tuple(notes))  # fmt: skip

    async def close(self) -> None:
        """End the collector's session and the host's master connection."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        await self._ssh.stop(self.host)

    def shutdown(self) -> None:
        """``close`` for a caller whose event loop is gone (the viewer, once it quit): the session killed, the
        master connection ended, both without a loop."""
        session, self._session = self._session, None
        if session is not None:
            session.kill()
        self._ssh.stop_now(self.host)

    def collect_blocking(self) -> Snapshot:
        """One snapshot, then everything closed: ``nettop list --host``."""
        return collect_and_close(self)


class Closing(Protocol):
    async def collect(self) -> Snapshot: ...

    async def close(self) -> None: ...


def collect_and_close(source: Closing) -> Snapshot:
    """One snapshot of ``source``, then its sessions closed, in an event loop of its own (one-shot commands)."""

    async def once() -> Snapshot:
        try:
            return await source.collect()
        finally:
            await source.close()

    return asyncio.run(once())
