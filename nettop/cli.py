"""The ``nettop`` command line: argparse to the right command. Exit 0 ok, 1 collection failed, 2 bad usage.

Textual is imported only when the viewer starts, and asyncio only by the commands that run over time (the
viewer, ``watch``, ``check``), so ``nettop list`` starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from nettop import __version__, shutdown, writers
from nettop.errors import CommandError, NettopError
from nettop.formats import registry
from nettop.gcpause import tune_for_long_runs
from nettop.runner import DEFAULT_TIMEOUT
from nettop.sources.oneshot import EarlyListing

if TYPE_CHECKING:
    from nettop.config import Loaded
    from nettop.model import Snapshot, Source
    from nettop.policy.rules import Policy
    from nettop.query import Flag, Query, Term
    from nettop.sources import CommandSource, TextSource
    from nettop.sources.destroyed import DestroyListener
    from nettop.sources.hosts import HostsSource
    from nettop.sources.remote import RemoteSource

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")
S = TypeVar("S")
#: How many unparsed lines to print before summing up the rest.
SHOWN_ISSUES = 5
#: The viewer's refresh interval, as its +/- keys allow; ``watch`` may go slower.
VIEWER_INTERVAL = (0.5, 60.0)
WATCH_INTERVAL = (0.1, 86_400.0)
MAX_TIMEOUT = 3_600.0
#: How long ``nettop list --resolve`` waits for host names: what is not found by then stays a number.
LIST_RESOLVE_SECONDS = 2.0


class OutputError(NettopError):
    """What nettop had to say could not be written (standard output closed, a full disk, a reader gone)."""

    def __init__(self, reason: str, broken_pipe: bool = False) -> None:
        self.broken_pipe = broken_pipe
        super().__init__(f"cannot write the output: {reason}")


def write_out(data: str | bytes) -> None:
    """Write to standard output and flush now, so that a failure is an ``OutputError`` here, not a traceback at
    exit's flush."""
    out = sys.stdout
    if out is None:  # started with it closed (`nettop list >&-`)
        raise OutputError("standard output is closed")
    try:
        if isinstance(data, bytes):
            out.flush()
            out.buffer.write(data)
        else:
            out.write(data)
        out.flush()
    except BrokenPipeError:
        raise OutputError("the reader went away (broken pipe)", broken_pipe=True) from None
    except OSError as error:
        raise OutputError(error.strerror or type(error).__name__) from None
    except ValueError:  # closed by someone else meanwhile
        raise OutputError("standard output is closed") from None


def say(message: str) -> None:
    """A message for the user on standard error, made safe to print (it may quote paths, names, stderr)."""
    from nettop.text import safe

    err = sys.stderr
    if err is None:
        return
    with contextlib.suppress(OSError, ValueError):
        err.write(safe(message) + "\n")
        err.flush()


