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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from nettop import __version__, shutdown
from nettop.errors import CommandError, NettopError
from nettop.formats import registry
from nettop.runner import DEFAULT_TIMEOUT
from nettop.sources.oneshot import EarlyListing

if TYPE_CHECKING:
    from nettop.model import Snapshot
    from nettop.query import RecordFilter
    from nettop.sources import CommandSource, TextSource

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: How many unparsed lines to print before summing up the rest.
SHOWN_ISSUES = 5
#: The viewer's refresh interval, as its +/- keys allow; ``watch`` may go slower.
VIEWER_INTERVAL = (0.5, 60.0)
WATCH_INTERVAL = (0.1, 86_400.0)
MAX_TIMEOUT = 3_600.0
#: The largest pid any supported system hands out (Linux's PID_MAX_LIMIT is 2**22; Windows' are 32-bit).
MAX_PID = 2**31 - 1


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


def _state(text: str) -> str:
    from nettop.query import state_from_user

    try:
        state_from_user(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


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


def _pid(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= MAX_PID:
        raise argparse.ArgumentTypeError(f"{text!r} is not a process id (0-{MAX_PID})")
    return int(text)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        choices=["auto", *registry.source_names()],
        default="auto",
        help="which command lists sockets (default: auto, ss then netstat)",
    )
    parser.add_argument(
        "--from-file",
        metavar="PATH",
        help="parse captured ss/netstat output from PATH ('-' for stdin) instead of running a command",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds_between(0, MAX_TIMEOUT, low_included=False),
        default=DEFAULT_TIMEOUT,
        help=f"seconds before a hung command is killed (default {DEFAULT_TIMEOUT:g}, at most {MAX_TIMEOUT:g})",
    )


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--proto", choices=["tcp", "udp"], help="only this protocol")
    parser.add_argument(
        "--state", type=_state, action="append", default=[], help="only this state (repeat for several)"
    )
    parser.add_argument("--port", type=_port, help="only sockets with this local or remote port")
    parser.add_argument("--pid", type=_pid, help="only sockets this process holds")
    parser.add_argument("--program", help="only sockets held by a process of this exact name")
    parser.add_argument("--listening", action="store_true", help="only listening sockets (TCP LISTEN, bound UDP)")
    families = parser.add_mutually_exclusive_group()
    families.add_argument("-4", dest="family", action="store_const", const=4, help="only IPv4")
    families.add_argument("-6", dest="family", action="store_const", const=6, help="only IPv6")


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
    add_source_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    listing = commands.add_parser("list", help="print one snapshot of the sockets", description="Print one snapshot.")
    listing.add_argument("--format", choices=["table", "json", "csv"], default="table", help="output format")
    add_source_options(listing)
    add_filter_options(listing)
    watching = commands.add_parser(
        "watch",
        help="print connections as they open, close or change state",
        description="Print one line per event: open, close, change, or error (a failed collection). "
        "The first snapshot is the baseline. Ctrl-C or a closed pipe ends it.",
    )
    watching.add_argument("--format", choices=["ndjson", "text"], default="text", help="output format")
    watching.add_argument(
        "--interval",
        type=_seconds_between(*WATCH_INTERVAL),
        default=2.0,
        help="seconds between collections (default 2, from 0.1 to 86400)",
    )
    add_source_options(watching)
    add_filter_options(watching)
    diffing = commands.add_parser(
        "diff",
        help="compare two saved snapshots (nettop list --format json)",
        description="Exit 0 when equal, 1 when they differ, 2 on bad input.",
    )
    diffing.add_argument("before", help="the earlier snapshot (JSON file, '-' for stdin)")
    diffing.add_argument("after", help="the later snapshot (JSON file)")
    diffing.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    checking = commands.add_parser(
        "check",
        help="check the listening ports against a policy (TOML)",
        description="Check the listeners against POLICY: expected listeners ([[listen]]), forbidden ports "
        "([[forbid]]) and limits ([listeners]). Exit 0 when every rule passes, 1 when one fails, 2 when the "
        "policy or the listing is broken.",
    )
    checking.add_argument("policy", help="the policy file (TOML); `nettop policy init` writes one")
    checking.add_argument(
        "--format", choices=["text", "json", "junit", "tap"], default="text", help="report format (default text)"
    )
    checking.add_argument(
        "--wait",
        type=_seconds_between(0, 86_400.0),
        default=0.0,
        metavar="SECONDS",
        help="collect again every second until the policy passes or SECONDS have passed (a service starting)",
    )
    add_source_options(checking)
    policies = commands.add_parser("policy", help="make a policy for `nettop check`")
    policy_actions = policies.add_subparsers(dest="policy_action", metavar="ACTION", required=True)
    init = policy_actions.add_parser(
        "init",
        help="print a policy that the current listeners pass (nettop policy init > policy.toml)",
        description="Print, as TOML, a policy naming every current listener with its owner and bind scope.",
    )
    add_source_options(init)
    return parser


def record_filter_from(args: argparse.Namespace) -> RecordFilter:
    from nettop.model import Proto
    from nettop.query import RecordFilter, state_from_user

    return RecordFilter(
        proto=Proto(args.proto) if args.proto else None,
        states=frozenset(state_from_user(s) for s in args.state),
        port=args.port,
        pid=args.pid,
        program=args.program,
        listening=args.listening,
        family=args.family,
    )


def source_from(args: argparse.Namespace) -> CommandSource | TextSource:
    from nettop.sources import TextSource, platform_source

    if args.from_file is None:
        return platform_source(args.source, timeout=args.timeout)
    from nettop.inputs import CAPTURE_LIMIT, read_input

    data = read_input(args.from_file, CAPTURE_LIMIT, "capture")
    return TextSource(data.decode("utf-8", "replace"), "stdin" if args.from_file == "-" else args.from_file)


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


def start_listing(args: argparse.Namespace) -> EarlyListing | None:
    """For a one-shot listing on Linux: start ``ss`` and the /proc scan now, so that they run while the rest of
    nettop is imported (see ``nettop.sources.oneshot``). None: not this time (another command or platform, or ``ss`` is
    missing; the source then falls back and says so)."""
    if args.command not in ("list", "policy") or args.from_file is not None or args.source not in ("auto", "ss"):
        return None
    if not sys.platform.startswith("linux"):
        return None
    try:
        return EarlyListing.start(registry.command("linux", "ss").argv)
    except CommandError:
        return None


def collect_once(args: argparse.Namespace, started: EarlyListing | None) -> Snapshot:
    from nettop.sources import CommandSource

    source = source_from(args)
    return source.collect_blocking(started) if isinstance(source, CommandSource) else source.collect_blocking()


def run_list(args: argparse.Namespace, started: EarlyListing | None = None) -> int:
    from nettop.export import json_bytes, to_csv, to_table
    from nettop.query import filter_records

    snapshot = collect_once(args, started)
    records = filter_records(snapshot.records, record_filter_from(args))
    if args.format == "json":
        write_out(json_bytes(records) + b"\n")
    else:
        write_out(to_csv(records) if args.format == "csv" else to_table(records))
    report(snapshot)
    return EXIT_OK


def run_watch(args: argparse.Namespace) -> int:
    from nettop.events import event_text, event_to_dict, watch

    record_filter = record_filter_from(args)
    ndjson = args.format == "ndjson"

    def said_baseline(snapshot: Snapshot) -> None:
        taken = time.strftime("%H:%M:%S", time.localtime(snapshot.taken_at))
        say(f"nettop: watching from {taken} ({len(snapshot.records)} sockets); changes follow")

    async def stream() -> None:
        async for event in watch(source_from(args), args.interval, record_filter.matches, said_baseline):
            # One event, one whole line, flushed now: a reader may be waiting for it.
            write_out(json_line(event_to_dict(event)) if ndjson else event_text(event) + "\n")

    import asyncio

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a watch ends
        asyncio.run(stream())
    return EXIT_OK


def json_line(value: object) -> bytes:
    from nettop.export import dump_json

    return dump_json(value) + b"\n"


def run_diff(args: argparse.Namespace) -> int:
    from nettop.changes import diff_records
    from nettop.events import PAST, describe, diff_to_dict, events_of
    from nettop.export import records_from_json
    from nettop.inputs import SNAPSHOT_LIMIT, InputError, read_input

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
    if args.format == "json":
        write_out(json_line(diff_to_dict(change)))
    else:
        events = events_of(change, 0.0)
        write_out("".join(describe(event, PAST[event.kind]) + "\n" for event in events) or "no differences\n")
    return EXIT_OK if change.is_empty else EXIT_FAILED


def run_check(args: argparse.Namespace) -> int:
    from nettop.check import EXIT_ERROR, check_source
    from nettop.check_output import render
    from nettop.policy import PolicyError, load_policy

    try:
        policy = load_policy(args.policy)
        source = source_from(args)
    except (PolicyError, NettopError) as error:
        say(f"nettop check: {error}")
        return EXIT_ERROR
    # Waiting for a capture to change would be waiting for nothing.
    wait = args.wait if args.from_file is None else 0.0
    import asyncio

    result = asyncio.run(check_source(policy, source, wait))
    write_out(render(result, args.format))
    return result.exit_code


def run_policy_init(args: argparse.Namespace, started: EarlyListing | None = None) -> int:
    from nettop.check_output import policy_from_listeners

    snapshot = collect_once(args, started)
    write_out(policy_from_listeners(snapshot.records))
    report(snapshot)
    return EXIT_OK


def run_viewer(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from nettop.filterquery import QueryError, parse_query

    try:
        parse_query(args.filter)
    except QueryError as error:
        parser.error(f"--filter: {error.message} (at character {error.position + 1})")
    policy = None
    if args.policy is not None:
        from nettop.policy import PolicyError, load_policy

        try:
            policy = load_policy(args.policy)
        except PolicyError as error:
            say(f"nettop: --policy: {error}")
            return EXIT_USAGE
    if sys.stdout is None or not sys.stdout.isatty():
        say("nettop: the viewer needs a terminal; for scripts use `nettop list`")
        return EXIT_USAGE
    from nettop.app import NettopApp  # Textual loads only here

    app = NettopApp(source_from(args), interval=args.interval, filter_text=args.filter, policy=policy)
    app.run()
    # Textual shows a crash's traceback and sets the return code; a crash must not look like a clean quit.
    return EXIT_FAILED if app.return_code else EXIT_OK


#: Commands that read, print and exit.
ONE_SHOT_COMMANDS = ("list", "diff", "policy")
#: The exit status of a command that could not do its job: for ``check`` and ``diff``, 1 means "fails" and
#: "different", so an I/O error there is 2.
ERROR_EXIT = {"check": 2, "diff": 2}


def check_usage(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse, as bad usage (exit 2), what argparse alone cannot see."""
    source = getattr(args, "source", "auto")
    if source != "auto" and getattr(args, "from_file", None) is None:
        names = tuple(registry.commands(sys.platform))
        if names and source not in names:
            parser.error(f"--source {source} is not available on {sys.platform}: choose auto, {', '.join(names)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_usage(args, parser)
    if args.command in ONE_SHOT_COMMANDS:
        # They allocate tens of thousands of records (acyclic) and exit: the cycle collector's passes over them
        # were a tenth of `nettop list`'s time at 10,000 connections, and there is nothing for it to free.
        gc.disable()
    # SIGTERM, SIGHUP raise shutdown.Terminated (exit 128 + signal), SIGINT KeyboardInterrupt: every finally runs.
    restore_signals = shutdown.raise_on_signals()
    started = start_listing(args)
    try:
        if args.command is None:
            return run_viewer(args, parser)
        if args.command == "watch":
            return run_watch(args)
        if args.command == "diff":
            return run_diff(args)
        if args.command == "check":
            return run_check(args)
        if args.command == "policy":
            return run_policy_init(args, started)
        return run_list(args, started)
    except OutputError as error:
        if error.broken_pipe:
            # The reader went away: nothing left to say, not even at exit's flush. Only a watch ends this way
            # by design (`nettop watch | head`); for the others the output did not arrive, which is a failure.
            with contextlib.suppress(OSError, AttributeError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK if args.command == "watch" else ERROR_EXIT.get(args.command, EXIT_FAILED)
        say(f"nettop: {error}")
        return ERROR_EXIT.get(args.command, EXIT_FAILED)
    except NettopError as error:
        say(f"nettop: {error}")
        return ERROR_EXIT.get(args.command, EXIT_FAILED)
    except OSError as error:
        where = f" ({error.filename})" if getattr(error, "filename", None) else ""
        say(f"nettop: {error.strerror or type(error).__name__}{where}")
        return ERROR_EXIT.get(args.command, EXIT_FAILED)
    except KeyboardInterrupt:
        return 130
    finally:
        if started is not None:
            started.cancel()  # when something failed before it was read
        restore_signals()
