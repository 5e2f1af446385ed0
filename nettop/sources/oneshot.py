"""A one-shot listing started before the rest of nettop is imported.

``nettop list`` spends about 100 ms importing the parsers, psutil and orjson. Started first, ``ss`` runs
meanwhile in its own process and the ``/proc`` scan in a child process of its own (see ``ScanInChild``): at
10,000 connections ``ss`` is done about when the imports are, and the scan about when its text is parsed.

It pays on an idle 2-core machine and not on a busy one (the second core is what it uses): re-measured at
10,000 connections while other work kept the load at 1.3-2.8, the start without it was 11 % slower in one
round and 6-10 % faster in three; the forked scan against a thread's was 2-8 % faster in all four. Kept,
unchanged, until an idle machine says otherwise (``benchmarks/bench_list.py``).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import select
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, NamedTuple, NoReturn, TypeVar

from nettop import shutdown
from nettop.runner import CommandRun

if TYPE_CHECKING:
    from nettop.owners.procfs import SocketOwners
    from nettop.sources.sockdiag import Received

T = TypeVar("T")


class InThread(Generic[T]):
    """A call running in a thread of its own (``concurrent.futures`` is another 15 ms of imports)."""

    def __init__(self, call: Callable[..., T], *args: object) -> None:
        self._call, self._args = call, args
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call(*self._args)
        except BaseException as error:  # handed to the caller of result()
            self._error = error

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def cancel(self) -> None:
        """Nothing to stop: the call ends by itself, and its thread does not keep the program alive."""


def scan_owners(proc_root: str, skip: str | None = None) -> SocketOwners:
    from nettop.owners.procfs import scan_socket_owners  # imported where the scan runs, beside the other imports

    return scan_socket_owners(proc_root, skip)


class ScanInChild:
    """The /proc scan in a forked child process, its result sent back through a pipe.

    A scan is mostly ``readlink`` calls. In a thread, each return from one waits for the interpreter lock while
    the main thread works, so the main thread could not parse the listing meanwhile; a child runs on the other
    core. Forked before any thread is started, so that no lock is held by a thread the child lacks.
    """

    def __init__(self, proc_root: str) -> None:
        """Raises OSError when no pipe or process can be made."""
        import nettop.owners.procfs  # noqa: F401  # here, not in the child: it must take no lock another thread may hold

        self._proc_root = proc_root
        read_end, write_end = os.pipe()
        with shutdown.deferred():  # a signal before the child is known here is raised once it is: see ``track``
            try:
                pid = os.fork()
            except OSError:
                os.close(read_end)
                os.close(write_end)
                raise
            if pid == 0:
                _scan_for_parent(proc_root, read_end, write_end)
            os.close(write_end)
            self._pid: int | None = pid
            self._read_end = read_end
            shutdown.track(self)

    def done(self) -> bool:
        """Whether the scan is over (the child writes only then), so that ``result`` will not wait long."""
        return self._pid is None or bool(select.select([self._read_end], [], [], 0)[0])

    def result(self) -> SocketOwners:
        """The scan's result; scanned here instead when the child failed."""
        from nettop.owners.procfs import SocketOwners

        pid = self._pid
        if pid is None:
            raise RuntimeError("the scan's result was already taken")
        try:
            with os.fdopen(self._read_end, "rb", closefd=False) as pipe:
                data = pipe.read()
        except BaseException:  # Ctrl-C or SIGTERM while the child scans: it must not outlive us
            self.cancel()
            raise
        with shutdown.deferred():  # the child has written all: it is exiting, and is reaped before a signal acts
            self._pid = None
            os.close(self._read_end)
            _, status = os.waitpid(pid, 0)
            shutdown.untrack(self)
        if status == 0 and data:
            pids_by_inode, denied, hidden_uids = marshal.loads(data)
            return SocketOwners(pids_by_inode, denied, hidden_uids=hidden_uids)
        return scan_owners(self._proc_root)

    def cancel(self) -> None:
        """Kill and reap the child, unless its result was taken."""
        with shutdown.deferred():  # a signal now would leave the child killed but not reaped, or not killed
            pid, self._pid = self._pid, None
            if pid is None:
                return
            os.close(self._read_end)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            shutdown.untrack(self)


def _scan_for_parent(proc_root: str, read_end: int, write_end: int) -> NoReturn:
    """The child's whole life: scan, send the result (marshal keeps the shared pid lists shared), exit."""
    code = 1
    try:
        shutdown.in_forked_child()
        os.close(read_end)
        owners = scan_owners(proc_root, str(os.getpid()))  # the child's fds are copies of the parent's
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(marshal.dumps((owners.pids_by_inode, owners.denied, owners.hidden_uids)))
        code = 0
    finally:
        os._exit(code)  # not a SystemExit: no atexit handlers, no flush of buffers copied from the parent


class EarlyListing(NamedTuple):
    """The command (or netlink's dump) and the ``/proc`` scan, both under way."""

    run: CommandRun | None
    owners: ScanInChild | InThread[SocketOwners]
    proc_root: str
    #: Netlink's dump, received in a thread: the kernel's work happens in ``recv``, which releases the lock.
    dump: InThread[Received] | None = None

    @classmethod
    def start(cls, argv: tuple[str, ...] | None, proc_root: str = "/proc") -> EarlyListing:
        """Start the command, or with ``argv`` None netlink's dump, and the scan; raises ``CommandNotFound`` when
        the command is missing (nothing is left running)."""
        run = CommandRun(argv) if argv is not None else None
        try:
            scan: ScanInChild | InThread[SocketOwners] = ScanInChild(proc_root)
        except OSError:  # no process to spare (a ulimit): the thread's scan is slower, not wrong
            scan = InThread(scan_owners, proc_root)
        except BaseException:  # Ctrl-C or SIGTERM (see ``shutdown``) before the caller holds anything to cancel
            if run is not None:
                run.cancel()
            raise
        # After the fork: a thread must not be running while the child is made (see ScanInChild).
        dump = InThread(_received) if argv is None else None
        return cls(run, scan, proc_root, dump)

    def cancel(self) -> None:
        """Not needed after all (or something failed before it was read): kill and reap the command and the scan."""
        try:
            if self.run is not None:
                self.run.cancel()
        finally:
            self.owners.cancel()


class Underway:
    """What one blocking collection has begun that the commands it tries may take up: the early start's command
    (for the command with that argv) and a ``/proc`` scan (begun by the first command that needs it, and then
    serving a fallback command too, so that a failed ``ss`` does not cost netstat a second scan)."""

    __slots__ = ("dump", "owners", "run")

    def __init__(
        self,
        run: CommandRun | None = None,
        owners: ScanInChild | InThread[SocketOwners] | None = None,
        dump: InThread[Received] | None = None,
    ):
        self.run = run
        self.owners = owners
        self.dump = dump


def _received() -> Received:
    from nettop.sources import sockdiag  # in the thread: its imports run beside the main thread's

    return sockdiag.receive()
