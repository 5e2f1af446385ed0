"""Where snapshots come from: which command each platform runs, in which fallback order, or a file.

On Linux the listing is asked for inodes (``ss -tunae``, ``netstat -tunaeW``) and the owners are found by
one linear ``/proc/*/fd`` scan that runs alongside it (see ``procfs``): ``-p`` costs both tools a
quadratic walk that triples their time at 20,000 sockets. A source collected again and again (the live
viewer's ticks) soon runs ``ss`` first and then rescans only the fds that may have changed, given the inodes
it listed (``IncrementalSocketScanner``).
The runner is injectable so tests can script it. One-shot commands take ``collect_blocking``: the same
collection without an event loop (see ``runner`` for why).
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from nettop import platforms
from nettop.enrich import Enricher
from nettop.errors import CommandError, NettopError, SourceUnavailable
from nettop.model import OwnerResolver, ParseResult, Snapshot
from nettop.parsers import netstat_linux, parse_text, ss
from nettop.platforms import Steps
from nettop.procfs import IncrementalSocketScanner, SocketOwners, scan_socket_owners
from nettop.runner import DEFAULT_TIMEOUT, BlockingRunner, Runner, run_command, run_command_blocking

#: A multi-command listing: runs its commands through the runner, returns the parse and notes.
StepsFunction = Callable[[Runner, float], Awaitable[Steps]]


class Source(Protocol):
    """Anything that can take a snapshot: a live platform source, a file, a test's script."""

    name: str

    async def collect(self) -> Snapshot: ...


@dataclass(frozen=True, slots=True)
class ListingCommand:
    """One way to list sockets: the command, the parser for its text, and whether owners come from /proc."""

    name: str
    argv: tuple[str, ...]
    parse: Callable[[str, OwnerResolver | None], ParseResult]
    owners_from_proc: bool = False
    #: For a source collected again and again: a parse that reuses the records of lines seen in the last one.
    parse_again: Callable[[str, OwnerResolver | None, ss.LineMemo], ParseResult] | None = None
    #: The non-zero socket inodes in the command's text, read without parsing it, so that collections after
    #: the first can rescan /proc incrementally. None: every collection scans all of /proc beside the command.
    live_inodes: Callable[[str], set[int]] | None = None
    #: Platforms that need more than one command (macOS tcp+udp+lsof, Windows netstat+tasklist): runs them
    #: all through the runner and parses; ``argv`` is then only the main command, for messages.
    steps: StepsFunction | None = None


#: ``ino:N`` in ``ss -e`` output; N = 0 (no file: TIME_WAIT and the like) is left out. The pattern opens with
#: a literal so that ``re`` can skip ahead (30 times faster than a look-behind for the space).
_SS_INODE = re.compile(r" ino:([1-9][0-9]*)")


def ss_inodes(text: str) -> set[int]:
    """The non-zero socket inodes of ``ss -e`` text."""
    return set(map(int, _SS_INODE.findall(text)))


LINUX_COMMANDS: dict[str, ListingCommand] = {
    "ss": ListingCommand(
        "ss",
        ("ss", "-tunae"),
        lambda text, owners: ss.parse(text, owners_for=owners),
        owners_from_proc=True,
        parse_again=lambda text, owners, memo: ss.parse(text, owners_for=owners, memo=memo),
        live_inodes=ss_inodes,
    ),
    "netstat": ListingCommand(
        "netstat",
        ("netstat", "-tunaeW"),
        lambda text, owners: netstat_linux.parse(text, owners_for=owners, wide=True),
        owners_from_proc=True,
    ),
}


