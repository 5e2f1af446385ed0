"""Error types with messages a user can act on; the CLI prints ``str(error)``, never a traceback."""

from __future__ import annotations

from collections.abc import Sequence


class NettopError(Exception):
    """Base of every error nettop reports to the user."""


class CommandError(NettopError):
    """Running a listing command went wrong."""

    def __init__(self, argv: Sequence[str], message: str) -> None:
        self.argv = tuple(argv)
        super().__init__(message)


class CommandNotFound(CommandError):
    def __init__(self, argv: Sequence[str], hint: str = "") -> None:
        message = f"command not found: {argv[0]}"
        if hint:
            message += f" ({hint})"
        super().__init__(argv, message)


class CommandFailed(CommandError):
    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.returncode = returncode
        self.stderr = stderr
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else "no error output"
        super().__init__(argv, f"`{' '.join(argv)}` exited with status {returncode}: {detail}")


class CommandTimeout(CommandError):
    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        self.timeout = timeout
        super().__init__(argv, f"`{' '.join(argv)}` did not finish within {timeout:g} s and was killed")


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
