"""Run a listing command deterministically: an argument list (never a shell), ``LC_ALL=C``, a timeout.

A command runs in a session (process group) of its own, with its standard output and error going to files,
never to pipes. A pipe's reader waits for end-of-file, and that never comes while anything the command
started (a wrapper script's background child) still holds the pipe's other end: a run would hang past its
timeout. Files are read once the command itself has exited, whatever its children do. When it exits, times
out, writes too much or is cancelled, one ``killpg`` stops it and everything it started, and the command is
reaped, so that neither a process nor a zombie is left behind. The output may not grow past ``MAX_OUTPUT``.

Each way a run can fail has its own error type (``CommandNotFound``, ``CommandFailed``, ``CommandTimeout``,
``CommandOutputTooLarge``). The ``Runner`` protocol lets tests and other platforms swap in a scripted runner.

``run_command`` is the asyncio runner of live views; ``run_command_blocking`` does the same for one-shot
commands (``nettop list``), which then never import asyncio: its import alone costs about 60 ms, a sixth of
what ``ss -tunap`` takes at 10,000 connections. Both wait on a pidfd (Linux) for the command's exit, and
otherwise on ``Popen.wait``/``poll``.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import BinaryIO, Protocol

from nettop import shutdown
from nettop.errors import CommandFailed, CommandNotFound, CommandOutputTooLarge, CommandTimeout
from nettop.formats.registry import install_hint

DEFAULT_TIMEOUT = 10.0
#: The most a command may write (standard output and error together). ``ss -tunae`` writes about 150 bytes a
#: socket: this is some 1.7 million sockets. Beyond it the command is killed rather than fill memory.
MAX_OUTPUT = 256 * 2**20
#: How often the size of a running command's output is checked. A writer fills a file in memory at about 400
#: MB/s, so it overshoots the limit by some 20 MB a writer at most; ``ss`` is done before the first check below about
#: 10,000 connections.
CHECK_EVERY = 0.05
#: How long to wait for a killed command to be reaped: SIGKILL takes effect at once, unless the process is
#: stuck in the kernel (then ``subprocess`` reaps it later).
KILL_GRACE = 1.0
#: How much of a failed command's standard error is read (its last line is quoted).
STDERR_TAIL = 64 * 1024
_POSIX = os.name == "posix"


class Runner(Protocol):
    """Runs ``argv`` and returns its standard output as text, or raises a ``CommandError``."""

    async def __call__(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> str: ...


class BlockingRunner(Protocol):
    """``Runner`` without an event loop."""

    def __call__(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> str: ...


def command_env() -> dict[str, str]:
    """The environment for listing commands: untranslated states and headers, whatever the user's locale."""
    env = dict(os.environ)
    for name in ("LANG", "LANGUAGE", "LC_MESSAGES", "LC_CTYPE", "LC_NUMERIC"):
        env.pop(name, None)
    env["LC_ALL"] = "C"
    return env


def _executable(argv: Sequence[str]) -> str:
    executable = shutil.which(argv[0])
    if executable is None:
        raise CommandNotFound(argv, install_hint(os.path.basename(argv[0])))
    return executable


def _output_file(name: str) -> BinaryIO:
    """Where a child writes its standard output or error. Read once at the end, a file costs a fifth of the CPU
    of a pipe read piece by piece (ss writes 3 MB at 10,000 connections, every tick of a live view)."""
    if hasattr(os, "memfd_create"):  # Linux: in memory, with no name anywhere
        return os.fdopen(os.memfd_create(name, os.MFD_CLOEXEC), "w+b")
    import tempfile

    return tempfile.TemporaryFile()