def _seconds_between(low: float, high: float, low_included: bool = True) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds in [low, high] (or (low, high]). nan, inf and 1e-9 are
    numbers to float() but no interval anyone means: a watch would busy-loop or never speak."""

    def seconds(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        above = value >= low if low_included else value > low
        if not (above and value <= high):  # also false for nan
            bound = "from" if low_included else "more than"
            raise argparse.ArgumentTypeError(f"{text!r}: give {bound} {low:g} to {high:g} seconds")
        return value

    return seconds


def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        choices=["auto", *registry.source_names()],
        default="auto",
        help="where sockets are read from (default auto: on Linux the kernel over netlink, then ss, then netstat)",
    )
    parser.add_argument(
        "--from-file",
        metavar="PATH",
        help="parse captured ss/netstat/... output, or nettop's own JSON, from PATH ('-' for stdin) instead of "
        "running a command",
    )
    parser.add_argument(
        "--input-format",
        choices=["auto", *registry.BY_NAME],
        default="auto",
        metavar="NAME",
        help="with --from-file: the format of the capture, when detection cannot tell (default auto; one of "
        f"{', '.join(registry.BY_NAME)})",
    )
    parser.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="[USER@]HOST",
        help="read the sockets of HOST over the system's ssh (its config, agent and known_hosts apply; nothing is "
        "installed there)",
    )
    parser.add_argument("--ssh-config", metavar="FILE", help="with --host: the ssh config file to use (ssh -F)")
    parser.add_argument(
        "--remote-reader",
        choices=["auto", "python", "command", "ss"],
        default="auto",
        help="with --host: how a host is read: nettop's collector sent to its python3 (Linux), else the host's own "
        "listing command: ss, or macOS's netstat and FreeBSD's sockstat (auto); or only one (ss is command)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds_between(0, MAX_TIMEOUT, low_included=False),
        default=DEFAULT_TIMEOUT,
        help=f"seconds before a hung command is killed (default {DEFAULT_TIMEOUT:g}, at most {MAX_TIMEOUT:g})",
    )


#: ``nettop list --rates``: the seconds between the two reads of the counts that its rates are measured over.
RATE_WINDOW = 1.0


def add_rates_option(parser: argparse.ArgumentParser, when: str) -> None:
    parser.add_argument(
        "--rates",
        action="store_true",
        help="each TCP connection's traffic from the kernel (Linux, netlink source): bytes in and out, rates and "
        f"round-trip time, in JSON's traffic field{when}",
    )


def add_netns_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all-netns",
        action="store_true",
        help="the sockets of every network namespace, each named (its ip-netns or container name), not only this "
        "one's (Linux, netlink source, as root)",
    )


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """One flag per term of the filter language that has one (``nettop.query.TERMS``), checked as the viewer
    checks the term: the same values pass, and a wrong one gets the same message (and exit 2)."""
    from nettop.query import flagged_terms

    for term, flag in flagged_terms():
        if flag.switches:
            group = parser.add_mutually_exclusive_group() if len(flag.switches) > 1 else parser
            for option, value, help in flag.switches:
                group.add_argument(option, dest=flag.dest, action="store_const", const=value, help=help)
            continue
        parser.add_argument(
            f"--{flag.dest}",
            type=_term_value(term, flag),
            action="append" if flag.repeat else "store",
            default=[] if flag.repeat else None,
            metavar=flag.metavar or flag.dest.upper(),
            help=flag.help,
        )


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """The viewer's config file (``nettop.config``). The viewer's --interval and --filter then default to None:
    a flag given wins over the file, and only a given one."""
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--config",
        metavar="PATH",
        help="read and save the viewer's settings in PATH (default $XDG_CONFIG_HOME/nettop/config.toml, that is "
        "~/.config/nettop/config.toml)",
    )
    chosen.add_argument(
        "--no-config", action="store_true", help="start with the default settings: read no config file, save none"
    )
    parser.set_defaults(interval=None, filter=None)


def _term_value(term: Term, flag: Flag) -> Callable[[str], str]:
    """An argparse type: the flag's text, refused (exit 2) with the term's own message when the term refuses it."""

    def checked(text: str) -> str:
        try:
            term.read(flag.to_text(text))
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return text

    return checked


@dataclass(frozen=True, slots=True)
class Invocation:
    """What a subcommand's run function is given: its arguments, the parser (for usage errors) and the listing
    started early, if any (see ``start_listing``)."""

    args: argparse.Namespace
    parser: argparse.ArgumentParser
    started: EarlyListing | None = None


def _command(
    parser: argparse.ArgumentParser,
    run: Callable[[Invocation], int],
    *,
    one_shot: bool = False,
    error_exit: int = EXIT_FAILED,
    closed_pipe_ends: bool = False,
) -> None:
    """Declare what a (sub)command runs and how it ends: ``one_shot`` commands read, print and exit (the cycle
    collector is off for them); ``error_exit`` is the status when it cannot do its job (for ``check`` and
    ``diff`` 1 means "fails" and "different", so theirs is 2); a closed pipe ends a ``watch`` successfully."""
    parser.set_defaults(run=run, one_shot=one_shot, error_exit=error_exit, closed_pipe_ends=closed_pipe_ends)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nettop",
        description="A top-like viewer of network connections. Without a command, opens the live viewer.",
    )
    parser.add_argument("--version", action="version", version=f"nettop {__version__}")
    parser.add_argument(
        "--interval",
        type=_seconds_between(*VIEWER_INTERVAL),
        default=2.0,
        help="seconds between refreshes (default 2, from 0.5 to 60)",
    )
    parser.add_argument("--filter", default="", metavar="QUERY", help="start with this filter (see ? in the viewer)")
    parser.add_argument(
        "--policy",
        metavar="POLICY",
        help="mark rows that break this policy (see nettop check) and show what is missing",
    )
    parser.add_argument(
        "--resolve",
        action="store_true",
        help="start with peers' host names shown (reverse DNS, in the background; n toggles)",
    )
    add_source_options(parser)
    add_netns_option(parser)
    add_config_options(parser)
    _command(parser, run_viewer)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_list, _add_watch, _add_diff, _add_check, _add_policy, _add_exporter, _add_web):
        add(commands)
    return parser


#: What ``add_subparsers`` returns (argparse names its class privately).
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_list(commands: Subcommands) -> None:
    listing = commands.add_parser("list", help="print one snapshot of the sockets", description="Print one snapshot.")
    listing.add_argument("--format", choices=writers.names("records"), default="table", help="output format")
    add_rates_option(listing, f"; the rates are measured over {RATE_WINDOW:g} s before the listing")
    listing.add_argument(
        "--resolve",
        action="store_true",
        help=f"show peers' host names (reverse DNS; what is not found within {LIST_RESOLVE_SECONDS:g} s stays a "
        "number; JSON and CSV give them as remote_name)",
    )
    add_source_options(listing)
    add_netns_option(listing)
    add_filter_options(listing)
    _command(listing, run_list, one_shot=True)


def _add_watch(commands: Subcommands) -> None:
    watching = commands.add_parser(
        "watch",
        help="print connections as they open, close or change state",
        description="Print one line per event: open, close, change, or error (a failed collection). "
        "The first snapshot is the baseline. Ctrl-C or a closed pipe ends it.",
    )
    watching.add_argument("--format", choices=writers.names("events"), default="text", help="output format")
    watching.add_argument(
        "--interval",
        type=_seconds_between(*WATCH_INTERVAL),
        default=2.0,
        help="seconds between collections (default 2, from 0.1 to 86400)",
    )
    add_rates_option(watching, ", from one collection to the next")
    watching.add_argument(
        "--no-ends",
        dest="ends",
        action="store_false",
        help="leave out the end events: each TCP connection the kernel destroys, as it goes, with its final counts "
        "(Linux, netlink; on by default there)",
    )
    add_source_options(watching)
    add_netns_option(watching)
    add_filter_options(watching)
    _command(watching, run_watch, closed_pipe_ends=True)


def _add_diff(commands: Subcommands) -> None:
    diffing = commands.add_parser(
        "diff",
        help="compare two saved snapshots (nettop list --format json)",
        description="Exit 0 when equal, 1 when they differ, 2 on bad input.",
    )
    diffing.add_argument("before", help="the earlier snapshot (JSON file, '-' for stdin)")
    diffing.add_argument("after", help="the later snapshot (JSON file)")
    diffing.add_argument("--format", choices=writers.names("diff"), default="text", help="output format")
    _command(diffing, run_diff, one_shot=True, error_exit=EXIT_USAGE)


def _add_check(commands: Subcommands) -> None:
    checking = commands.add_parser(
        "check",
        help="check the listening ports against a policy (TOML)",
        description="Check the listeners against POLICY: expected listeners ([[listen]]), forbidden ports "
        "([[forbid]]) and limits ([listeners]). Exit 0 when every rule passes, 1 when one fails, 2 when the "
        "policy or the listing is broken.",
    )
    checking.add_argument("policy", help="the policy file (TOML); `nettop policy init` writes one")
    checking.add_argument(
        "--format", choices=writers.names("report"), default="text", help="report format (default text)"
    )
    checking.add_argument(
        "--wait",
        type=_seconds_between(0, 86_400.0),
        default=0.0,
        metavar="SECONDS",
        help="collect again every second until the policy passes or SECONDS have passed (a service starting)",
    )
    add_source_options(checking)
    _command(checking, run_check, error_exit=EXIT_USAGE)


def _add_policy(commands: Subcommands) -> None:
    policies = commands.add_parser("policy", help="make a policy for `nettop check`")
    policy_actions = policies.add_subparsers(dest="policy_action", metavar="ACTION", required=True)
    init = policy_actions.add_parser(
        "init",
        help="print a policy that the current listeners pass (nettop policy init > policy.toml)",
        description="Print, as TOML, a policy naming every current listener with its owner and bind scope.",
    )
    add_source_options(init)
    _command(init, run_policy_init, one_shot=True)


def _add_exporter(commands: Subcommands) -> None:
    exporting = commands.add_parser(
        "exporter",
        help="serve the sockets as Prometheus metrics (/metrics)",
        description="Serve Prometheus metrics of this machine's sockets over HTTP: sockets by protocol, family and "
        "state, one series per listener, connections per program, and with --policy each assertion's result. Each "
        "scrape collects afresh. There is no authentication: it listens on loopback unless told otherwise.",
    )
    exporting.add_argument(
        "--listen",
        default="127.0.0.1:9717",
        metavar="HOST:PORT",
        help="the address to serve on (default 127.0.0.1:9717; [::1]:9717 for IPv6)",
    )
    exporting.add_argument("--policy", metavar="POLICY", help="also export each assertion of this policy's check")
    add_source_options(exporting)
    add_netns_option(exporting)
    _command(exporting, run_exporter)


def _add_web(commands: Subcommands) -> None:
    serving = commands.add_parser(
        "web",
        help="serve the viewer to a browser (textual-serve)",
        description="Serve the live viewer over HTTP for a browser: each page gets a viewer of its own. There is "
        "no authentication: it listens on loopback unless told otherwise; kill and export are off unless "
        "--allow-actions. The viewer's own options follow --: nettop web -- --host web1 --filter port:443",
    )
    serving.add_argument("--listen", default="127.0.0.1:8711", metavar="HOST:PORT",
                         help="the address to serve on (default 127.0.0.1:8711)")  # fmt: skip
    serving.add_argument(
        "--allow-actions", action="store_true", help="let the page kill processes and export files (on this machine)"
    )
    serving.add_argument("viewer", nargs=argparse.REMAINDER, metavar="-- VIEWER OPTIONS",
                         help="options for each page's viewer, as nettop's own")  # fmt: skip
    _command(serving, run_web)


def query_from_args(args: argparse.Namespace) -> Query:
    """The query ``nettop list``/``watch``'s flags make (checked already, as argparse read them)."""
    from nettop.query import flagged_terms, query_from

    return query_from({flag.dest: getattr(args, flag.dest) for _, flag in flagged_terms()})


