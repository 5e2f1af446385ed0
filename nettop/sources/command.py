"""The shared command source: a platform's listing commands in fallback order, with retry, and the flow of one
collection: run → parse (``nettop.formats``) → join owners (``nettop.owners``) → enrich → ``Snapshot``.

On Linux the owners come from a ``/proc`` scan run beside the command and joined by inode after the parse (see
``sources.linux``); a source collected again and again reads through the command's live reader and rescans only
what may have changed. The runner is injectable so tests can script it. One-shot commands take
``collect_blocking``: the same collection without an event loop (see ``runner`` for why).

In ``auto`` mode a command that fails is left for the next one, and tried again later: after ``RETRY_FIRST``
seconds, then twice as long after each failure up to ``RETRY_MAX``, a missing command only every
``RETRY_MISSING`` seconds. A success resets its wait; until then every snapshot's notes say which command
stands in, and why.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from nettop.errors import CommandError, CommandNotFound, NettopError, SourceUnavailable
from nettop.gcpause import paused_gc
from nettop.model import Connection, OwnerResolver, ParseResult, RecordDelta, Snapshot
from nettop.owners.enrich import Enricher
from nettop.owners.join import join_by_inode
from nettop.owners.procfs import IncrementalSocketScanner, SocketOwners, scan_socket_owners
from nettop.runner import DEFAULT_TIMEOUT, BlockingRunner, Runner, run_command
from nettop.sources.oneshot import EarlyListing, InThread, ScanInChild

#: A multi-command listing's parse and its notes for the user.
Steps = tuple[ParseResult, tuple[str, ...]]
#: A multi-command listing: runs its commands through the runner, returns the parse and notes.
StepsFunction = Callable[[Runner, float], Awaitable[Steps]]
#: A collection's parse, its notes for the user, and what changed since the last one (when known).
Collected = tuple[ParseResult, tuple[str, ...], RecordDelta | None]

#: Seconds before a command that failed is tried again; doubled after each failure up to ``RETRY_MAX``.
RETRY_FIRST = 10.0
RETRY_MAX = 320.0
#: A missing command may be installed while a view runs, but rarely is.
RETRY_MISSING = 600.0


#: For each live socket inode: its owners and why they are what they are (see ``OwnerResolver``); and the
#: inodes whose holders changed since the last call (None: any may have).
LiveOwners = Callable[[set[int]], tuple[OwnerResolver, Collection[int] | None]]
#: The records that went and the records that came, a changed line being in both.
LineChanges = tuple[list[Connection], list[Connection]]


class LiveReader(Protocol):
    """A command's text read again and again with work in proportion to what changed (``linux.LiveListing``)."""

    def read(self, text: str, owners: LiveOwners) -> tuple[ParseResult, LineChanges | None]: ...


@dataclass(frozen=True, slots=True)
class ListingCommand:
    """One way to list sockets: the command, the parser for its text, and whether owners come from /proc."""

    name: str
    argv: tuple[str, ...]
    parse: Callable[[str], ParseResult]
    owners_from_proc: bool = False
    #: For a source collected again and again: a reader that parses only the lines that changed, and says
    #: what did, so that /proc is rescanned incrementally. None: every collection reads the whole text and
    #: scans all of /proc beside the command.
    live_reader: Callable[[], LiveReader] | None = None
    #: Platforms that need more than one command (macOS tcp+udp+lsof, Windows netstat+tasklist): runs them
    #: all through the runner and parses; ``argv`` is then only the main command, for messages.
    steps: StepsFunction | None = None


