"""Where snapshots come from: a platform's listing commands (``linux``, ``macos``, ``windows``, ``freebsd``, run
through the shared fallback source of ``command``), or a capture (``file``).

Importing this package loads nothing heavy: ``nettop list`` imports ``sources.oneshot`` to start ``ss`` before
the rest of nettop (the parsers, psutil) is imported, so the names below are loaded when first used (PEP 562).
Each platform's module is imported only on that platform (or by a test that names it), so that Linux never
loads the others' formats.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nettop.model import Source
    from nettop.runner import Runner
    from nettop.sources.command import RETRY_FIRST, RETRY_MAX, RETRY_MISSING, CommandSource, ListingCommand
    from nettop.sources.file import TextSource

__all__ = [
    "RETRY_FIRST",
    "RETRY_MAX",
    "RETRY_MISSING",
    "CommandSource",
    "ListingCommand",
    "Source",
    "TextSource",
    "platform_commands",
    "platform_source",
]

#: Where each name is defined.
_LAZY = {
    "RETRY_FIRST": "nettop.sources.command",
    "RETRY_MAX": "nettop.sources.command",
    "RETRY_MISSING": "nettop.sources.command",
    "CommandSource": "nettop.sources.command",
    "ListingCommand": "nettop.sources.command",
    "Source": "nettop.model",
    "TextSource": "nettop.sources.file",
}
#: The module under ``nettop.sources`` of each platform (``sys.platform`` prefix) in ``formats.registry``.
_MODULES = {"linux": "linux", "darwin": "macos", "win32": "windows", "freebsd": "freebsd"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def platform_commands(platform: str) -> dict[str, ListingCommand]:
    """``--source`` names → commands of ``platform``, in the order ``auto`` tries them."""
    from nettop.errors import NettopError
    from nettop.formats import registry

    for prefix in registry.platforms():
        if platform.startswith(prefix):
            module = importlib.import_module(f"nettop.sources.{_MODULES[prefix]}")
            commands: dict[str, ListingCommand] = module.COMMANDS
            return commands
    known = ", ".join(registry.platforms())
    raise NettopError(f"live collection on {platform!r} is not supported (supported: {known}); use --from-file")


def platform_source(
    choice: str = "auto",
    runner: Runner | None = None,
    timeout: float | None = None,
    platform: str = sys.platform,
) -> CommandSource:
    """The live source for a platform (this one by default); ``choice`` is ``auto`` or one command's name.

    ``runner``: the asyncio runner (``runner.run_command`` when None); ``timeout``: ``runner.DEFAULT_TIMEOUT``
    when None. For another platform than the running one (tests, with a scripted runner) the pids in the listing
    are not this machine's, so psutil is not asked about them.
    """
    from nettop.errors import NettopError
    from nettop.runner import DEFAULT_TIMEOUT, run_command, run_command_blocking
    from nettop.sources.command import CommandSource

    here = platform == sys.platform
    commands = platform_commands(platform)
    if runner is not None or not here:  # scripted commands: nothing may read this machine's kernel instead
        commands = {name: command for name, command in commands.items() if command.runs_command}
    if choice == "auto":
        chosen = list(commands.values())
    elif choice in commands:
        chosen = [commands[choice]]
    else:
        raise NettopError(f"unknown source {choice!r} on {platform}: choose auto, {', '.join(commands)}")
    runner = run_command if runner is None else runner
    blocking = run_command_blocking if runner is run_command and here else None
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    return CommandSource(chosen, runner, timeout, complete_owners=here, blocking_runner=blocking)