def source_from(args: argparse.Namespace) -> CommandSource | TextSource | RemoteSource | HostsSource:
    from nettop.sources import TextSource, platform_source

    if getattr(args, "host", None):
        from nettop.remote.ssh import SshOptions
        from nettop.sources.hosts import HostsSource
        from nettop.sources.remote import RemoteSource

        ssh = SshOptions(args.ssh_config)  # one directory of master connections for every host
        remotes = [RemoteSource(host, ssh, args.timeout, args.remote_reader) for host in args.host]
        return remotes[0] if len(remotes) == 1 else HostsSource(remotes)
    if args.from_file is None:
        source = platform_source(args.source, timeout=args.timeout)
        if getattr(args, "rates", False):
            source.wants.traffic = True
            source.wants.rate_window = RATE_WINDOW if args.command == "list" else 0.0
        source.wants.all_netns = getattr(args, "all_netns", False)
        return source
    from nettop.inputs import CAPTURE_LIMIT, read_input

    data = read_input(args.from_file, CAPTURE_LIMIT, "capture")
    name = "stdin" if args.from_file == "-" else args.from_file
    return TextSource(data.decode("utf-8", "replace"), name, args.input_format)


def report(snapshot: Snapshot) -> None:
    """Tell the user, on stderr, what the snapshot could not read and anything else worth knowing. The lines
    quoted are the input's: cut short and made safe to print."""
    from nettop.text import cut

    for note in snapshot.notes:
        say(f"nettop: {note}")
    if snapshot.issues:
        count = len(snapshot.issues)
        say(f"nettop: skipped {count} line{'s' if count > 1 else ''} that could not be parsed:")
        for issue in snapshot.issues[:SHOWN_ISSUES]:
            say(f"  line {issue.line_no}: {cut(issue.reason, 200)}: {cut(issue.text.strip(), 100)}")
        if count > SHOWN_ISSUES:
            say(f"  ... and {count - SHOWN_ISSUES} more")