class CommandSource:
    """Runs the platform's listing commands in fallback order and keeps to the first that works."""

    def __init__(
        self,
        commands: Sequence[ListingCommand],
        runner: Runner = run_command,
        timeout: float = DEFAULT_TIMEOUT,
        enricher: Enricher | None = None,
        proc_root: str = "/proc",
        complete_owners: bool = True,
        blocking_runner: BlockingRunner | None = None,
    ) -> None:
        if not commands:
            raise ValueError("a command source needs at least one command")
        self._commands = list(commands)
        self._runner = runner
        #: The same commands without an event loop, for ``collect_blocking``; None: it runs ``collect``.
        self._blocking_runner = blocking_runner
        self._timeout = timeout
        self._enricher = enricher or Enricher()
        self._proc_root = proc_root
        #: Ask psutil about the pids a multi-step listing gives; off when the listing is not of this machine.
        self._complete_owners = complete_owners
        self._scanner = IncrementalSocketScanner(proc_root)
        self._collected = False
        self._memo = ss.LineMemo()
        self.name = self._commands[0].name

    async def collect(self) -> Snapshot:
        started, clock = time.time(), time.perf_counter()
        errors: list[NettopError] = []
        for index, command in enumerate(self._commands):
            try:
                result, notes = await self._collect_with(command)
            except CommandError as error:
                errors.append(error)
                continue
            return self._snapshot(index, command, result, notes, errors, started, clock)
        raise SourceUnavailable(errors)

    def collect_blocking(self) -> Snapshot:
        """``collect`` for one-shot commands: no event loop, and the /proc scan in a thread beside the command."""
        run = self._blocking_runner
        if run is None or any(command.steps is not None for command in self._commands):
            import asyncio  # the platforms with several commands run them concurrently

            return asyncio.run(self.collect())
        started, clock = time.time(), time.perf_counter()
        errors: list[NettopError] = []
        scan: _InThread[SocketOwners] | None = None
        for index, command in enumerate(self._commands):
            if command.owners_from_proc and scan is None:
                scan = _InThread(scan_socket_owners, self._proc_root)  # one scan serves a fallback command too
            try:
                text = run(command.argv, self._timeout)
            except CommandError as error:
                errors.append(error)
                continue
            owners = scan.result() if command.owners_from_proc and scan is not None else None
            result, notes = self._finish(command, text, owners)
            return self._snapshot(index, command, result, notes, errors, started, clock)
        raise SourceUnavailable(errors)

    def _snapshot(
        self,
        index: int,
        command: ListingCommand,
        result: ParseResult,
        notes: tuple[str, ...],
        errors: list[NettopError],
        started: float,
        clock: float,
    ) -> Snapshot:
        if index:
            # Stick to the command that worked, so a missing ss is not retried every tick.
            self._commands = self._commands[index:]
            notes = (f"fell back to {command.name}: {errors[-1]}", *notes)
        self.name = command.name
        self._collected = True
        return Snapshot(result.records, started, time.perf_counter() - clock, command.name, result.issues, notes)

    async def _collect_with(self, command: ListingCommand) -> tuple[ParseResult, tuple[str, ...]]:
        import asyncio  # here, not at the top: see ``runner``

        if command.steps is not None:
            result, notes = await command.steps(self._runner, self._timeout)
            if self._complete_owners:
                records = await asyncio.to_thread(self._enricher.complete, result.records)
                result = ParseResult(records, result.issues, result.format)
            return result, notes
        listing = self._runner(command.argv, self._timeout)
        if not command.owners_from_proc:
            return await asyncio.to_thread(self._finish, command, await listing, None)
        live_inodes = command.live_inodes
        if live_inodes is None or not self._collected:
            # A first collection may be the only one (`nettop list`): a plain full scan, beside the command, so
            # that it adds no wall time. netstat gets this every time: its inodes are not cheap to pick out.
            text, owners = await asyncio.gather(listing, asyncio.to_thread(scan_socket_owners, self._proc_root))
            return await asyncio.to_thread(self._finish, command, text, owners)
        if not self._scanner.primed:
            # Collected again, so a live view: prime the incremental scanner, its first scan also beside the command.
            text, owners = await asyncio.gather(listing, asyncio.to_thread(self._scanner.scan))
            return await asyncio.to_thread(self._prime_and_finish, command, text, owners, live_inodes)
        # From then on, the listing first: its inodes tell the scanner which cached fds it can trust.
        return await asyncio.to_thread(self._rescan_and_finish, command, await listing, live_inodes)

    def _rescan_and_finish(
        self, command: ListingCommand, text: str, live_inodes: Callable[[str], set[int]]
    ) -> tuple[ParseResult, tuple[str, ...]]:
        return self._finish(command, text, self._scanner.scan(live_inodes(text)))

    def _prime_and_finish(
        self, command: ListingCommand, text: str, owners: SocketOwners, live_inodes: Callable[[str], set[int]]
    ) -> tuple[ParseResult, tuple[str, ...]]:
        # The scanner's first scan ran blind, beside the command: tell it what the listing held.
        self._scanner.note_listing(live_inodes(text))
        return self._finish(command, text, owners)

    def _finish(
        self, command: ListingCommand, text: str, owners: SocketOwners | None
    ) -> tuple[ParseResult, tuple[str, ...]]:
        """Parse, attaching and enriching owners as it goes: CPU work, run in a thread off the event loop."""
        uid = os.geteuid()
        root = uid == 0
        resolver = self._enricher.resolver(owners.pids_by_inode, root, uid) if owners is not None else None
        if self._collected and command.parse_again is not None:
            # A live view: most lines repeat from the last tick (the memo's lines are ss's, the only user).
            result = command.parse_again(text, resolver, self._memo)
        else:
            result = command.parse(text, resolver)
        notes: tuple[str, ...] = ()
        if not root and (owners is None or owners.denied):
            notes = ("not root: sockets of other users' processes are shown without owners",)
        return result, notes


