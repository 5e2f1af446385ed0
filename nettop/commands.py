"""The command lines that list sockets on Linux, and the names ``--source`` accepts on any platform.

Kept apart from ``sources`` (which imports the parsers and psutil), so that ``nettop list`` can start ``ss``
before it imports the rest of nettop, and its ~100 ms of imports run while ``ss`` does.
"""

from __future__ import annotations

#: ``-e`` for inodes (the owners come from /proc: ``-p`` costs both tools a quadratic walk), ``-W`` for
#: netstat's untruncated addresses.
LINUX_SS = ("ss", "-tunae")
LINUX_NETSTAT = ("netstat", "-tunaeW")

#: Every ``--source`` name on some platform (``sources.PLATFORM_COMMANDS``; a test keeps the two alike).
SOURCE_NAMES = ("lsof", "netstat", "sockstat", "ss")