#: The commands that list once and take the early start (see ``nettop.sources.oneshot``).
EARLY_COMMANDS = (("list",), ("policy", "init"))


def early_source(argv: Sequence[str]) -> str | None:
    """The Linux source a one-shot listing asks for (auto, ss, netlink), told from the words without the parser:
    building it imports the query language (15 ms), time in which the listing already runs. A guess that the
    parsed arguments confirm (``listing_source``); None where the words ask for no such listing, or where it
    cannot be sure (options before the command, say)."""
    if not sys.platform.startswith("linux"):
        return None
    command = next((c for c in EARLY_COMMANDS if tuple(argv[: len(c)]) == c), None)
    if command is None:
        return None
    rest = argv[len(command) :]
    source = "auto"
    for at, word in enumerate(rest):
        option, equals, value = word.partition("=")
        if option in ("-h", "--help", "--"):
            return None
        # argparse takes any unambiguous prefix of an option: --fr, --from, --so, --sour...
        if len(option) >= 4 and ("--from-file".startswith(option) or "--host".startswith(option)):
            return None
        if len(option) >= 4 and "--source".startswith(option):
            source = value if equals else (rest[at + 1] if at + 1 < len(rest) else "")
    return source if source in EARLY_SOURCES else None


#: The sources the early start knows: ``auto`` begins with netlink, whose dump is in-process, so only the /proc
#: scan starts early; ``ss`` starts the command too.
EARLY_SOURCES = ("auto", "netlink", "ss")


