"""The shared command source: a platform's listing commands in fallback order, with retry, each collected by a
collector of its own (run → parse → join owners → enrich), and the ``Snapshot`` made of what it collected.

What a command needs beyond its argv lives with the platform: Linux's ``/proc`` owners, its live reader and the
incremental scan in ``sources.linux``; macOS's, Windows' and FreeBSD's several commands in their ``steps``
function (``steps_command``). The runner is injectable so tests can script it. One-shot commands take
``collect_blocking``: the same collection without an event loop (see ``runner`` for why), where every command
of the source has a blocking twin.

In ``auto`` mode a command that fails is left for the next one, and tried again later: after ``RETRY_FIRST``
seconds, then twice as long after each failure up to ``RETRY_MAX``, a missing command only every
``RETRY_MISSING`` seconds. A success resets its wait; until then every snapshot's notes say which command
stands in, and why.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from nettop.errors import CommandError, CommandNotFound, NettopError, SourceUnavailable
from nettop.model import Connection, ParseResult, RecordDelta, Snapshot
from nettop.owners.enrich import Enricher
from nettop.runner import DEFAULT_TIMEOUT, BlockingRunner, Runner, run_command
from nettop.sources.oneshot import EarlyListing, Underway
from nettop.text import skipped_text

#: A multi-command listing's parse and its notes for the user.
Steps = tuple[ParseResult, tuple[str, ...]]
#: A multi-command listing: runs its commands through the runner, returns the parse and notes.
StepsFunction = Callable[[Runner, float], Awaitable[Steps]]
#: The records that went and the records that came, a changed line being in both.
LineChanges = tuple[list[Connection], list[Connection]]
#: A collection's parse, its notes for the user, and what changed since the same collector's last one (when
#: known; the source dates it).
Collected = tuple[ParseResult, tuple[str, ...], LineChanges | None]

#: Seconds before a command that failed is tried again; doubled after each failure up to ``RETRY_MAX``.
RETRY_FIRST = 10.0
RETRY_MAX = 320.0
#: A missing command may be installed while a view runs, but rarely is.
RETRY_MISSING = 600.0


@dataclass(slots=True)
class Wants:
    """What a source's consumer asks for beyond the sockets; the viewer changes it while it runs (a rate column
    shown or hidden). A collector that cannot give it ignores it."""

    #: Each TCP connection's ``Traffic``: counts and round-trip time, and rates from one collection to the next.
    traffic: bool = False
    #: For a one-shot listing with traffic: the seconds over which its rates are measured, the counts being read
    #: once more before the listing (0: no rates).
    rate_window: float = 0.0
    #: The sockets of every network namespace, each record naming its own (netlink only; needs root).
    all_netns: bool = False


@dataclass(frozen=True, slots=True)
class Setting:
    """What a source's collectors share: the owner enricher, where /proc is, whether psutil may be asked
    about the pids a listing gives (not when the listing is not of this machine), and what the consumer wants."""

    enricher: Enricher
    proc_root: str = "/proc"
    complete_owners: bool = True
    wants: Wants = field(default_factory=Wants)


class Collector(Protocol):
    """One command's collection, with whatever state it keeps between collections (a live reader, a scanner).

    A source makes one per command, and a new one when it comes back to a command after another stood in."""

    #: Whether ``collect_blocking`` works (else a one-shot collection runs ``collect`` in an event loop).
    blocking: bool

    async def collect(self, runner: Runner, timeout: float) -> Collected: ...

    def collect_blocking(self, run: BlockingRunner, timeout: float, underway: Underway) -> Collected: ...


@dataclass(frozen=True, slots=True)
class ListingCommand:
    """One way to list sockets: its name, its (main) command for messages and the early start, and how a source
    makes its collector."""

    name: str
    argv: tuple[str, ...]
    collector: Callable[[Setting], Collector]
    #: False for a source that reads this machine's kernel itself (netlink), not through the runner: a source of
    #: scripted commands, or of another platform's, leaves it out.
    runs_command: bool = True


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
        wants: Wants | None = None,
    ) -> None:
        if not commands:
            raise ValueError("a command source needs at least one command")
        self._commands = tuple(commands)
        self._runner = runner
        #: The same commands without an event loop, for ``collect_blocking``; None: it runs ``collect``.
        self._blocking_runner = blocking_runner
        self._timeout = timeout
        #: What the consumer asks for beyond the sockets (traffic): read by the collectors at each collection.
        self.wants = wants or Wants()
        self._setting = Setting(enricher or Enricher(proc_root=proc_root), proc_root, complete_owners, self.wants)
        self._collectors = {command.name: command.collector(self._setting) for command in self._commands}
        self._last_taken: float | None = None
        self._clock = clock
        #: By command name, for the commands whose last run failed: its error, when it may be tried again, and
        #: the wait after its next failure.
        self._failed: dict[str, tuple[NettopError, float, float]] = {}
        #: The command of the last snapshot: only its collector's state is current.
        self._in_use: str | None = None
        self.name = self._commands[0].name

    def _collector(self, command: ListingCommand) -> Collector:
        if self._in_use not in (None, command.name):
            # Back to it after another command: what its collector holds (a live reader, a scan) is stale.
            self._collectors[command.name] = command.collector(self._setting)
        return self._collectors[command.name]

    async def collect(self) -> Snapshot:
        started, clock = time.time(), time.perf_counter()
        errors: list[NettopError] = []
        for command in self._to_try():
            try:
                collected = await self._collector(command).collect(self._runner, self._timeout)
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
        """``collect`` for one-shot commands: no event loop (each command's blocking twin).

        ``early``: the first command and the /proc scan, already under way (``nettop list`` starts them before
        its imports); taken if that is what this source would run first, else the command is killed.
        """
        run = self._blocking_runner
        blocking = run is not None and all(collector.blocking for collector in self._collectors.values())
        if early is not None and not (
            blocking
            and (early.run is None or early.run.argv == self._commands[0].argv)
            and early.proc_root == self._setting.proc_root
        ):
            early.cancel()
            early = None
        if run is None or not blocking:
            import asyncio  # the platforms with several commands run them concurrently

            return asyncio.run(self.collect())
        started_at, clock = time.time(), time.perf_counter()
        errors: list[NettopError] = []
        underway = Underway(early.run, early.owners, early.dump) if early is not None else Underway()
        for command in self._to_try():
            try:
                collected = self._collector(command).collect_blocking(run, self._timeout, underway)
            except CommandError as error:
                errors.append(self._note_failure(command, error))
                continue
            return self._snapshot(command, collected, started_at, clock)
        raise SourceUnavailable(errors)

    def _snapshot(self, command: ListingCommand, collected: Collected, started: float, clock: float) -> Snapshot:
        result, notes, changes = collected
        self._failed.pop(command.name, None)
        # The commands before it failed, now or before (and wait to be tried again): say which stands in, and why.
        preferred = self._commands[: self._commands.index(command)]
        reasons = [self._failed[c.name][0] for c in preferred if c.name in self._failed]
        if reasons:
            notes = (f"fell back to {command.name}: {reasons[-1]}", *notes)
        if result.skipped:
            notes = (*notes, skipped_text(result.skipped))
        delta = None
        if changes is not None and self._last_taken is not None:
            delta = RecordDelta(self._last_taken, tuple(changes[0]), tuple(changes[1]))
        self.name = self._in_use = command.name
        self._last_taken = started
        duration = time.perf_counter() - clock
        return Snapshot(result.records, started, duration, command.name, result.issues, notes, delta)


class StepsCollector:
    """A listing of several commands (macOS, Windows, FreeBSD), run and parsed by its steps function; psutil
    completes the owners it gives when the listing is of this machine."""

    blocking = False

    def __init__(self, steps: StepsFunction, setting: Setting) -> None:
        self._steps, self._setting = steps, setting

    async def collect(self, runner: Runner, timeout: float) -> Collected:
        import asyncio  # here, not at the top: see ``runner``

        result, notes = await self._steps(runner, timeout)
        if self._setting.complete_owners:
            records = await asyncio.to_thread(self._setting.enricher.complete, result.records)
            result = ParseResult(records, result.issues, result.format)
        return result, notes, None

    def collect_blocking(self, run: BlockingRunner, timeout: float, underway: Underway) -> Collected:
        raise NotImplementedError("a multi-step listing runs its commands concurrently, in an event loop")


def steps_command(name: str, argv: tuple[str, ...], steps: StepsFunction) -> ListingCommand:
    """A listing of several commands (macOS, Windows, FreeBSD), run and parsed by ``steps``."""
    return ListingCommand(name, argv, lambda setting: StepsCollector(steps, setting))


def joined(results: list[ParseResult]) -> ParseResult:
    """Several listings (macOS's tcp and udp tables) as one; issues keep their own line numbers."""
    records: list[Connection] = []
    for result in results:
        records += result.records
    return ParseResult(tuple(records), tuple(i for r in results for i in r.issues), results[0].format)
