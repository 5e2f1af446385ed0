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
from collections.abc import Callable, Collection
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


def scan_owners(proc_root: str, skip: Collection[str] = (), part: int = 0, parts: int = 1) -> SocketOwners:
    from nettop.owners.procfs import scan_socket_owners  # imported where the scan runs, beside the other imports

    return scan_socket_owners(proc_root, skip, part, parts)


def scan_parts() -> int:
    """How many children share the scan: one a core, up to 4. A scan is ``readlink`` calls, the kernel's work,
    and the main process's own work (the dump, the parse) is over well before it: at 60,000 sockets on 2 cores,
    one child took 300 ms while the main process waited half of that; two take about 170 ms."""
    return max(1, min(os.cpu_count() or 1, 4))


class ScanInChild:
    """The /proc scan in forked child processes, each reading its part of the fds (``scan_socket_owners``'s
    ``part``), their results sent back through pipes and merged.

    A scan is mostly ``readlink`` calls. In a thread, each return from one waits for the interpreter lock while
    the main thread works, so the main thread could not parse the listing meanwhile; children run on the other
    cores. Forked before any thread is started, so that no lock is held by a thread the children lack.
    """

    def __init__(self, proc_root: str, parts: int | None = None) -> None:
        """Raises OSError when no pipe or process can be made (none is left running then)."""
        import nettop.owners.procfs  # noqa: F401  # here, not in the child: it must take no lock another thread may hold

        self._proc_root = proc_root
        self._parts = scan_parts() if parts is None else parts
        #: Each child's pid and the read end of its result's pipe; empty once the result is taken or cancelled.
        self._children: list[tuple[int, int]] = []
        #: The write ends of the children's start pipes, while they are being forked.
        starts: list[int] = []
        try:
            for part in range(self._parts):
                starts.append(self._fork(part, starts))
            # Each child waits for its siblings' pids: they hold copies of this process's sockets too, and a child
            # forked later is not known to the ones before it.
            siblings = ",".join(str(pid) for pid in self.pids).encode()
            for start in starts:
                os.write(start, siblings)  # a few bytes: never more than a pipe holds
        except BaseException:
            self.cancel()
            raise
        finally:
            for start in starts:
                os.close(start)

    def _fork(self, part: int, starts: list[int]) -> int:
        """Fork the child for ``part``; returns the write end of its start pipe."""
        start_read, start_write = os.pipe()
        read_end, write_end = os.pipe()
        with shutdown.deferred():  # a signal before the child is known here is raised once it is: see ``track``
            try:
                pid = os.fork()
            except OSError:
                for end in (start_read, start_write, read_end, write_end):
                    os.close(end)
                raise
            if pid == 0:
                # Not the earlier siblings' pipes: their start pipes would never end while this child held them.
                for end in (start_write, read_end, *starts, *(end for _, end in self._children)):
                    os.close(end)
                _scan_for_parent(self._proc_root, start_read, write_end, part, self._parts)
            os.close(start_read)
            os.close(write_end)
            self._children.append((pid, read_end))
            shutdown.track(self)
        return start_write

    @property
    def pids(self) -> list[int]:
        """The children still to be read or reaped."""
        return [pid for pid, _ in self._children]

    def done(self) -> bool:
        """Whether the scan is over (each child writes only then), so that ``result`` will not wait long."""
        ends = [read_end for _, read_end in self._children]
        return not ends or len(select.select(ends, [], [], 0)[0]) == len(ends)

    def result(self) -> SocketOwners:
        """The scan's result; scanned here instead when a child failed."""
        from nettop.owners.procfs import SocketOwners, merge_owners

        if not self._children:
            raise RuntimeError("the scan's result was already taken")
        sent: list[bytes] = []
        try:
            for _, read_end in self._children:
                with os.fdopen(read_end, "rb", closefd=False) as pipe:
                    sent.append(pipe.read())
        except BaseException:  # Ctrl-C or SIGTERM while the children scan: they must not outlive us
            self.cancel()
            raise
        failed = False
        with shutdown.deferred():  # the children have written all: they are exiting, and are reaped before a signal
            children, self._children = self._children, []
            for pid, read_end in children:
                os.close(read_end)
                _, status = os.waitpid(pid, 0)
                failed = failed or status != 0
            shutdown.untrack(self)
        if failed or not all(sent):
            return scan_owners(self._proc_root)
        scans = []
        for data in sent:
            pids_by_inode, denied, hidden_uids = marshal.loads(data)
            scans.append(SocketOwners(pids_by_inode, denied, hidden_uids=hidden_uids))
        return merge_owners(scans)

    def cancel(self) -> None:
        """Kill and reap the children, unless their result was taken."""
        with shutdown.deferred():  # a signal now would leave a child killed but not reaped, or not killed
            children, self._children = self._children, []
            for pid, read_end in children:
                os.close(read_end)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for pid, _ in children:
                os.waitpid(pid, 0)
            shutdown.untrack(self)


def _scan_for_parent(proc_root: str, start: int, write_end: int, part: int, parts: int) -> NoReturn:
    """A child's whole life: wait for its siblings' pids, scan its part, send the result (marshal keeps the shared
    pid lists shared), exit. It and its siblings are not read: their fds are copies of the parent's."""
    code = 1
    try:
        shutdown.in_forked_child()
        with os.fdopen(start, "rb") as told:
            siblings = told.read().decode().split(",")
        if all(siblings):  # else the parent failed while forking, and reaps this child
            owners = scan_owners(proc_root, {str(os.getpid()), *siblings}, part, parts)
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