def listing_source(args: argparse.Namespace) -> str | None:
    """The Linux source the parsed arguments ask a one-shot listing of; None when they ask for none."""
    if (
        sys.platform.startswith("linux")
        and args.command in ("list", "policy")
        and args.from_file is None
        and not getattr(args, "host", None)
        and args.source in EARLY_SOURCES
    ):
        return str(args.source)
    return None


def start_listing(source: str) -> EarlyListing | None:
    """Start the /proc scan now, and ``ss`` too when it is the source, so that they run while the rest of nettop
    is imported (see ``nettop.sources.oneshot``). None when ``ss`` is missing: the source then falls back and
    says so."""
    argv = registry.command("linux", "ss").argv if source == "ss" else None
    try:
        return EarlyListing.start(argv)
    except CommandError:
        return None


def collect_once(args: argparse.Namespace, started: EarlyListing | None) -> Snapshot:
    from nettop.sources import CommandSource

    source = source_from(args)
    return source.collect_blocking(started) if isinstance(source, CommandSource) else source.collect_blocking()


def run_list(call: Invocation) -> int:
    args, started = call.args, call.started
    from nettop.query import filter_records

    write = writers.writer("records", args.format)  # imported while the listing runs (orjson for JSON)
    snapshot = collect_once(args, started)
    records = filter_records(snapshot.records, query_from_args(args))
    if args.format == "prometheus":  # the collection's own metrics come too, from the snapshot
        from nettop.metrics import Collection, exposition

        write_out(exposition(Collection(replace(snapshot, records=tuple(records)), hosts=tuple(args.host))))
        report(snapshot)
        return EXIT_FAILED if snapshot.stale else EXIT_OK  # as below: the metrics say which (nettop_host_up)
    if args.resolve:
        from nettop.resolve import resolve_once

        names = resolve_once((r.remote_ip for r in records), LIST_RESOLVE_SECONDS)
        write_out(write(records, names=names))
    else:
        write_out(write(records))
    report(snapshot)
    # Several hosts: the others' sockets are listed, and the status says that one failed (its note says why).
    return EXIT_FAILED if snapshot.stale else EXIT_OK


def run_watch(call: Invocation) -> int:
    args = call.args
    from nettop.events import watch

    query = query_from_args(args)
    line = writers.writer("events", args.format)

    def said_baseline(snapshot: Snapshot) -> None:
        taken = time.strftime("%H:%M:%S", time.localtime(snapshot.taken_at))
        say(f"nettop: watching from {taken} ({len(snapshot.records)} sockets); changes follow")

    async def stream() -> None:
        tune_for_long_runs()  # a watch runs for hours: see gcpause
        source = live(source_from(args))
        ended = destroy_listener(args, source)
        try:
            async for event in watch(source, args.interval, query.predicate, said_baseline, ended):
                # One event, one whole line, flushed now: a reader may be waiting for it.
                write_out(line(event))
        finally:
            if ended is not None:
                ended.close()
            close = getattr(source, "close", None)
            if close is not None:  # remote hosts: their sessions and master connections
                await close()

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a watch ends
        shutdown.run_async(stream())
    return EXIT_OK