def _size(file: BinaryIO) -> int:
    return os.fstat(file.fileno()).st_size


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits, without reaping it (Linux 5.3); None: none here."""
    if not hasattr(os, "pidfd_open"):
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:  # an older kernel, or a sandbox that forbids it
        return None


def _output(argv: Sequence[str], returncode: int | None, stdout: bytes, stderr: bytes) -> str:
    """The text of a finished run, or its failure."""
    if returncode != 0:
        raise CommandFailed(argv, returncode or 0, stderr.decode("utf-8", "replace"))
    if sys.platform == "win32":
        # Windows tools write in the console's code page and its display language (LC_ALL means nothing there).
        from nettop.formats.windows import decode

        return decode(stdout, encoding="oem")
    return stdout.decode("utf-8", "replace")


class CommandRun:
    """A command under way: ``output`` waits for it without an event loop, ``output_async`` within one.

    Started early, it runs while the caller does other work (``nettop list`` imports the rest of nettop
    meanwhile). Whatever happens, ``output``/``output_async`` or else ``cancel`` leave nothing running.
    """

    def __init__(self, argv: Sequence[str]) -> None:
        """Starts it; raises ``CommandNotFound`` when it cannot be run."""
        self.argv = tuple(argv)
        self._done = False
        self._pidfd: int | None = None
        executable = _executable(argv)
        self._out = _output_file("nettop-stdout")
        self._err = _output_file("nettop-stderr")
        try:
            with shutdown.deferred():  # a signal while it starts is raised once it can be stopped: below
                self._process = subprocess.Popen(
                    [executable, *argv[1:]],
                    stdin=subprocess.DEVNULL,
                    stdout=self._out,
                    stderr=self._err,
                    env=command_env(),
                    start_new_session=_POSIX,  # its own process group, and no terminal to get signals from
                )
                shutdown.track(self)
                self._pidfd = _pidfd(self._process.pid)
        except BaseException as error:
            if hasattr(self, "_process"):
                self.cancel()  # started, and then a signal came
            else:
                self._out.close()
                self._err.close()
            if isinstance(error, FileNotFoundError | PermissionError):
                raise CommandNotFound(argv, str(error)) from None
            raise

    def output(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Its standard output, once it has exited; ``timeout`` counts from now."""
        try:
            deadline = time.monotonic() + timeout
            while not self._exited(min(deadline - time.monotonic(), CHECK_EVERY)):
                self._check(deadline, timeout)
        except BaseException:  # the timeout, too much output, Ctrl-C, SIGTERM: the command must not outlive us
            self.cancel()
            raise
        return self._result()

    async def output_async(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """``output`` in an event loop, which goes on meanwhile."""
        try:
            deadline = time.monotonic() + timeout
            if self._pidfd is not None:
                await self._exit_of_pidfd(deadline, timeout)
            else:
                await self._exit_of_poll(deadline, timeout)
        except BaseException:  # the timeout, too much output, a cancelled task, SIGTERM: as in ``output``
            self.cancel()
            raise
        return self._result()

    async def _exit_of_pidfd(self, deadline: float, timeout: float) -> None:
        import asyncio  # here, not at the top: see the module's docstring

        assert self._pidfd is not None
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()
        try:
            loop.add_reader(self._pidfd, lambda: exited.done() or exited.set_result(None))
        except NotImplementedError:  # a loop that watches no descriptors
            return await self._exit_of_poll(deadline, timeout)
        try:
            while not exited.done():
                self._check(deadline, timeout)
                await asyncio.wait((exited,), timeout=max(min(deadline - time.monotonic(), CHECK_EVERY), 0))
        finally:
            loop.remove_reader(self._pidfd)

    async def _exit_of_poll(self, deadline: float, timeout: float) -> None:
        """Without a pidfd (or where the loop cannot watch one): ask now and then, more rarely as time goes on."""
        import asyncio

        delay = 0.001
        while self._process.poll() is None:
            self._check(deadline, timeout)
            await asyncio.sleep(max(min(deadline - time.monotonic(), delay), 0))
            delay = min(delay * 2, CHECK_EVERY)

    def cancel(self) -> None:
        """Kill it and everything it started, and reap it: not needed after all, or out of time. Harmless when
        its output was taken, and when called again."""
        if not self._done:
            try:
                self._stop()
            finally:
                self._out.close()
                self._err.close()

    def _exited(self, wait: float) -> bool:
        """Whether the command has exited, waiting up to ``wait`` seconds for it. With a pidfd it stays a zombie,
        so that its process group cannot be another's by the time it is killed."""
        if self._pidfd is not None:
            poller = select.poll()
            poller.register(self._pidfd, select.POLLIN)
            return bool(poller.poll(max(wait, 0) * 1000))
        try:
            self._process.wait(max(wait, 0))
        except subprocess.TimeoutExpired:
            return False
        return True

    def _check(self, deadline: float, timeout: float) -> None:
        """While it runs: its output within bounds, and the deadline not passed."""
        if _size(self._out) + _size(self._err) > MAX_OUTPUT:
            raise CommandOutputTooLarge(self.argv, MAX_OUTPUT)
        if time.monotonic() >= deadline:
            raise CommandTimeout(self.argv, timeout)

    def _stop(self) -> None:
        """Kill the command's process group, whatever is left of it, and reap the command."""
        with shutdown.deferred():  # a signal now would leave a process killed but not reaped, or not killed
            self._done = True
            process = self._process
            if _POSIX:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            elif process.returncode is None:
                with contextlib.suppress(OSError):
                    process.kill()  # Windows has no process groups: the command alone
            if process.returncode is None and self._exited(KILL_GRACE):
                process.wait()
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
            shutdown.untrack(self)

    def _result(self) -> str:
        """The output or failure of a command that has exited; anything it left running is killed first."""
        with self._out as out, self._err as err:
            self._stop()
            if _size(out) + _size(err) > MAX_OUTPUT:
                raise CommandOutputTooLarge(self.argv, MAX_OUTPUT)
            returncode = self._process.returncode
            out.seek(0)
            stdout = out.read()
            stderr = b""
            if returncode != 0:
                err.seek(max(_size(err) - STDERR_TAIL, 0))
                stderr = err.read()
        return _output(self.argv, returncode, stdout, stderr)


async def run_command(argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> str:
    """Run ``argv`` and return its stdout, decoded as UTF-8 with bad bytes replaced."""
    return await CommandRun(argv).output_async(timeout)


def run_command_blocking(argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> str:
    """``run_command`` for a caller without an event loop."""
    return CommandRun(argv).output(timeout)
