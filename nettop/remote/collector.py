"""nettop's remote collector: what a host runs, under ``python3``, for ``nettop --host``. Nothing is installed there:
this file's text is sent over ssh at each connection (``nettop.remote.session``).

It must run on any Linux host's Python 3 (3.6 and newer: old LTS systems), with the standard library only, and
import nothing of nettop's. It reads the kernel's socket tables (``/proc/net/{tcp,tcp6,udp,udp6}``) and scans
``/proc/*/fd`` for the processes that hold each socket, then, for each request line on stdin, writes one JSON line
on stdout: what changed since its last answer (table lines added and removed, by an id of its own; socket inodes'
holders; the holders' names, users and command lines). The first answer is everything; after it, a host with
5,000 quiet connections answers in a few hundred bytes.

The local side (``nettop.remote.state``) rebuilds the tables' text and parses it with nettop's own ``/proc/net``
parser, so that a remote host's records are read exactly as a local capture's would be.
"""

import json
import os
import pwd
import sys
import time

PROTOCOL = 1
TABLES = ("tcp", "tcp6", "udp", "udp6")


def read_text(path):
    with open(path, "rb") as stream:
        return stream.read().decode("utf-8", "surrogateescape")


def read_table(name):
    """The table's header and its lines, each made ``steady``."""
    try:
        lines = read_text("/proc/net/" + name).splitlines()
    except OSError:
        return None, []
    if not lines:
        return None, []
    return lines[0], [steady(line) for line in lines[1:] if ":" in line]


def steady(line):
    """A line without what changes while the socket does not: the slot number ("  12:", which shifts as sockets
    come and go), the timers and what follows the inode (refcount, address, rto, cwnd). nettop reads none of
    them, and a line that stays the same is not sent again."""
    words = line.split(":", 1)[1].split()
    if len(words) < 9:
        return " ".join(words)  # for nettop's parser to refuse, with the line
    return " ".join([*words[:4], "00:00000000", "00000000", words[6], "0", words[8]])