def destroy_listener(args: argparse.Namespace, source: object) -> DestroyListener | None:
    """The kernel's destroyed TCP connections, for a live Linux watch of this namespace that reads it over
    netlink; None elsewhere, or when the kernel refuses (said once: the watch goes on polling)."""
    if not (
        getattr(args, "ends", False)
        and args.from_file is None
        and sys.platform.startswith("linux")
        and args.source in ("auto", "netlink")
        and not args.all_netns  # the groups are this namespace's
        and getattr(source, "name", None) != "ss"  # auto already fell back: the kernel refused sock_diag
    ):
        return None
    from nettop.sources.destroyed import DestroyListener, DestroyUnavailable

    try:
        return DestroyListener()
    except DestroyUnavailable as error:
        say(f"nettop: {error}")
        return None


def run_diff(call: Invocation) -> int:
    args = call.args
    from nettop.formats.nettop_json import records_from_json
    from nettop.inputs import SNAPSHOT_LIMIT, InputError, read_input
    from nettop.snapshots import diff_records

    snapshots = []
    for path in (args.before, args.after):
        try:
            snapshots.append(records_from_json(read_input(path, SNAPSHOT_LIMIT, "snapshot")))
        except InputError as error:
            say(f"nettop diff: {error}")
            return EXIT_USAGE
        except (UnicodeDecodeError, ValueError) as error:
            say(f"nettop diff: {'stdin' if path == '-' else path}: {error}")
            return EXIT_USAGE
    change = diff_records(*snapshots)
    write_out(writers.writer("diff", args.format)(change))
    return EXIT_OK if change.is_empty else EXIT_FAILED


def run_check(call: Invocation) -> int:
    args = call.args
    from nettop.policy.check import EXIT_ERROR, check_source
    from nettop.policy.rules import PolicyError, load_policy

    try:
        policy = load_policy(args.policy)
        source = source_from(args)
    except (PolicyError, NettopError) as error:
        say(f"nettop check: {error}")
        return EXIT_ERROR
    # Waiting for a capture to change would be waiting for nothing.
    wait = args.wait if args.from_file is None else 0.0
    from nettop.sources.hosts import HostsSource

    if isinstance(source, HostsSource):  # each host on its own: one report a host, and the worst one's status
        from nettop.policy.check import check_hosts, worst_exit_code

        reports = shutdown.run_async(_closing(source, check_hosts(policy, source, wait)))
        write_out(writers.writer("report", args.format)(reports))
        return worst_exit_code(reports)
    result = shutdown.run_async(check_source(policy, source, wait))
    write_out(writers.writer("report", args.format)(result))
    return result.exit_code


async def _closing(source: HostsSource, work: Awaitable[T]) -> T:
    """``work``'s result, the hosts' sessions closed after it in the same event loop."""
    try:
        return await work
    finally:
        await source.close()


def run_policy_init(call: Invocation) -> int:
    args, started = call.args, call.started
    from nettop.policy.init import policy_from_listeners

    snapshot = collect_once(args, started)
    write_out(policy_from_listeners(snapshot.records))
    report(snapshot)
    return EXIT_OK


def listen_option(text: str, parser: argparse.ArgumentParser) -> tuple[str, int]:
    """``--listen HOST:PORT`` (exporter, web) as a host and a port; a wrong one is a usage error (exit 2)."""
    from nettop.exporter import listen_address

    try:
        return listen_address(text)
    except ValueError as error:
        parser.error(f"--listen: {error}")


def policy_option(path: str | None) -> Policy | None:
    """``--policy``'s file, read (None without it); a broken one is said, and nettop exits 2 (bad usage)."""
    if path is None:
        return None
    from nettop.policy.rules import PolicyError, load_policy

    try:
        return load_policy(path)
    except PolicyError as error:
        say(f"nettop: --policy: {error}")
        raise SystemExit(EXIT_USAGE) from None


