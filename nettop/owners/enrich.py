"""Fill in what a listing lacks about each owner, from psutil: name, user, command line, start time; and on
Linux its cgroup, from ``/proc/PID/cgroup`` (readable by anyone, so known for other users' processes too).

One lookup per distinct pid, cached by (pid, create_time): a pid the kernel has reused belongs to a new
process with another start time, so it never inherits a dead process's name. ``NoSuchProcess`` and
``AccessDenied`` are states, not errors: the owner keeps what it has and the record says why.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TypeVar

import psutil

from nettop.cgroups import Placement, classify, read_proc_cgroup
from nettop.model import Connection, Owner, OwnerResolver, OwnerStatus, State
from nettop.owners.runtimes import ContainerNames

T = TypeVar("T")


class Enricher:
    """Enrich records from the live system; keep one across snapshots so its cache pays off."""

    def __init__(self, max_cache: int = 4096, proc_root: str = "/proc", names: ContainerNames | None = None) -> None:
        self._cache: dict[tuple[int, float], Owner] = {}
        self._max_cache = max_cache
        self._proc_root = proc_root
        #: Container and pod names from the runtimes' state files (read once a container, cached).
        self._names = names if names is not None else ContainerNames()

    def lookup(self, pid: int, known_name: str | None = None) -> Owner | None:
        """The process ``pid`` as it is now, or None when it has exited."""
        try:
            process = psutil.Process(pid)
            started = process.create_time()
        except psutil.NoSuchProcess:
            return None
        except psutil.AccessDenied:
            return Owner(pid, known_name, placement=self._placement(pid))
        key = (pid, started)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        with process.oneshot():
            name = _ask(process.name) or known_name
            user = _ask(process.username)
            cmdline = _ask(process.cmdline)
        if not process.is_running():
            return None  # exited (or its pid was reused) while we read it
        owner = Owner(pid, name, user, tuple(cmdline) if cmdline is not None else None, started, self._placement(pid))
        if len(self._cache) >= self._max_cache:
            self._cache.clear()
        self._cache[key] = owner
        return owner

    def placement_of(self, pid: int) -> Placement | None:
        """Where process ``pid`` runs (see ``_placement``): what names a network namespace after a container."""
        return self._placement(pid)

    def _placement(self, pid: int) -> Placement | None:
        """Where the process runs: its cgroup, classified, with its container's or pod's names; None off Linux,
        or when it has exited (read before ``is_running``)."""
        try:
            with open(f"{self._proc_root}/{pid}/cgroup", "rb") as file:
                text = file.read(65536).decode("utf-8", "replace")
        except OSError:
            return None
        path = read_proc_cgroup(text)
        return self.placement_at(path) if path is not None else None

    def placement_at(self, cgroup: str) -> Placement:
        """A cgroup path classified, with its container's or pod's names (a socket's own cgroup, say)."""
        return self._names.resolve(classify(cgroup))

    def resolver(
        self, pids_by_inode: Mapping[int, list[int]], root: bool, my_uid: int, hidden_uids: Collection[int] = ()
    ) -> OwnerResolver:
        """An ``OwnerResolver`` over one /proc scan, for a parser to call once per socket line. ``hidden_uids``:
        the users of processes whose fds the scan could not read (see ``unowned_status``)."""
        # Thousands of sockets share a handful of pid lists (the scan shares them, see SocketOwners): answer
        # each list once, by identity, and look each pid up once.
        owner_tuples: dict[tuple[int, ...], tuple[Owner, ...]] = {}
        by_list: dict[int, tuple[tuple[Owner, ...], OwnerStatus]] = {}
        known, gone = OwnerStatus.KNOWN, OwnerStatus.GONE

        def resolve(inode: int | None, state: State, uid: int | None) -> tuple[tuple[Owner, ...], OwnerStatus]:
            pids = pids_by_inode.get(inode) if inode is not None else None
            if not pids:
                return (), unowned_status(inode, state, uid, root, my_uid, hidden_uids)
            # id() is sound: pids_by_inode keeps every list alive as long as this resolver.
            answer = by_list.get(id(pids))
            if answer is None:
                key = tuple(pids)
                owners = owner_tuples.get(key)
                if owners is None:
                    found = (self.lookup(pid) for pid in key)
                    owners = owner_tuples[key] = tuple(owner for owner in found if owner is not None)
                answer = by_list[id(pids)] = (owners, known if owners else gone)
            return answer

        return resolve

    def complete(self, records: Iterable[Connection]) -> tuple[Connection, ...]:
        """Fill in each owner's name, user, command line and start time, for listings that give pids
        (macOS, Windows, FreeBSD) but little else. An owner psutil cannot see keeps what the listing said."""
        completed: dict[tuple[Owner, ...], tuple[Owner, ...]] = {}
        out: list[Connection] = []
        for record in records:
            if not record.owners:
                out.append(record)
                continue
            owners = completed.get(record.owners)
            if owners is None:
                owners = completed[record.owners] = tuple(
                    owner if owner.pid is None else _merged(owner, self.lookup(owner.pid, owner.name))
                    for owner in record.owners
                )
            out.append(record._replace(owners=owners))
        return tuple(out)


def _merged(listed: Owner, found: Owner | None) -> Owner:
    if found is None:
        return listed  # exited since the listing: what the listing said is all there is
    return Owner(listed.pid, listed.name or found.name, found.user, found.cmdline, found.start_time, found.placement)


def _ask(getter: Callable[[], T]) -> T | None:
    try:
        return getter()
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
        return None


def unowned_status(
    inode: int | None, state: State, uid: int | None, root: bool, my_uid: int, hidden_uids: Collection[int] = ()
) -> OwnerStatus:
    """Why a live socket that no visible process holds has no owner.

    No process, when it is the kernel's alone (TIME-WAIT, no inode), or when every process that could hold
    it was read: root reads all, and a user all of their own, except processes the scan could not read
    (``hidden_uids``: their users). Otherwise, not permitted.
    """
    if state is State.TIME_WAIT or inode is None:
        return OwnerStatus.NO_PROCESS
    if uid in hidden_uids or (uid is None and hidden_uids):
        return OwnerStatus.NOT_PERMITTED
    if root or uid == my_uid:
        return OwnerStatus.NO_PROCESS  # we would have seen its holder
    return OwnerStatus.NOT_PERMITTED
