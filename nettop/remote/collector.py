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
    """The holders of each socket inode, from /proc/PID/fd, and what each holder is."""

    def __init__(self, proc="/proc"):
        self.proc = proc
        self.users = {}
        self.boot = self.boot_time()
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

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
        holders, processes, hidden = {}, {}, 0
        try:
            names = os.listdir(self.proc)
        except OSError:
            return holders, processes, hidden
        for name in names:
            if not name.isdigit():
                continue
            fd_dir = self.proc + "/" + name + "/fd"
            try:
                fds = os.listdir(fd_dir)
            except PermissionError:
                hidden += 1
                continue
            except OSError:  # gone since the listing: normal
                continue
            pid, held = int(name), False
            for fd in fds:
                try:
                    target = os.readlink(fd_dir + "/" + fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in wanted:
                    holders.setdefault(target[8:-1], []).append(pid)
                    held = True
            if held:
                described = self.describe(name)
                if described is not None:
                    processes[name] = described
        return holders, processes, hidden

    def describe(self, pid):
        base = self.proc + "/" + pid
        try:
            comm = read_text(base + "/comm").rstrip("\n")
            cmdline = read_text(base + "/cmdline").split("\0")
            uid = os.stat(base).st_uid
            stat = read_text(base + "/stat")
        except OSError:
            return None
        if cmdline and cmdline[-1] == "":
            cmdline.pop()
        started = None
        try:  # field 22, counted after the command name, which may hold spaces and parentheses
            ticks = int(stat[stat.rindex(")") + 2 :].split()[19])
            if self.boot is not None:
                started = self.boot + ticks / self.ticks
        except (ValueError, IndexError):
            pass
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