def url_host(host: str) -> str:
    """``host`` as a URL writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def shut_down(source: object) -> None:
    """End what a source keeps open once its event loop is gone (remote hosts: sessions, master connections)."""
    shutdown_source = getattr(source, "shutdown", None)
    if shutdown_source is not None:
        shutdown_source()


def run_exporter(call: Invocation) -> int:
    args, parser = call.args, call.parser
    import threading

    from nettop.exporter import ScrapeCollector, serve

    host, port = listen_option(args.listen, parser)
    policy = policy_option(args.policy)
    tune_for_long_runs()  # an exporter runs for months: see gcpause
    collector = ScrapeCollector(source_from(args), policy, hosts=tuple(args.host))
    try:
        server = serve(collector, host, port)
    except OSError as error:
        collector.close()
        say(f"nettop: cannot serve on {args.listen}: {error.strerror or error}")
        return EXIT_FAILED
    shown = url_host(host)
    say(
        f"nettop exporter: serving http://{shown}:{port}/metrics (no authentication: whoever reaches this address "
        "sees every socket's owner; keep it on loopback, or behind a firewall or an SSH tunnel)"
    )
    try:
        threading.Event().wait()  # until a signal: Ctrl+C, or SIGTERM from a service manager
    except (KeyboardInterrupt, shutdown.Terminated):
        pass
    finally:
        server.shutdown()
        collector.close()
        shut_down(collector.source)
    return EXIT_OK


def run_web(call: Invocation) -> int:
    args, parser = call.args, call.parser
    host, port = listen_option(args.listen, parser)
    viewer = args.viewer[1:] if args.viewer[:1] == ["--"] else args.viewer
    try:  # checked here, where a mistake can be said; each page's viewer parses them again
        viewer_parser = build_parser()
        options = viewer_parser.parse_args(viewer)
        check_usage(options, viewer_parser)
    except SystemExit:
        parser.error("the viewer's options (after --) are not nettop's: see nettop --help")
    if options.command is not None:
        parser.error(f"after -- come the viewer's options, not a command ({options.command})")
    from nettop.web import serve

    shown = url_host(host)
    actions = "" if args.allow_actions else "; kill and export are off"
    say(f"nettop web: serving http://{shown}:{port}/ with no authentication: whoever reaches this address sees "
        f"every socket and its owner{actions}. Keep it on loopback; from another machine: ssh -L {port}:"
        f"127.0.0.1:{port} THIS-HOST, then open http://127.0.0.1:{port}/")  # fmt: skip
    serve(host, port, viewer, args.allow_actions)
    return EXIT_OK


def run_viewer(call: Invocation) -> int:
    args, parser = call.args, call.parser
    from nettop.query import QueryError, parse_query

    if args.filter is not None:
        try:
            parse_query(args.filter)  # a wrong --filter is bad usage, refused before the file is read
        except QueryError as error:
            parser.error(f"--filter: {error.message} (at character {error.position + 1})")
    policy = policy_option(args.policy)
    from nettop.web import actions_allowed, in_browser

    if (sys.stdout is None or not sys.stdout.isatty()) and not in_browser():
        say("nettop: the viewer needs a terminal; for scripts use `nettop list`")
        return EXIT_USAGE
    source = live(viewer_source(args))
    loaded = viewer_settings(args)
    start = loaded.settings
    from nettop.app import NettopApp  # Textual loads only here

    app = NettopApp(
        source,
        interval=start.interval,
        filter_text=parse_query(start.start_filter),  # checked: the flag above, the file's as it was read
        policy=policy,
        names=args.resolve,
        settings=loaded,
        actions=actions_allowed(),
    )
    try:
        app.run()
    finally:
        shut_down(source)
    # Textual shows a crash's traceback and sets the return code; a crash must not look like a clean quit.
    return EXIT_FAILED if app.return_code else EXIT_OK


def live(source: S) -> S:
    """``source`` for a view that goes on (viewer, watch): several hosts are not held to the slowest one's pace."""
    from nettop.sources.hosts import LIVE_PATIENCE, HostsSource

    if isinstance(source, HostsSource):
        source.patience = LIVE_PATIENCE
    return source


def viewer_source(args: argparse.Namespace) -> Source:
    """The live source, or a capture read once now (``nettop.sources.capture``): an unreadable one is refused
    before the screen is taken, with the reason (exit 1)."""
    if args.from_file is None:
        return source_from(args)
    from nettop.inputs import CAPTURE_LIMIT, read_input
    from nettop.sources.capture import CaptureSource

    data = read_input(args.from_file, CAPTURE_LIMIT, "capture")
    return CaptureSource.read(data.decode("utf-8", "replace"), args.from_file, args.input_format)


def viewer_settings(args: argparse.Namespace) -> Loaded:
    """The config file's settings (none with --no-config), each problem with it said on stderr (the viewer says
    them again once it is up), then the flags given over them."""
    from textual.theme import BUILTIN_THEMES

    from nettop import config

    path = None if args.no_config else (Path(args.config).expanduser() if args.config else config.default_path())
    loaded = config.load(path, BUILTIN_THEMES)
    for problem in loaded.problems:
        say(f"nettop: {problem}")
    return loaded.with_flags(args.interval, args.filter)


