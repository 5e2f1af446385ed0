"""Every text format nettop reads, one spec each: its name, how detection knows it, its parser, the commands that
write it on each platform, and what to install when such a command is missing.

Detection (``detect``), ``--from-file``, the platform sources (``nettop.sources``), the ``--source`` choices of
the command line and the runner's install hints all read this table, so that a new format is one module under
``nettop.formats`` plus one entry here.

A spec names its module rather than importing it: this table is read by ``nettop list`` before anything else
(to start ``ss`` early and to check ``--source``), and a Linux listing loads the modules of ``ss`` and Linux
``netstat`` alone. ``Format.load`` imports a module when it is first used. The specs are NamedTuples, not
dataclasses: importing ``dataclasses`` costs ``nettop list`` ~10 ms (it imports ``inspect``) before ``ss`` starts.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from nettop.model import ParseResult


class Command(NamedTuple):
    """A command that writes a format on one platform, under its ``--source`` name."""

    #: A ``sys.platform`` prefix: ``linux``, ``darwin``, ``win32``, ``freebsd``.
    platform: str
    #: Its ``--source`` name on that platform.
    source: str
    argv: tuple[str, ...]
    #: Where ``--source auto`` tries it on its platform: lowest first.
    rank: int
    #: What to install when the tool is missing (Debian/Ubuntu package names on Linux); "" for none.
    install: str = ""
    #: Other runs the source makes: joined (macOS's ``-p udp`` beside ``-p tcp``; Windows's tasklist for image
    #: names) or in its stead (an old sockstat without ``-s``).
    more: tuple[tuple[str, ...], ...] = ()


class Format(NamedTuple):
    """One format: ``nettop.formats.<module>.parse(text)`` reads it.

    Detection reads a bounded head of the text and asks, in the order of ``FORMATS``: ``header`` of each head line
    (the module's function of that name, ``line -> bool``), then ``text`` of the whole text, then, once tables that
    are not socket lists are refused, ``rows`` of the first line (headerless output).
    """

    name: str
    module: str
    header: str | None = None
    text: str | None = None
    rows: str | None = None
    commands: tuple[Command, ...] = ()

    def load(self) -> ModuleType:
        return importlib.import_module(f"nettop.formats.{self.module}")

    def parse(self, text: str) -> ParseResult:
        result: ParseResult = self.load().parse(text)
        return result

    def test(self, kind: str, value: str) -> bool:
        """Whether ``value`` (a head line, or the text) passes this format's ``kind`` test; False without one."""
        function = getattr(self, kind)
        return function is not None and bool(getattr(self.load(), function)(value))


_FREEBSD_BASE = "sockstat is part of the FreeBSD base system"

#: Every format, in the order detection tries them.
FORMATS: tuple[Format, ...] = (
    Format(
        "ss",
        "ss",
        header="looks_like_header",
        rows="looks_like_rows",
        commands=(Command("linux", "ss", ("ss", "-tunae"), 0, "install iproute2, e.g. `apt-get install iproute2`"),),
    ),
    # Before Linux netstat's: macOS 14 writes the BSD state column "(State)", which contains "State".
    Format(
        "netstat-bsd",
        "netstat_bsd",
        header="looks_like_header",
        rows="looks_like_rows",  # macOS/FreeBSD rows through grep: host.port cells
        commands=(
            Command("darwin", "netstat", ("netstat", "-anv", "-p", "tcp"), 0, more=(("netstat", "-anv", "-p", "udp"),)),
            Command("freebsd", "netstat", ("netstat", "-an"), 1),
        ),
    ),
    Format(
        "netstat-linux",
        "netstat_linux",
        header="looks_like_header",
        text="looks_like_table",  # a header in a language the module has no words for, known by its rows
        rows="looks_like_rows",  # netstat -tlnp | grep …
        commands=(
            Command(
                "linux", "netstat", ("netstat", "-tunaeW"), 1, "install net-tools, e.g. `apt-get install net-tools`"
            ),
        ),
    ),
    Format(
        "lsof",
        "lsof",
        header="looks_like_header",
        commands=(Command("darwin", "lsof", ("lsof", "-nP", "-i"), 1, "install lsof"),),
    ),
    Format(
        "sockstat",
        "sockstat",
        header="looks_like_header",
        rows="looks_like_rows",  # sockstat -q: no header
        commands=(
            Command("freebsd", "sockstat", ("sockstat", "-46", "-s"), 0, _FREEBSD_BASE, more=(("sockstat", "-46"),)),
        ),
    ),
    Format(
        "netstat-windows",
        "windows",
        text="looks_like",  # windows.parse names its own route and statistics tables
        commands=(Command("win32", "netstat", ("netstat", "-ano"), 0, more=(("tasklist", "/FO", "CSV", "/NH"),)),),
    ),
    Format("proc-net", "procnet", header="claims_header"),  # which refuses /proc/net/unix by name
    Format("ss-single", "ss_single", rows="looks_like_rows"),
    # nettop's own JSON (`nettop list --format json`, the viewer's export): a saved snapshot read back.
    Format("nettop-json", "nettop_json", text="looks_like"),
)

#: By name.
BY_NAME: dict[str, Format] = {spec.name: spec for spec in FORMATS}

#: Sources that read the kernel directly, with no command and no text (``nettop.sources.sockdiag``): its argv is
#: what messages quote. ``auto`` tries it first, then falls back to ``ss``.
NATIVE: tuple[Command, ...] = (Command("linux", "netlink", ("netlink", "sock_diag"), -1),)


def commands(platform: str) -> dict[str, Command]:
    """The commands of ``platform`` (a ``sys.platform`` value) by ``--source`` name, in the order ``auto`` tries
    them; empty for a platform nettop cannot collect on."""
    found = [c for c in (*NATIVE, *(c for spec in FORMATS for c in spec.commands)) if platform.startswith(c.platform)]
    return {c.source: c for c in sorted(found, key=lambda c: c.rank)}


def command(platform: str, source: str) -> Command:
    """The command named ``source`` on ``platform``; KeyError when it has none."""
    return commands(platform)[source]


def platforms() -> tuple[str, ...]:
    """The platforms nettop collects on (``sys.platform`` prefixes)."""
    return tuple(dict.fromkeys(c.platform for spec in FORMATS for c in spec.commands))


def source_names() -> tuple[str, ...]:
    """Every ``--source`` name on some platform, sorted."""
    return tuple(sorted({c.source for spec in FORMATS for c in spec.commands} | {c.source for c in NATIVE}))


def install_hint(tool: str) -> str:
    """What to install when ``tool`` (a command's name) is missing; "" when nothing can be said."""
    return next((c.install for spec in FORMATS for c in spec.commands if c.argv[0] == tool and c.install), "")