class CommandSource:
    """Runs the platform's listing commands in fallback order: the first that works, and now and then the ones
    before it that failed, to return to them when they work again (see the module's docstring)."""

    def __init__(
        self,
        commands: Sequence[ListingCommand],
        runner: Runner = run_command,
        timeout: float = DEFAULT_TIMEOUT,
        enricher: Enricher | None = None,
        proc_root: str = "/proc",
        complete_owners: bool = True,
        blocking_runner: BlockingRunner | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not commands:
            raise ValueError("a command source needs at least one command")
        self._commands = tuple(commands)
        self._runner = runner
        #: The same commands without an event loop, for ``collect_blocking``; None: it runs ``collect``.
        self._blocking_runner = blocking_runner
        self._timeout = timeout
        self._enricher = enricher or Enricher()
        self._proc_root = proc_root
        #: Ask psutil about the pids a multi-step listing gives; off when the listing is not of this machine.
        self._complete_owners = complete_owners
        self._scanner = IncrementalSocketScanner(proc_root)
        #: The live reader of the command in use, and when the snapshot it last read was taken.
        self._reader: tuple[str, LiveReader] | None = None
        self._last_taken: float | None = None
        self._clock = clock
        #: By command name, for the commands whose last run failed: its error, when it may be tried again, and
        #: the wait after its next failure.
        self._failed: dict[str, tuple[NettopError, float, float]] = {}
        #: The command of the last snapshot: a live reader and the scanner's cache hold only its state.
        self._in_use: str | None = None
        self.name = self._commands[0].name

    async def collect(self) -> Snapshot:
        started, clock = time.time(), time.perf_counter()
        errors: list[NettopError] = []
        for command in self._to_try():
            if command.live_reader is not None and self._in_use not in (None, command.name):
                # Back to it after another command: what its reader and the scanner hold is stale.
                self._reader, self._scanner = None, IncrementalSocketScanner(self._proc_root)
            try:
                collected = await self._collect_with(command)
            except CommandError as error:
                errors.append(self._note_failure(command, error))
                continue
            return self._snapshot(command, collected, started, clock)
        raise SourceUnavailable(errors)

    def _to_try(self) -> list[ListingCommand]:
        """The commands to try, in order: first those that do not wait to be tried again after a failure, then
        those that do, for when all the others fail too."""
        now = self._clock()
        waiting = [c for c in self._commands if c.name in self._failed and self._failed[c.name][1] > now]
        return [c for c in self._commands if c not in waiting] + waiting

    def _note_failure(self, command: ListingCommand, error: NettopError) -> NettopError:
        """Remember that ``command`` failed, and when to try it again."""
        _, _, wait = self._failed.get(command.name, (error, 0.0, RETRY_FIRST))
        if isinstance(error, CommandNotFound):
            wait = max(wait, RETRY_MISSING)
        self._failed[command.name] = (error, self._clock() + wait, min(wait * 2, RETRY_MAX))
        return error

    def collect_blocking(self, early: EarlyListing | None = None) -> Snapshot:
        """``collect`` for one-shot commands: no event loop, and the /proc scan beside the command (in the child
        process of an early start, else in a thread).

        ``early``: the first command and the scan, already under way (``nettop list`` starts them before its
        imports); taken if that is what this source would run first, else the command is killed.
        """
        run = self._blocking_runner
        blocking = run is not None and all(command.steps is None for command in self._commands)
        if early is not None and not (
            blocking and early.run.argv == self._commands[0].argv and early.proc_root == self._proc_root
        ):
            early.cancel()
            early = None
        if run is None or not blocking:
            import asyncio  # the platforms with several commands run them concurrently

            return asyncio.run(self.collect())
        started_at, clock = time.time(), time.perf_counter()
        errors: list[NettopError] = []
        scan = early.owners if early is not None else None
        for command in self._to_try():
            if command.owners_from_proc and scan is None:
                scan = InThread(scan_socket_owners, self._proc_root)  # one scan serves a fallback command too
            try:
                if early is not None and command is self._commands[0]:
                    text = early.run.output(self._timeout)
                else:
                    text = run(command.argv, self._timeout)
            except CommandError as error:
                errors.append(self._note_failure(command, error))
                continue
            if isinstance(scan, ScanInChild) and command.owners_from_proc and not scan.done():
                # The scan is still under way, in a process of its own: parse meanwhile, attach its owners after.
                collected = self._with_owners(_parsed(command, text), scan.result())
            else:
                owners = scan.result() if command.owners_from_proc and scan is not None else None
                collected = self._finish(command, text, owners)
            return self._snapshot(command, collected, started_at, clock)
        raise SourceUnavailable(errors)

    def _snapshot(self, command: ListingCommand, collected: Collected, started: float, clock: float) -> Snapshot:
        result, notes, delta = collected
        self._failed.pop(command.name, None)
        # The commands before it failed, now or before (and wait to be tried again): say which stands in, and why.
        preferred = self._commands[: self._commands.index(command)]
        reasons = [self._failed[c.name][0] for c in preferred if c.name in self._failed]
        if reasons:
            notes = (f"fell back to {command.name}: {reasons[-1]}", *notes)
        self.name = self._in_use = command.name
        self._last_taken = started
        duration = time.perf_counter() - clock
        return Snapshot(result.records, started, duration, command.name, result.issues, notes, delta)

    async def _collect_with(self, command: ListingCommand) -> Collected:
        import asyncio  # here, not at the top: see ``runner``

        if command.steps is not None:
            result, notes = await command.steps(self._runner, self._timeout)
            if self._complete_owners:
                records = await asyncio.to_thread(self._enricher.complete, result.records)
                result = ParseResult(records, result.issues, result.format)
            return result, notes, None
        listing = self._runner(command.argv, self._timeout)
        if not command.owners_from_proc:
            return await asyncio.to_thread(self._finish, command, await listing, None)
        if command.live_reader is None:
            # netstat: its whole text each time, and all of /proc beside it, so that the scan adds no wall time.
            text, owners = await asyncio.gather(listing, asyncio.to_thread(scan_socket_owners, self._proc_root))
            return await asyncio.to_thread(self._finish, command, text, owners)
        if not self._scanner.primed:
            # The first scan reads everything anyway: beside the command, like netstat's. The records it gives
            # are the live reader's from the start, so that a view holds one copy of each, not two.
            text, owners = await asyncio.gather(listing, asyncio.to_thread(self._scanner.scan))
            return await asyncio.to_thread(self._read_live, command, text, owners)
        # From then on, the listing first: its inodes tell the scanner which cached fds it can trust.
        return await asyncio.to_thread(self._read_live, command, await listing, None)

    def _read_live(self, command: ListingCommand, text: str, primed: SocketOwners | None) -> Collected:
        """Read a live view's tick: only the lines that changed, then /proc for only the fds that may have."""
        assert command.live_reader is not None
        if self._reader is None or self._reader[0] != command.name:
            self._reader = (command.name, command.live_reader())
        uid = os.geteuid()
        scanned: list[SocketOwners] = []

        def owners_of(live: set[int]) -> tuple[OwnerResolver, Collection[int] | None]:
            if primed is not None:  # the scan ran blind, beside the command: tell it what the listing held
                self._scanner.note_listing(live)
                owners = primed
            else:
                owners = self._scanner.scan(live)
            scanned.append(owners)
            return self._resolver(owners, uid), owners.changed

        with paused_gc():
            result, changes = self._reader[1].read(text, owners_of)
        delta = None
        if changes is not None and self._last_taken is not None:
            delta = RecordDelta(self._last_taken, tuple(changes[0]), tuple(changes[1]))
        return result, _owner_notes(scanned[0] if scanned else None, uid), delta

    def _finish(self, command: ListingCommand, text: str, owners: SocketOwners | None) -> Collected:
        """Parse, then join and enrich the owners: CPU work, run in a thread off the event loop."""
        parsed = _parsed(command, text)
        if owners is None:
            return parsed, _owner_notes(None, os.geteuid()), None
        return self._with_owners(parsed, owners)

    def _resolver(self, owners: SocketOwners, uid: int) -> OwnerResolver:
        return self._enricher.resolver(owners.pids_by_inode, uid == 0, uid, owners.hidden_uids)

    def _with_owners(self, parsed: ParseResult, owners: SocketOwners) -> Collected:
        """A parse made without owners, with the scan's attached."""
        uid = os.geteuid()
        with paused_gc():  # a new record a socket: see _parsed
            records = join_by_inode(parsed.records, self._resolver(owners, uid))
        return ParseResult(records, parsed.issues, parsed.format), _owner_notes(owners, uid), None


def _parsed(command: ListingCommand, text: str) -> ParseResult:
    """``command``'s parse of ``text``, with the cycle collector paused (see ``gcpause``).

    A parse makes a record a socket and no cycles; with the collector on, its young-generation passes re-walk
    them: ss's parse of 20,000 lines takes 20,200 instructions a line with the collector on, 17,300 paused
    (callgrind, one-shot process), so the pause stays, here in the source that runs the formats rather than
    in each format.
    """
    with paused_gc():
        return command.parse(text)


def _owner_notes(owners: SocketOwners | None, uid: int) -> tuple[str, ...]:
    if uid != 0 and (owners is None or owners.denied):
        return ("not root: sockets of other users' processes are shown without owners",)
    if owners is not None and owners.denied:
        if owners.denied == 1:
            return ("1 process hides its fds even from root: a socket it holds is shown without owners",)
        return (f"{owners.denied} processes hide their fds even from root: their sockets are shown without owners",)
    return ()


def steps_command(name: str, argv: tuple[str, ...], steps: StepsFunction) -> ListingCommand:
    """A listing of several commands (macOS, Windows, FreeBSD), run and parsed by ``steps``."""

    def unused(text: str) -> ParseResult:
        raise NotImplementedError("a multi-step command parses in its steps")

    return ListingCommand(name, argv, unused, steps=steps)


def joined(results: list[ParseResult]) -> ParseResult:
    """Several listings (macOS's tcp and udp tables) as one; issues keep their own line numbers."""
    records: list[Connection] = []
    for result in results:
        records += result.records
    return ParseResult(tuple(records), tuple(i for r in results for i in r.issues), results[0].format)