def check_usage(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse, as bad usage (exit 2), what argparse alone cannot see."""
    source = getattr(args, "source", "auto")
    if getattr(args, "input_format", "auto") != "auto" and getattr(args, "from_file", None) is None:
        parser.error("--input-format names the format of a --from-file capture: give --from-file too")
    for flag in ("rates", "all_netns"):
        if getattr(args, flag, False) and not sys.platform.startswith("linux"):
            parser.error(f"--{flag.replace('_', '-')} reads Linux's socket table over netlink: not on {sys.platform}")
    if getattr(args, "rates", False) and (args.from_file is not None or source not in ("auto", "netlink")):
        parser.error("--rates reads the kernel's counts over netlink: it takes --source auto or netlink, live")
    if getattr(args, "all_netns", False):
        if args.from_file is not None or source not in ("auto", "netlink"):
            parser.error("--all-netns enters each namespace to read its table over netlink: it takes --source auto "
                         "or netlink, live")  # fmt: skip
        from nettop.sources.netns import AllNetnsNeedsRoot, has_sys_admin

        if not has_sys_admin():
            parser.error(str(AllNetnsNeedsRoot()))
    hosts = getattr(args, "host", [])
    if hosts:
        _check_hosts(args, parser)
    if not hosts:
        if getattr(args, "ssh_config", None) is not None:
            parser.error("--ssh-config names the ssh config for --host: give --host too")
        if getattr(args, "remote_reader", "auto") != "auto":
            parser.error("--remote-reader says how --host is read: give --host too")
    if source != "auto" and getattr(args, "from_file", None) is None and not hosts:
        names = tuple(registry.commands(sys.platform))
        if names and source not in names:
            parser.error(f"--source {source} is not available on {sys.platform}: choose auto, {', '.join(names)}")


def _check_hosts(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    from nettop.remote.ssh import HostError, hosts_from

    try:
        args.host = hosts_from(args.host)
    except HostError as error:
        parser.error(f"--host: {error}")
    if args.from_file is not None:
        parser.error("--host reads live hosts: it does not take --from-file")
    if args.command == "policy" and len(args.host) > 1:
        parser.error("policy init describes one machine: give one --host (and write one policy a host)")
    for flag in ("rates", "all_netns"):
        if getattr(args, flag, False):
            parser.error(f"--{flag.replace('_', '-')} reads this machine's kernel over netlink: not with --host")
    if getattr(args, "source", "auto") != "auto":
        parser.error("--host reads each host with what it has (nettop's collector, else ss): it takes --source auto")


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    # SIGTERM, SIGHUP raise shutdown.Terminated (exit 128 + signal), SIGINT KeyboardInterrupt: every finally runs.
    restore_signals = shutdown.raise_on_signals()
    guessed = early_source(words)
    started = start_listing(guessed) if guessed is not None else None
    try:
        parser = build_parser()
        args = parser.parse_args(words)
        check_usage(args, parser)
    except BaseException:  # a usage error, --help: the early start was not needed after all
        if started is not None:
            started.cancel()
        restore_signals()
        raise
    source = listing_source(args)
    if started is not None and source != guessed:
        started.cancel()
        started = None
    if args.one_shot:
        # They allocate tens of thousands of records (acyclic) and exit: the cycle collector's passes over them
        # were a tenth of `nettop list`'s time at 10,000 connections, and there is nothing for it to free.
        gc.disable()
    try:
        if started is None and source is not None:
            started = start_listing(source)
        return args.run(Invocation(args, parser, started))
    except OutputError as error:
        if error.broken_pipe:
            # The reader went away: nothing left to say, not even at exit's flush. Only a watch ends this way
            # by design (`nettop watch | head`); for the others the output did not arrive, which is a failure.
            with contextlib.suppress(OSError, AttributeError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK if args.closed_pipe_ends else args.error_exit
        say(f"nettop: {error}")
        return args.error_exit
    except NettopError as error:
        say(f"nettop: {error}")
        return args.error_exit
    except OSError as error:
        where = f" ({error.filename})" if getattr(error, "filename", None) else ""
        say(f"nettop: {error.strerror or type(error).__name__}{where}")
        return args.error_exit
    except KeyboardInterrupt:
        return 130
    finally:
        if started is not None:
            started.cancel()  # when something failed before it was read
        restore_signals()
