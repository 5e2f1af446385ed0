"""The command lines that list sockets on Linux, and the names ``--source`` accepts on any platform.

Kept apart from ``sources`` (which imports the parsers and psutil), so that ``nettop list`` can start ``ss``
before it imports the rest of nettop, and its ~100 ms of imports run while ``ss`` does.
"""

from __future__ import annotations

#: ``-e`` for inodes (the owners come from /proc: ``-p`` costs both tools a quadratic walk), ``-W`` for
#: netstat's untruncated addresses.
LINUX_SS = ("ss", "-tunae")
LINUX_NETSTAT = ("netstat", "-tunaeW")

#: The ``--source`` names of each platform (``sys.platform`` prefix), in the order ``auto`` tries them: what
#: ``sources.PLATFORM_COMMANDS`` holds (a test keeps the two alike), here without its imports, so that the
#: command line can refuse a source the platform lacks as bad usage before anything starts.
PLATFORM_SOURCE_NAMES: dict[str, tuple[str, ...]] = {
    "linux": ("ss", "netstat"),
    "darwin": ("netstat", "lsof"),
    "win32": ("netstat",),
    "freebsd": ("sockstat", "netstat"),
}
#: Every ``--source`` name on some platform.
SOURCE_NAMES = tuple(sorted({name for names in PLATFORM_SOURCE_NAMES.values() for name in names}))


def platform_source_names(platform: str) -> tuple[str, ...] | None:
    """The ``--source`` names of ``platform``, or None for a platform nettop cannot collect on."""
    return next((names for prefix, names in PLATFORM_SOURCE_NAMES.items() if platform.startswith(prefix)), None)