class Processes:
    """The holders of each socket inode, from /proc/PID/fd, and what each holder is.

    A refresh reads every process's fd list but readlinks only the fds that may have changed: a new fd number, a
    process whose pid was reused (its start time differs), or an fd whose socket the tables no longer show (closed:
    servers reuse the number for the next connection at once). Files, pipes and listed sockets are trusted; at 10,000
    sockets that took the scan from about 60 ms a refresh to a few. What trusting misses leaves a trace, a listed
    socket that no process holds: if it stays so in the next refresh, every fd is read again. Inodes that stay
    unowned (other users' processes) cost that once. What leaves no trace is caught by the full read made every
    ``full_every`` refreshes, which also reads the holders' command lines afresh.
    """

    def __init__(self, proc="/proc", full_every=60):
        self.proc = proc
        self.full_every = full_every
        self.users = {}
        self.boot = self.boot_time()
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.fds = {}  # pid -> (start time in ticks, {fd: socket inode, or "" for what is not a socket})
        self.described = {}  # (pid, start time) -> [name, uid, user, cmdline, start time]
        self.since_full = full_every  # the first refresh reads everything
        self.unowned = set()  # the last refresh's listed inodes that no fd held
        self.suspects = set()  # of those, the ones unowned for the first time
        self.last_full = False
        self.last_readlinks = 0

    def boot_time(self):
        try:
            for line in read_text(self.proc + "/stat").splitlines():
                if line.startswith("btime "):
                    return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return None

    def user(self, uid):
        if uid not in self.users:
            try:
                self.users[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                self.users[uid] = str(uid)
        return self.users[uid]

    def scan(self, wanted):
        """inode -> [pid, ...] for the ``wanted`` inodes (the tables' sockets: not UNIX or netlink ones), pid ->
        [name, uid, user, cmdline, start time] of their holders, and how many processes hid their fds."""
        full = self.since_full >= self.full_every
        self.last_readlinks = 0
        found = self.walk(wanted, full)
        unowned = wanted.difference(found[0])
        if not full and not unowned.isdisjoint(self.suspects):
            # Unowned in two refreshes running: maybe on an fd number the cache still maps to what it held before.
            full = True
            found = self.walk(wanted, full)
            unowned = wanted.difference(found[0])
        self.since_full = 1 if full else self.since_full + 1
        self.suspects = set() if full else unowned - self.unowned
        self.unowned = unowned
        self.last_full = full
        return found

    def walk(self, wanted, full):
        holders, processes, hidden = {}, {}, 0
        fds_now, described = {}, {}
        try:
            names = os.listdir(self.proc)
        except OSError:
            return holders, processes, hidden
        for name in names:
            if not name.isdigit():
                continue
            base = self.proc + "/" + name
            # The start time before the fd list: a pid reused in between is cached under the old start time, which
            # the next refresh sees as changed.
            started = self.start_time(base)
            if started is None:
                continue  # gone since the listing: normal
            fd_dir = base + "/fd"
            try:
                fds = os.listdir(fd_dir)
            except PermissionError:
                hidden += 1
                continue
            except OSError:
                continue
            pid = int(name)
            cached = None if full else self.fds.get(name)
            known = cached[1] if cached is not None and cached[0] == started else {}
            targets, held = {}, False
            for fd in fds:
                inode = known.get(fd)
                if inode is None or (inode and inode not in wanted):
                    try:
                        target = os.readlink(fd_dir + "/" + fd)
                    except OSError:
                        continue  # gone, or not ours to read: not cached, so read again next time
                    self.last_readlinks += 1
                    inode = target[8:-1] if target.startswith("socket:[") else ""
                targets[fd] = inode
                if inode in wanted:
                    pids = holders.setdefault(inode, [])
                    if not pids or pids[-1] != pid:  # one socket on two fds of one process
                        pids.append(pid)
                    held = True
            fds_now[name] = (started, targets)
            if held:
                key = (name, started)
                description = None if full else self.described.get(key)
                if description is None:
                    description = self.describe(base, started)
                if description is not None:
                    processes[name] = described[key] = description
        self.fds, self.described = fds_now, described
        return holders, processes, hidden

    def start_time(self, base):
        """The process's start time in clock ticks since boot (field 22, counted after the command name, which may
        hold spaces and parentheses); None if it is gone or the line does not read."""
        try:
            text = read_text(base + "/stat")
            return int(text[text.rindex(")") + 2 :].split()[19])
        except (OSError, ValueError, IndexError):
            return None

    def describe(self, base, started):
        """Read only for a holder not described before (or at a full read): not every process, every refresh."""
        try:
            comm = read_text(base + "/comm").rstrip("\n")
            cmdline = read_text(base + "/cmdline").split("\0")
            uid = os.stat(base).st_uid
        except OSError:
            return None
        if cmdline and cmdline[-1] == "":
            cmdline.pop()
        started = None if self.boot is None else self.boot + started / self.ticks
        return [comm, uid, self.user(uid), cmdline, started]


class Changes:
    """Values by key, told as what changed since the last time (``add``: key -> value, ``del``: keys)."""

    def __init__(self):
        self.known = {}

    def since(self, now):
        added = {key: value for key, value in now.items() if self.known.get(key) != value}
        removed = [key for key in self.known if key not in now]
        self.known = now
        return {"add": added, "del": removed}


class Lines:
    """A table's lines, each given a number the first time it is seen: a line that stays is not sent again, and a
    line that goes is told by its number."""

    def __init__(self):
        self.ids = {}
        self.next_id = 0

    def since(self, lines):
        now, added = {}, []
        for line in lines:
            number = self.ids.get(line)
            if number is None:
                number = self.next_id
                self.next_id += 1
                added.append([number, line])
            now[line] = number
        removed = [number for line, number in self.ids.items() if line not in now]
        self.ids = now
        return {"add": added, "del": removed}


def main():
    if not sys.platform.startswith("linux"):
        # No /proc/net here: say which system this is, for nettop to run the host's own listing commands instead.
        sys.stdout.write(json.dumps({"v": PROTOCOL, "unsupported": sys.platform}) + "\n")
        sys.stdout.flush()
        return
    processes = Processes()
    tables = {name: Lines() for name in TABLES}
    headers = {}
    holders, described = Changes(), Changes()
    out = sys.stdout
    for request in sys.stdin:
        if request.strip() != "tick":
            break
        taken = time.time()
        answer = {"v": PROTOCOL, "t": taken, "euid": os.geteuid(), "tables": {}}
        wanted = set()
        for name in TABLES:
            header, lines = read_table(name)
            wanted.update(line.rsplit(" ", 1)[-1] for line in lines)
            if header is not None and name not in headers:
                headers[name] = header
                answer["tables"][name] = {"header": header}
            answer["tables"].setdefault(name, {}).update(tables[name].since(lines))
        inodes, procs, hidden = processes.scan(wanted)
        answer["holders"] = holders.since(inodes)
        answer["processes"] = described.since(procs)
        answer["hidden"] = hidden
        answer["took"] = time.time() - taken
        out.write(json.dumps(answer, separators=(",", ":")) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
