"""Every network namespace on the machine, and the kernel's socket table of each (``--all-netns``).

A sock_diag dump lists the sockets of the network namespace its netlink socket was created in, so reading
another namespace takes entering it first: ``setns(fd, CLONE_NEWNET)`` on an open ``/proc/PID/ns/net`` or an
``ip netns`` bind mount (``/run/netns/NAME``). That needs ``CAP_SYS_ADMIN`` (in practice root), and it moves only
the calling thread: each foreign dump therefore runs in a thread of its own, started for it and left to end, so
that no thread in another namespace ever serves anything else.

Namespaces are found by their inode (the number in ``net:[4026531840]``): from every ``/proc/PID/ns/net``
(containers' and ``unshare -n``'s, which have no name) and every ``/run/netns/NAME``. A pid that exits mid-scan or
that this process may not inspect is skipped, and a namespace that is gone by the time it is entered is a note
of ``receive_all``'s, not a failure of the listing.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from nettop.errors import NettopError
from nettop.sources import sockdiag

#: ``<linux/sched.h>``; ``os.CLONE_NEWNET`` exists only from Python 3.12.
CLONE_NEWNET = 0x40000000
#: ``<linux/capability.h>``: what setns asks of the caller.
CAP_SYS_ADMIN = 21
#: How many pids a namespace keeps: enough for a caller to name it after a container, few enough for a big host.
MAX_PIDS = 8
#: Foreign namespaces dumped at once: the dumps' time is the kernel's (``recv`` releases the interpreter lock),
#: but a host with hundreds of containers should not start hundreds of threads.
MAX_THREADS = 8


@dataclass(frozen=True)
class Namespace:
    """One network namespace, as found on this machine."""

    #: The namespace's inode: ``os.stat(path).st_ino``, the number ``readlink /proc/PID/ns/net`` shows.
    inode: int
    #: Its ``ip netns`` name, when a ``/run/netns`` bind mount gives it one.
    name: str | None
    #: What to open to enter it: the bind mount of a named one, else the ``ns/net`` of its lowest pid.
    path: str
    #: A few pids living in it, lowest first (``MAX_PIDS`` at most): a named namespace may have none.
    pids: tuple[int, ...]
    #: This process's own namespace: read without entering anything.
    own: bool = False


class AllNetnsNeedsRoot(NettopError):
    """Entering another network namespace was refused because this process lacks ``CAP_SYS_ADMIN``."""

    def __init__(self) -> None:
        super().__init__("--all-netns needs root: entering another network namespace takes CAP_SYS_ADMIN")


class NamespaceUnavailable(NettopError):
    """One namespace could not be read (it vanished, changed, or was refused): a note, not a failed listing."""

    def __init__(self, namespace: Namespace, reason: str) -> None:
        self.namespace = namespace
        self.reason = reason
        super().__init__(f"network namespace {label(namespace)} was skipped: {reason}")


def label(namespace: Namespace, container: Callable[[int], str | None] | None = None) -> str:
    """A short name for a namespace: its ``ip netns`` name, else what ``container`` says of its pids (a
    container's name, say, from ``nettop.owners``; the first pid it names wins), else ``net:[INODE]`` as
    ``readlink`` writes it. ``container`` is a hook so that this module need not read the runtimes' files."""
    if namespace.name is not None:
        return namespace.name
    if container is not None:
        for pid in namespace.pids:
            found = container(pid)
            if found:
                return found
    return f"net:[{namespace.inode}]"


def namespaces(proc_root: str = "/proc", named_root: str = "/run/netns") -> list[Namespace]:
    """Every distinct network namespace: this process's first, then the named ones by name, then the rest by
    their lowest pid. Pids that vanish mid-scan or deny access are skipped."""
    own_path = f"{proc_root}/self/ns/net"
    own = os.stat(own_path)
    nsfs = own.st_dev  # every namespace lives on the one nsfs; anything else in /run/netns is a leftover file
    names: dict[int, tuple[str, str]] = {}
    for name, path in _named(named_root):
        info = _stat(path)
        if info is not None and info.st_dev == nsfs:
            names.setdefault(info.st_ino, (name, path))
    pids: dict[int, list[int]] = {}
    for pid in _pids(proc_root):
        info = _stat(f"{proc_root}/{pid}/ns/net")
        if info is None or info.st_dev != nsfs:
            continue
        kept = pids.setdefault(info.st_ino, [])
        if len(kept) < MAX_PIDS:
            kept.append(pid)

    def found(inode: int) -> Namespace:
        name, path = names.get(inode, (None, None))
        kept = tuple(pids.get(inode, ()))
        if inode == own.st_ino:
            path = own_path
        elif path is None:
            path = f"{proc_root}/{kept[0]}/ns/net"
        return Namespace(inode, name, path, kept, inode == own.st_ino)

    named = sorted((name, inode) for inode, (name, _) in names.items() if inode != own.st_ino)
    unnamed = sorted((kept[0], inode) for inode, kept in pids.items() if inode not in names and inode != own.st_ino)
    return [found(own.st_ino)] + [found(inode) for _, inode in named] + [found(inode) for _, inode in unnamed]


def _named(named_root: str) -> list[tuple[str, str]]:
    try:
        with os.scandir(named_root) as entries:
            return sorted((entry.name, entry.path) for entry in entries)
    except OSError:  # no /run/netns: nobody ran ``ip netns add``
        return []


def _pids(proc_root: str) -> list[int]:
    with os.scandir(proc_root) as entries:
        return sorted(int(entry.name) for entry in entries if entry.name.isdigit())


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:  # the process exited (ENOENT, ESRCH), or it is not ours to inspect (EACCES)
        return None


class Dumped(NamedTuple):
    """One namespace's dump, and the names of its interfaces by index (None for the own namespace): a socket bound
    to a device names it by an index that only its own namespace can read (``sockdiag.records(interfaces=)``)."""

    received: sockdiag.Received
    interfaces: dict[int, str] | None


def receive_in(namespace: Namespace, with_info: bool = False) -> Dumped:
    """The sock_diag dump of one namespace (``sockdiag.receive``'s datagrams), taken in a thread started for it.

    Raises ``AllNetnsNeedsRoot`` without ``CAP_SYS_ADMIN``, ``NamespaceUnavailable`` for a namespace that vanished,
    changed or was refused, and ``sockdiag.SockDiagUnavailable``.
    """
    if namespace.own:
        return Dumped(sockdiag.receive(with_info), None)
    results: list[Dumped | Exception | None] = [None]
    for thread in _start_dumps([namespace], with_info, results):
        thread.join()
    (result,) = results
    if isinstance(result, Exception):
        raise result
    if result is None:  # the thread died of a BaseException, which threading printed
        raise NamespaceUnavailable(namespace, "its dump was interrupted")
    return result


class AllReceived(NamedTuple):
    """``receive_all``'s dumps, one per namespace read, and a note per namespace skipped."""

    dumps: list[tuple[Namespace, Dumped]]
    notes: tuple[str, ...]


def receive_all(with_info: bool = False, among: Sequence[Namespace] | None = None) -> AllReceived:
    """The dump of every namespace (``among``, else all ``namespaces()``), own first, in that order.

    A foreign namespace that vanished, changed or refused, or whose sock_diag failed, becomes a note. Raises
    ``AllNetnsNeedsRoot`` before entering anything when this process lacks ``CAP_SYS_ADMIN``, and what the own
    namespace's dump raises (``SockDiagUnavailable``: the caller falls back to ``ss`` as for one namespace).
    """
    listed = list(namespaces() if among is None else among)
    if not has_sys_admin():
        raise AllNetnsNeedsRoot()
    results: list[Dumped | Exception | None] = [None] * len(listed)
    threads = _start_dumps(listed, with_info, results)
    try:  # the own namespace's dump meanwhile, in this thread
        for index, namespace in enumerate(listed):
            if namespace.own:
                results[index] = Dumped(sockdiag.receive(with_info), None)
    finally:
        for thread in threads:
            thread.join()
    dumps: list[tuple[Namespace, Dumped]] = []
    notes: list[str] = []
    for namespace, result in zip(listed, results, strict=True):
        if isinstance(result, AllNetnsNeedsRoot) or (
            isinstance(result, Exception) and not isinstance(result, NettopError)
        ):
            raise result
        if isinstance(result, NettopError):
            notes.append(str(result) if isinstance(result, NamespaceUnavailable) else _skipped(namespace, result))
        elif result is not None:
            dumps.append((namespace, result))
    return AllReceived(dumps, tuple(notes))


def _skipped(namespace: Namespace, error: NettopError) -> str:
    return str(NamespaceUnavailable(namespace, str(error)))


def _start_dumps(listed: Sequence[Namespace], with_info: bool, results: list[Any]) -> list[threading.Thread]:
    """Start dumping each foreign namespace of ``listed`` into ``results`` at its index (its datagrams, or the
    error), in at most ``MAX_THREADS`` threads started for this and ending when nothing is left; the caller joins
    them. A thread may enter several namespaces in turn (setns works from any namespace); none returns to a pool.
    """
    pending = iter([index for index, namespace in enumerate(listed) if not namespace.own])
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                index = next(pending, None)
            if index is None:
                return
            try:
                results[index] = _receive_entered(listed[index], with_info)
            except Exception as error:  # raised by receive_all in the caller's thread, not lost in this one
                results[index] = error

    count = min(MAX_THREADS, sum(not namespace.own for namespace in listed))
    threads = [threading.Thread(target=work, name="nettop-netns", daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def _receive_entered(namespace: Namespace, with_info: bool) -> Dumped:
    """Enter ``namespace`` (this thread only: called in a thread of its own) and dump it there."""
    try:
        fd = os.open(namespace.path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NamespaceUnavailable(namespace, "it no longer exists") from None
    except ProcessLookupError:
        raise NamespaceUnavailable(namespace, "its process exited") from None
    except PermissionError as error:
        raise _refused(namespace, error) from None
    except OSError as error:
        raise NamespaceUnavailable(namespace, _reason(error)) from None
    try:
        # A pid's path may now be another process's, in another namespace: the inode says which one is open.
        if os.fstat(fd).st_ino != namespace.inode:
            raise NamespaceUnavailable(namespace, "its process exited (the pid now runs elsewhere)")
        try:
            _setns(fd)
        except PermissionError as error:
            raise _refused(namespace, error) from None
        except OSError as error:  # EINVAL: not a network namespace after all
            raise NamespaceUnavailable(namespace, _reason(error)) from None
    finally:
        os.close(fd)
    # Created after setns, the netlink socket belongs to the namespace entered; so do the interfaces listed.
    received = sockdiag.receive(with_info)
    try:
        interfaces = dict(socket.if_nameindex())
    except OSError:
        interfaces = {}
    return Dumped(received, interfaces)


def _refused(namespace: Namespace, error: OSError) -> NettopError:
    """EPERM from setns, or EACCES opening another user's ``ns/net``: for want of root, or a refusal of this one
    namespace (a security module, a user namespace out of reach) that the others may not share."""
    if not has_sys_admin():
        return AllNetnsNeedsRoot()
    return NamespaceUnavailable(namespace, f"entering it was refused: {_reason(error)}")


def _reason(error: OSError) -> str:
    code = error.errno
    return f"{os.strerror(code)} ({errno.errorcode.get(code, code)})" if code else str(error)


def _setns(fd: int) -> None:
    """``setns(fd, CLONE_NEWNET)`` for the calling thread; raises OSError with the errno."""
    native = getattr(os, "setns", None)  # Python 3.12+
    if native is not None:
        native(fd, CLONE_NEWNET)
        return
    import ctypes

    if _libc().setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


@cache
def _libc() -> Any:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.setns.restype = ctypes.c_int
    return libc


def has_sys_admin(status_path: str = "/proc/self/status") -> bool:
    """Whether this process holds ``CAP_SYS_ADMIN`` (its effective set): what setns asks to enter a network
    namespace. True when the status cannot be read, so that setns itself decides."""
    try:
        with open(status_path) as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_SYS_ADMIN & 1)
    except (OSError, ValueError, IndexError):
        pass
    return True
