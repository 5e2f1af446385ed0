"""Map socket inodes to the processes holding them, by reading ``/proc/<pid>/fd`` links (Linux).

This replaces ``ss -p`` / ``netstat -p``: both walk a 256-bucket hash chain per socket, which grows
quadratically (``ss -tunap`` 365 ms against ``ss -tunae`` 107 ms at 20,000 sockets on a 2-core VM). One
readlink per open fd is linear, and it runs while the listing command runs (in a thread, or for a one-shot
listing in a child process: ``nettop.sources.oneshot``).

A viewer that collects every second re-reads mostly the same links, so ``IncrementalSocketScanner`` keeps them
between scans, readlinks only the fds that may have changed, and lists a process's fds again only when their
count changed: 12-16 ms a tick against 100-180 ms for a full scan at 20,000 sockets with 1 % replaced every
second (``benchmarks/bench_scan.py``). It also says which inodes changed holders, so that owners are asked
again for those alone.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Collection, Iterable
from typing import NamedTuple


class SocketOwners:
    """Which pids hold each socket inode, and how many processes' fds could not be read.

    The pid lists are shared (all the sockets a process alone holds have one list) and never changed, so
    that a parser can ask for owners once per list rather than once per socket.

    A plain class, as ``_Fds`` is a NamedTuple: ``dataclasses`` imports ``inspect``, 25 ms that the forked
    scan of ``nettop list`` (``nettop.sources.oneshot``) would spend before its first readlink.
    """

    __slots__ = ("changed", "denied", "hidden_uids", "pids_by_inode")

    def __init__(
        self,
        pids_by_inode: dict[int, list[int]] | None = None,
        denied: int = 0,
        changed: set[int] | None = None,
        hidden_uids: set[int] | None = None,
    ) -> None:
        self.pids_by_inode: dict[int, list[int]] = {} if pids_by_inode is None else pids_by_inode
        #: Processes whose fds could not be read: another user's without root, or one the kernel's ptrace
        #: rules hide even from root (a sandbox's init, a process that made itself undumpable).
        self.denied = denied
        #: The users those processes run as: a socket of theirs that no visible process holds may be held by one.
        self.hidden_uids: set[int] = set() if hidden_uids is None else hidden_uids
        #: The inodes whose holders differ from the previous scan's (``IncrementalSocketScanner``); None:
        #: unknown, as after a scan with nothing before it.
        self.changed = changed

    def __repr__(self) -> str:
        return (
            f"SocketOwners({len(self.pids_by_inode)} inodes, denied={self.denied}, hidden_uids={self.hidden_uids!r}, "
            f"changed={self.changed!r})"
        )


def _open_fd_dir(proc_dir: str, owners: SocketOwners) -> int | None:
    """A process's fd directory, opened; None when it cannot be (noted in ``owners`` when not allowed).
    The caller closes it.

    Links are then read relative to it (``readlinkat``): resolving ``/proc/<pid>/fd/`` again for every fd was a
    sixth of a scan's time.
    """
    try:
        return os.open(f"{proc_dir}/fd", os.O_RDONLY | os.O_DIRECTORY)
    except PermissionError:
        _note_denied(owners, proc_dir)
        return None
    except OSError:
        return None  # exited, or a kernel thread


def _note_denied(owners: SocketOwners, proc_dir: str) -> None:
    """A process whose fds may not be read: counted, and its user noted."""
    owners.denied += 1
    with contextlib.suppress(OSError):  # exited meanwhile
        owners.hidden_uids.add(os.stat(proc_dir).st_uid)


def _fd_names(dir_fd: int) -> list[str] | None:
    try:
        return os.listdir(dir_fd)
    except OSError:
        return None  # exited


def scan_socket_owners(
    proc_root: str = "/proc", skip: Collection[str] = (), part: int = 0, parts: int = 1
) -> SocketOwners:
    """Read every process's fd links once; a process that exits mid-scan is simply skipped.

    ``skip``: pids (as /proc names them) not to read, such as forked scanners': they hold copies of their
    parent's sockets, which they do not own. ``part`` of ``parts``: only the fds whose number is ``part`` modulo
    ``parts``, for scans that share the work (``merge_owners`` joins them): by number, not by place in a listing,
    so that an fd opened or closed meanwhile shifts nothing."""
    owners = SocketOwners()
    by_inode = owners.pids_by_inode
    readlink = os.readlink
    for entry in os.listdir(proc_root):
        if not entry.isdigit() or entry in skip:
            continue
        dir_fd = _open_fd_dir(f"{proc_root}/{entry}", owners)
        if dir_fd is None:
            continue
        pid = int(entry)
        alone = [pid]
        try:
            names = _fd_names(dir_fd) or ()
            if parts > 1:
                names = [fd for fd in names if int(fd) % parts == part]
            for fd in names:
                try:
                    target = readlink(fd, dir_fd=dir_fd)
                except PermissionError:  # a listable fd directory with unreadable links (ptrace rules)
                    _note_denied(owners, f"{proc_root}/{entry}")
                    break
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inode = int(target[8:-1])
                    pids = by_inode.get(inode)
                    if pids is None:
                        by_inode[inode] = alone
                    elif pids[-1] != pid:
                        by_inode[inode] = [*pids, pid]  # a new list: the one it had is shared
        finally:
            os.close(dir_fd)
    return owners


def merge_owners(scans: list[SocketOwners]) -> SocketOwners:
    """The scans of the parts of the fds (``scan_socket_owners``'s ``part``) as one scan of them all: each socket's
    pids in /proc's order, and a process's lone pid list shared by all its sockets, as one scan makes them."""
    merged = scans[0]
    by_inode = merged.pids_by_inode
    lone = {pids[0]: pids for pids in by_inode.values() if len(pids) == 1}
    for scan in scans[1:]:
        for inode, pids in scan.pids_by_inode.items():
            if len(pids) == 1:
                pids = lone.setdefault(pids[0], pids)
            held = by_inode.get(inode)
            if held is None:
                by_inode[inode] = pids
            elif held is not pids:  # held through fds in both parts: by one process, or by several
                by_inode[inode] = sorted({*held, *pids})
        # Each part opened every fd directory: a process hidden from one was hidden from all.
        merged.denied = max(merged.denied, scan.denied)
        merged.hidden_uids |= scan.hidden_uids
    return merged


def parse_start_time(stat: str) -> int:
    """Field 22 of ``/proc/<pid>/stat``: when the process started, in clock ticks since boot.

    Field 2 (comm) is in parentheses and may hold spaces and ')', so fields are counted after the last ')'.
    Raises ValueError on text that is not a stat line.
    """
    after_comm = stat[stat.rindex(")") + 1 :].split()
    # after_comm[0] is field 3 (state), so field 22 is at index 19.
    if len(after_comm) < 20:
        raise ValueError(f"a stat line with {len(after_comm) + 2} fields, not at least 22")
    return int(after_comm[19])


def _read_start_time(stat_path: str) -> int | None:
    """The start time of the process at ``stat_path``, or None if it has exited."""
    try:
        fd = os.open(stat_path, os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        return parse_start_time(data.decode("latin-1"))
    except ValueError:
        return None


class _Fds(NamedTuple):
    """One process's fds as the last scan saw them, under the start time that tells a reused pid apart."""

    start_time: int
    #: The fd names as ``os.listdir`` gave them (in fd order: /proc lists them so).
    names: list[str]
    #: fd name -> socket inode, or 0 for an fd that is not a socket (or whose link may not be read).
    inodes: dict[str, int]
    #: The distinct socket inodes among ``inodes``.
    sockets: list[int]

    @classmethod
    def of(cls, start_time: int, names: list[str], inodes: dict[str, int]) -> _Fds:
        return cls(start_time, names, inodes, list(dict.fromkeys(filter(None, inodes.values()))))


class IncrementalSocketScanner:
    """``scan_socket_owners`` for repeated scans: readlink only the fds that may have changed since the last one.

    The cache maps each process (pid and start time, so a reused pid starts afresh) to its fds' targets. An fd
    is re-read when it is new; when its socket has left the listing since the last scan (closed: servers reuse
    the number for the next connection at once); or when its socket was found by the last scan but not shown
    by its listing (opened after it, or a UNIX socket, which is then trusted). Files and listed sockets are
    trusted.

    What that misses (a number reused behind a socket the listing still shows, since ``ss`` does not list
    atomically; or behind a file) leaves a trace: a live inode with no owner. Such an inode is a suspect, and
    if the next listing still shows it with no owner found, that scan re-reads every fd. Checking at once
    would cost a full re-read whenever a socket closes while ``ss`` runs, most ticks on a busy server; waiting
    costs that owner one tick. Inodes that stay unowned (other users' processes, sockets no process holds)
    are checked once, not every time. What leaves no trace (a number reused for a socket another fd also
    holds) lasts until the full re-read made every ``full_every`` scans.
    """

    def __init__(self, proc_root: str = "/proc", full_every: int = 60) -> None:
        self._proc_root = proc_root
        self._me = os.getpid()
        self._full_every = max(1, full_every)
        self._procs: dict[int, _Fds] = {}
        #: Kept from scan to scan and changed only where a process's sockets did: rebuilding it cost more than
        #: the scan itself at 20,000 sockets.
        self._by_inode: dict[int, list[int]] = {}
        #: Each pid's one-pid list, shared by the sockets it alone holds.
        self._alone: dict[int, list[int]] = {}
        #: The previous listing's inodes, and those of them the previous scan left unowned; None: unknown.
        self._listed: set[int] | frozenset[int] | None = None
        self._unowned: set[int] | frozenset[int] | None = None
        #: Of those, the ones unowned for the first time: a full re-read looks for them if they stay so.
        self._suspects: set[int] | frozenset[int] = frozenset()
        #: Sockets the previous scan found on an fd for the first time that its listing did not show: opened
        #: after it, or UNIX sockets. Re-read once more, in case they were inet sockets that closed unlisted.
        self._young: set[int] = set()
        self._found_now: set[int] = set()  # the same, for the scan under way, before the listing is subtracted
        self._links_denied = False  # set by _relink when a process's links may not be read
        self._since_full = 0  # scans since the last full one (which counts); 0 before any scan
        self._lock = threading.Lock()  # one scan at a time: each rewrites the cache
        #: readlink calls made by the last scan (both passes, if it needed two).
        self.last_readlinks = 0
        #: Whether the last scan read every fd.
        self.last_full = False

    @property
    def primed(self) -> bool:
        """Whether a scan has filled the cache, so the next one can be incremental."""
        return self._since_full > 0

    def scan(self, live_inodes: Collection[int] | None = None) -> SocketOwners:
        """Which pids hold each socket inode now.

        ``live_inodes`` are the non-zero socket inodes of a listing taken just before. None means the listing
        is not known yet (it runs alongside): every fd is read, as ``scan_socket_owners`` does; pass the
        listing to ``note_listing`` afterwards so that the next scan can be incremental.
        """
        with self._lock:
            self.last_readlinks = 0
            self._found_now = set()
            first = not self._procs
            if live_inodes is None:
                owners, _ = self._pass(None)
                self._settle(owners, None, None, full=True)
                return self._answer(owners, first)
            live = _as_set(live_inodes)
            owners, trusted = self._pass(self._closed(live))
            unowned = live.difference(self._by_inode)
            if trusted and not unowned.isdisjoint(self._suspects):
                # Unowned in two listings running: maybe in an fd number the cache still maps to what it held
                # before. Read everything once rather than answer stale.
                again, trusted = self._pass(None)
                owners.denied, owners.hidden_uids = again.denied, again.hidden_uids
                owners.changed |= again.changed  # type: ignore[operator]
                unowned = live.difference(self._by_inode)
            self._settle(owners, live, unowned, full=not trusted)
            return self._answer(owners, first)

    def _answer(self, owners: SocketOwners, first: bool) -> SocketOwners:
        # A copy: the scanner's own map changes with the next scan (its lists are replaced, never changed).
        owners.pids_by_inode = dict(self._by_inode)
        if first:
            owners.changed = None
        return owners

    def note_listing(self, live_inodes: Collection[int]) -> None:
        """After ``scan(None)``: the listing it ran beside, so the next scan knows what was live and unowned."""
        with self._lock:
            self._listed = _as_set(live_inodes)
            self._unowned = self._listed.difference(self._by_inode)
            self._young -= self._listed

    def _closed(self, live: set[int] | frozenset[int]) -> set[int] | frozenset[int] | None:
        """The sockets whose cached fds must be re-read; None when every fd must be (no listing known, or a
        periodic full re-read is due)."""
        if self._listed is None or self._since_full >= self._full_every:
            return None
        return (self._listed - live) | (self._young - live)

    def _settle(
        self,
        owners: SocketOwners,
        live: set[int] | frozenset[int] | None,
        unowned: set[int] | frozenset[int] | None,
        full: bool,
    ) -> None:
        """Remember what this scan found, for the next one."""
        self.last_full = full
        self._since_full = 1 if full else self._since_full + 1
        if full or unowned is None or self._unowned is None:
            self._suspects = frozenset()  # a full read has looked for every unowned inode everywhere
        else:
            self._suspects = unowned - self._unowned
        self._listed, self._unowned = live, unowned
        self._young = self._found_now if live is None else self._found_now - live

    def _pass(self, closed: set[int] | frozenset[int] | None) -> tuple[SocketOwners, int]:
        """One walk over every process, trusting the cache but for fds on ``closed`` sockets; None: read all.

        Returns what changed (owners, with the inodes whose holders changed, in ``changed``) and how many fds
        were taken from the cache.
        """
        owners = SocketOwners(changed=set())
        procs: dict[int, _Fds] = {}
        trusted = 0
        root = self._proc_root
        for entry in os.listdir(root):
            if not entry.isdigit():
                continue
            # Start time before the fd list: if the pid is reused in between, the new fds are cached under the
            # old start time, which the next scan sees as changed.
            start_time = _read_start_time(f"{root}/{entry}/stat")
            if start_time is None:
                continue  # exited
            dir_fd = _open_fd_dir(f"{root}/{entry}", owners)
            if dir_fd is None:
                continue
            pid = int(entry)
            # Our own fds are read whole every time: the scan's directory, the listing's output file and its
            # pipes come and go, and a socket that takes one of their numbers must not be taken for them.
            cached = self._procs.get(pid) if pid != self._me else None
            if cached is not None and (closed is None or cached.start_time != start_time):
                cached = None
            self._links_denied = False
            try:
                found = self._fds_of(dir_fd, start_time, cached, closed or frozenset())
            finally:
                os.close(dir_fd)
            if self._links_denied:
                _note_denied(owners, f"{root}/{entry}")
                continue  # not cached: read again (and noted again) next time
            if found is not None:
                fds, reused = found
                trusted += reused
                procs[pid] = fds
        self._apply(procs, owners.changed)  # type: ignore[arg-type]
        return owners, trusted

    def _apply(self, procs: dict[int, _Fds], changed: set[int]) -> None:
        """Bring the inode map up to ``procs``, touching only the processes whose sockets changed."""
        by_inode, before = self._by_inode, self._procs
        for pid, fds in procs.items():
            old = before.get(pid)
            if old is fds or (old is not None and old.sockets == fds.sockets):
                continue
            old_sockets = set(old.sockets) if old is not None else set()
            new_sockets = set(fds.sockets)
            for inode in old_sockets - new_sockets:
                _drop_owner(by_inode, inode, pid)
            for inode in new_sockets - old_sockets:
                _add_owner(by_inode, inode, pid, self._alone)
            changed |= old_sockets ^ new_sockets
        for pid in before.keys() - procs.keys():  # exited
            for inode in before[pid].sockets:
                _drop_owner(by_inode, inode, pid)
            changed.update(before[pid].sockets)
        self._procs = procs

    def _fds_of(
        self, dir_fd: int, start_time: int, cached: _Fds | None, closed: set[int] | frozenset[int]
    ) -> tuple[_Fds, int] | None:
        """One process's fds, from ``cached`` where it can be trusted; None when the process has exited.

        Listing a server's thousands of fds was the largest part of a rescan. Linux 6.2 and later give the
        number of open fds as the size of the fd directory: when it is what the cache holds, the fds are taken
        to be the same ones, and only those on closed sockets are read again (a server reuses the lowest free
        numbers for its next connections). If they were not the same (one file closed, one socket opened), the
        new socket shows in the listing with no owner, and the scanner's suspects (see the class) re-read
        everything a tick later.
        """
        if cached is not None and os.fstat(dir_fd).st_size == len(cached.names):
            hit = closed.intersection(cached.sockets)
            if not hit:
                return cached, len(cached.names)
            swapped = self._reread(dir_fd, cached, hit)
            if swapped is not None:
                return swapped
        names = _fd_names(dir_fd)
        if names is None:
            return None
        if cached is None:
            return self._read_fds(dir_fd, start_time, names, None, frozenset())
        if names == cached.names and closed.isdisjoint(cached.sockets):
            return cached, len(names)  # the same fd numbers, none on a closed socket: nothing to read
        return self._read_fds(dir_fd, start_time, names, cached, closed)

    def _reread(self, dir_fd: int, cached: _Fds, hit: set[int] | frozenset[int]) -> tuple[_Fds, int] | None:
        """``cached`` with the fds on the ``hit`` sockets read again; None if one of them is gone."""
        inodes = dict(cached.inodes)
        stale = [name for name, inode in inodes.items() if inode in hit]
        if self._relink(dir_fd, stale, inodes):
            return None  # a number is free now: the fd list changed, list it
        return _Fds.of(cached.start_time, cached.names, inodes), len(cached.names) - len(stale)

    def _relink(self, dir_fd: int, names: Iterable[str], inodes: dict[str, int]) -> list[str]:
        """Read the links of ``names`` into ``inodes`` (0: not a socket); returns the names that are gone."""
        gone: list[str] = []
        readlink, found_now = os.readlink, self._found_now
        for name in names:
            self.last_readlinks += 1
            try:
                target = readlink(name, dir_fd=dir_fd)
            except PermissionError:  # a listable fd directory with unreadable links (ptrace rules)
                self._links_denied = True
                break
            except OSError:
                gone.append(name)  # closed since it was listed
                continue
            inode = int(target[8:-1]) if target.startswith("socket:[") else 0
            if inode and inode != inodes.get(name):
                found_now.add(inode)
            inodes[name] = inode
        return gone

    def _read_fds(
        self,
        dir_fd: int,
        start_time: int,
        names: list[str],
        cached: _Fds | None,
        closed: set[int] | frozenset[int],
    ) -> tuple[_Fds, int]:
        """One process's fds, readlinking those the ``cached`` ones lack or map to a closed socket.

        Returns them and how many came from the cache. Set operations pick the fds to read: a server's
        thousands of unchanged fds are never looped over one by one.
        """
        if cached is None:
            inodes: dict[str, int] = {}
            to_read: Iterable[str] = names
        else:
            inodes = dict(cached.inodes)
            present = set(names)
            for name in inodes.keys() - present:
                del inodes[name]  # closed
            new = present.difference(inodes)
            hit = closed.intersection(cached.sockets)
            if hit:
                new.update(name for name, inode in inodes.items() if inode in hit)
            to_read = new
        before = self.last_readlinks
        for name in self._relink(dir_fd, to_read, inodes):
            inodes.pop(name, None)
        readlinks = self.last_readlinks - before
        # Some closed mid-scan: the next scan must not take the listed names as all cached.
        cached_names = names if len(inodes) == len(names) else [name for name in names if name in inodes]
        return _Fds.of(start_time, cached_names, inodes), len(names) - readlinks


def _add_owner(by_inode: dict[int, list[int]], inode: int, pid: int, alone: dict[int, list[int]]) -> None:
    # Lists are replaced, not changed, so that a copy of the map handed out stays as it was, and shared (see
    # SocketOwners); kept sorted, as a full scan (which walks /proc in pid order) makes them.
    pids = by_inode.get(inode)
    if pids is None:
        by_inode[inode] = alone.get(pid) or alone.setdefault(pid, [pid])
    else:
        by_inode[inode] = sorted({*pids, pid})


def _drop_owner(by_inode: dict[int, list[int]], inode: int, pid: int) -> None:
    pids = by_inode.get(inode)
    if pids is None:
        return
    left = [p for p in pids if p != pid]
    if left:
        by_inode[inode] = left
    else:
        del by_inode[inode]


def _as_set(inodes: Collection[int]) -> set[int] | frozenset[int]:
    return inodes if isinstance(inodes, (set, frozenset)) else set(inodes)