T = TypeVar("T")


class _InThread(Generic[T]):
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

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


class TextSource:
    """Parses captured text (``--from-file``): no command, and no local enrichment, since the pids
    in a capture may belong to another machine."""

    def __init__(self, text: str, name: str = "file", format: str = "auto") -> None:
        self._text = text
        self._format = format
        self.name = name

    async def collect(self) -> Snapshot:
        import asyncio

        return await asyncio.to_thread(self.collect_blocking)

    def collect_blocking(self) -> Snapshot:
        started, clock = time.time(), time.perf_counter()
        result = parse_text(self._text, self._format)
        return Snapshot(
            result.records, started, time.perf_counter() - clock, f"{self.name} ({result.format})", result.issues
        )


def _steps_command(
    name: str, argv: tuple[str, ...], steps: Callable[[Runner, float], Awaitable[Steps]]
) -> ListingCommand:
    def unused(text: str, owners: OwnerResolver | None) -> ParseResult:
        raise NotImplementedError("a multi-step command parses in its steps")

    return ListingCommand(name, argv, unused, steps=steps)


#: Per OS (``sys.platform`` prefix): ``--source`` names → commands, in the order ``auto`` tries them.
PLATFORM_COMMANDS: dict[str, dict[str, ListingCommand]] = {
    "linux": LINUX_COMMANDS,
    "darwin": {
        "netstat": _steps_command("netstat", platforms.MACOS_NETSTAT_TCP, platforms.macos_netstat),
        "lsof": _steps_command("lsof", platforms.LSOF, platforms.macos_lsof),
    },
    "win32": {"netstat": _steps_command("netstat", platforms.WINDOWS_NETSTAT, platforms.windows_netstat)},
    "freebsd": {
        "sockstat": _steps_command("sockstat", platforms.SOCKSTAT, platforms.freebsd_sockstat),
        "netstat": _steps_command("netstat", platforms.FREEBSD_NETSTAT, platforms.freebsd_netstat),
    },
}


def platform_commands(platform: str) -> dict[str, ListingCommand]:
    for prefix, commands in PLATFORM_COMMANDS.items():
        if platform.startswith(prefix):
            return commands
    known = ", ".join(PLATFORM_COMMANDS)
    raise NettopError(f"live collection on {platform!r} is not supported (supported: {known}); use --from-file")


def platform_source(
    choice: str = "auto",
    runner: Runner = run_command,
    timeout: float = DEFAULT_TIMEOUT,
    platform: str = sys.platform,
) -> CommandSource:
    """The live source for a platform (this one by default); ``choice`` is ``auto`` or one command's name.

    For another platform than the running one (tests, with a scripted runner) the pids in the listing are
    not this machine's, so psutil is not asked about them.
    """
    commands = platform_commands(platform)
    if choice == "auto":
        chosen = list(commands.values())
    elif choice in commands:
        chosen = [commands[choice]]
    else:
        raise NettopError(f"unknown source {choice!r} on {platform}: choose auto, {', '.join(commands)}")
    here = platform == sys.platform
    blocking = run_command_blocking if runner is run_command and here else None
    return CommandSource(chosen, runner, timeout, complete_owners=here, blocking_runner=blocking)
