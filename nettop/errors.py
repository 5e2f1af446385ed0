"""Error types with messages a user can act on; the CLI prints ``str(error)``, never a traceback."""

from __future__ import annotations

from collections.abc import Sequence

from nettop.text import cut, safe, safe_words

#: How much of a command's last line of error output a message quotes.
QUOTED_STDERR = 300


class NettopError(Exception):
    """Base of every error nettop reports to the user."""


class CommandError(NettopError):
    """Running a listing command went wrong. Messages quote the command and its error output made safe (control
    characters escaped, see ``nettop.text``): they reach terminals, the viewer and reports as they are."""

    def __init__(self, argv: Sequence[str], message: str) -> None:
        self.argv = tuple(argv)
        super().__init__(message)


class CommandNotFound(CommandError):
    def __init__(self, argv: Sequence[str], hint: str = "") -> None:
        message = f"command not found: {safe(argv[0])}"
        if hint:
            message += f" ({hint})"
        super().__init__(argv, message)


class CommandFailed(CommandError):
    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.returncode = returncode
        self.stderr = stderr
        lines = stderr.strip().splitlines()
        detail = cut(lines[-1].strip(), QUOTED_STDERR) if lines else "no error output"
        super().__init__(argv, f"`{safe_words(argv)}` {_ended(returncode)}: {detail}")


def _ended(returncode: int) -> str:
    """How a command ended: ``exited with status 3``, or ``was killed by SIGSEGV`` (a negative return code)."""
    if returncode >= 0:
        return f"exited with status {returncode}"
    import signal

    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"was killed by {name}"


class CommandTimeout(CommandError):
    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        self.timeout = timeout
        super().__init__(argv, f"`{safe_words(argv)}` did not finish within {timeout:g} s and was killed")


class CommandOutputTooLarge(CommandError):
    def __init__(self, argv: Sequence[str], limit: int) -> None:
        self.limit = limit
        size = f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit} bytes"
        super().__init__(argv, f"`{safe_words(argv)}` wrote more than {size} of output and was killed")


class NotASocketTable(NettopError):
    """The text is a table, but not a socket listing (a route or interface table, say)."""


class UnknownFormat(NettopError):
    """No parser recognises the text."""


class SourceUnavailable(NettopError):
    """Every command a source could run failed; ``errors`` holds each one's reason, in order tried."""

    def __init__(self, errors: Sequence[NettopError]) -> None:
        self.errors = tuple(errors)
        reasons = "; ".join(str(e) for e in errors)
        super().__init__(f"no socket listing could be read: {reasons}")
