"""Parse Windows ``netstat -an``, ``-ano`` and ``-anob`` (in any display language) into records, and ``tasklist /FO
CSV /NH`` into the pid → name map that names their owners.

Input: CRLF lines; a blank line, a title, a blank line and a header come first, all of them translated::

    Active Connections

      Proto  Local Address          Foreign Address        State           PID
      TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1712
      RpcSs
     [svchost.exe]
      TCP    0.0.0.0:445            0.0.0.0:0              LISTENING       4
     Can not obtain ownership information
      UDP    [fe80::244e:2f1e:2096:62b2%9]:1900  *:*                                    8844

- Rows are found by their shape, never by header words (German prints ``Aktive Verbindungen`` and ``Proto  Lokale
  Adresse  Remoteadresse  Status  PID``, Chinese ``活动连接``): a row is a line whose first word is ``TCP`` or
  ``UDP``, upper-case as only Windows writes it (Linux, BSD and ss write ``tcp``). Then come the local and foreign
  endpoints, the state (TCP only: UDP has none, so its PID sits one column left) and, with ``-o``, the PID.
  Columns are whitespace tokens: a long IPv6 address pushes the rest right. The PID is the last token when it is
  a number; a header ending in ``PID`` (a word Windows does not translate) makes it compulsory, so a cut row is an
  issue rather than a socket without owner.
- Endpoints: ``host:port`` split at the last colon. IPv6 is bracketed, its zone inside the brackets
  (``[fe80::1%9]:1900`` → ``fe80::1``, interface ``"9"``, taken from the local end, else the foreign one);
  ``[::]`` is ``::`` and ``0.0.0.0`` stays ``0.0.0.0``. A bracketed host must be hex digits, ``:`` and ``.``:
  the jc corpus's hand-edited ``fe80::asda:…`` is an issue, not a record. Without ``-n`` hosts are names, kept as
  written, and ports are service names (``http``, ``epmap``, ``microsoft-ds``), looked up
  (``common.port_or_service``); a name nettop cannot number keeps its row: port None, the name in
  ``local_service``/``remote_service``. The family is the
  local address's (brackets → 6), else the foreign one's when the local host is a name, else 4.
- No peer: ``0.0.0.0:0``, ``[::]:0``, ``*:*``, and any foreign port 0 (``MYPC:0`` without ``-n``): no TCP peer
  has port 0, so Windows uses it for "none". remote_ip and remote_port are then None; a local port 0 is None too.
- State: a word STATE_WORDS knows (``LISTENING``, ``SYN_RECEIVED``, ``TIME_WAIT``…), or ``BOUND`` (``-q``: bound,
  neither listening nor connected) → CLOSE. Any other word is a translation (``ABHÖREN``, ``HERGESTELLT``,
  ``FIN_WARTEN_2``, ``侦听``; ``ABH™REN`` or ``ABH?REN`` after a wrong decode): a TCP row with no peer is a
  listener (LISTEN), any other is UNKNOWN, and the word stays in ``raw``. (``-q`` output in another language is
  the case this misreads: a bound socket has no peer either.) UDP: UNCONNECTED without a peer, else ESTABLISHED.
- Owners, with a PID: ``Owner(pid, name)``, KNOWN. The name is ``-b``'s ``[program.exe]``, else ``names[pid]``
  (the caller's, from ``parse_tasklist``; taken at another moment, so it comes second), else ``System Idle
  Process`` for pid 0 and ``System`` for pid 4 (the kernel's two pseudo-processes, named as tasklist names them;
  Windows also gives pid 0 to sockets no process holds, such as TIME_WAIT), else None. Without a PID column
  (``-an``): no owners, NOT_REPORTED.
- ``-b`` puts up to three lines under a row: a service or components (``  RpcSs``; on XP DLL paths and ``--
  unknown component(s) --``), then ``[program.exe]``; or, when Windows will not say, a sentence (``Can not
  obtain ownership information``, translated like the rest). Only the bracketed name is read, so which sentence
  it is does not matter: such a socket keeps the owner its PID gives, status KNOWN, with the name from ``names``
  or the system pids, else None (the PID is known; only the name is withheld). With ``-b`` but no ``-o``, a
  socket whose owner was withheld is NOT_PERMITTED, and one whose program is named is NOT_REPORTED (an Owner needs
  a PID). ``raw`` holds all of a record's lines, joined with ``\\n``, so the service name is kept.
- recv_q, send_q, inode, uid and v6only are None (Windows does not show them); truncated is False (Windows pads
  columns but never cuts an address).
- Non-row lines before the first row (title, header), blank lines, and the title and header ``netstat -an 5``
  repeats after a blank line are skipped. A non-row line right under a row is an issue, unless the output has
  ``-b`` lines; then only a line after a row's ``[program.exe]`` is. No row at all: a title or header alone is an
  empty listing; a route, interface or statistics table (``netstat -r``, ``-e``, ``-s``, English titles) raises
  NotASocketTable; anything else (such as ``The requested operation requires elevation.``, from ``-b`` without
  admin rights) raises UnknownFormat.

- Numbers are ASCII digits in range (``common.number``): a PID above 2**31-1 (or in another script's digits) or a
  port above 65535 makes its row an issue. Lines are cut at ``\n`` and ``\r\n`` (``common.text_lines``).

Output: ``ParseResult`` with one ``Connection`` a row and one ``ParseIssue`` a line not read.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Mapping
from itertools import pairwise

from nettop.errors import NotASocketTable, UnknownFormat
from nettop.formats.common import (
    MAX_PID,
    head_lines,
    number,
    parse_state,
    port_or_service,
    quoted,
    split_host_port,
    text_lines,
)
from nettop.model import Connection, Owner, OwnerStatus, ParseIssue, ParseResult, Proto, State, new_connection

FORMAT = "netstat-windows"

#: A row's first word. Upper-case only: other tools' socket lists write ``tcp``/``udp``.
PROTOS: dict[str, Proto] = {"TCP": Proto.TCP, "UDP": Proto.UDP}

#: The titles of a socket listing in the languages seen; ``looks_like`` also knows rows and headers by shape.
TITLES = frozenset({"Active Connections", "Aktive Verbindungen", "活动连接"})

#: The kernel's two pseudo-processes, named as tasklist names them, for when nothing else names them.
SYSTEM_NAMES: dict[int, str] = {0: "System Idle Process", 4: "System"}

#: Words Windows prints that STATE_WORDS lacks: ``BOUND`` (``netstat -q``) is the kernel's TCP_CLOSE.
EXTRA_STATES: dict[str, State] = {"BOUND": State.CLOSE}

#: Code pages tried after UTF-8, best score first, ties to the first: netstat writes the console's OEM code page
#: (cp850 in Western Europe: ``Ö`` is 0x99); a file saved again by an editor has the ANSI one (cp1252).
FALLBACK_CODECS: tuple[str, ...] = ("cp850", "cp1252")

#: The accented letters most used in the languages of those code pages. Read in the wrong one of the two, each
#: becomes a symbol, box drawing or rare capital (cp850 ``Ö`` reads ``™``, cp1252 ``Ö`` reads ``Í``), except ß/á
#: (one byte, both letters), so counting them tells the code pages apart.
_LIKELY_LETTERS = frozenset("äöüßàâçéèêëîïôùûñáíóúÄÖÜÉ")
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),  # what Windows PowerShell 5's ``>`` writes
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_ASCII = bytes(range(128))

#: English titles of Windows netstat's other tables, and what they are.
_OTHER_TABLES: tuple[tuple[str, str], ...] = (
    ("Interface List", "a routing table (netstat -r)"),
    ("IPv4 Route Table", "a routing table (netstat -r)"),
    ("IPv6 Route Table", "a routing table (netstat -r)"),
    ("Interface Statistics", "interface statistics (netstat -e)"),
    ("IPv4 Statistics", "protocol statistics (netstat -s)"),
    ("IPv6 Statistics", "protocol statistics (netstat -s)"),
    ("ICMPv4 Statistics", "protocol statistics (netstat -s)"),
    ("TCP Statistics for", "protocol statistics (netstat -s)"),
    ("UDP Statistics for", "protocol statistics (netstat -s)"),
)
#: Words in the first lines of other tools' listings (Linux and BSD netstat, ss, Linux's UNIX socket table).
_NOT_WINDOWS = ("Recv-Q", "RefCnt", "Netid", "Active Internet", "Active UNIX")
#: The first words of other tools' rows, which stay when their headers are translated (net-tools ja_JP).
_OTHER_ROW_WORDS = frozenset({"tcp", "tcp4", "tcp6", "tcp46", "udp", "udp4", "udp6", "udp46", "raw", "raw6", "unix"})
#: How much of a text ``looks_like`` reads: the title, the header and some rows.
_HEAD_CHARS = 4096
_HEAD_LINES = 12
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")
_new = new_connection  # a record without NamedTuple's Python-level __new__ (see model)

#: A converted endpoint: host, port (None for 0 or ``*``), zone, the family its form shows (0: a name), and a
#: service name nettop cannot number (the port then None).
_Endpoint = tuple[str, int | None, str | None, int, str | None]


def decode(data: bytes, *, encoding: str | None = None) -> str:
    """The text of netstat's or tasklist's output, whichever code page wrote it.

    ``encoding`` is the code page the caller knows (on Windows, ``"oem"``: the console's), tried first. Then a
    BOM, then UTF-8 (plain ASCII output, ``chcp 65001``), then cp850 or cp1252, whichever reads more of the bytes
    above 127 as common accented letters. cp850 maps every byte, so this never fails; a wrong guess (another
    OEM code page, such as Chinese GBK) only garbles translated words, which ``parse`` does not need.
    """
    if encoding is not None:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            pass  # not what the caller thought: guess as for any other bytes
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(_best_code_page(data))


def _best_code_page(data: bytes) -> str:
    high = data.translate(None, _ASCII)  # single-byte code pages: only these bytes differ between them
    best, best_score = FALLBACK_CODECS[0], -1
    for codec in FALLBACK_CODECS:
        try:
            text = high.decode(codec)
        except UnicodeDecodeError:
            continue  # cp1252 leaves five bytes undefined
        score = sum(char in _LIKELY_LETTERS for char in text)
        if score > best_score:
            best, best_score = codec, score
    return best


def looks_like(text: str) -> bool:
    """True for Windows netstat: its title, its header or its rows, in the first lines, and no other tool's marks.

    A header is a line of 4+ words that starts with ``Proto`` or ends with ``PID``; a row starts with ``TCP`` or
    ``UDP`` followed by two ``host:port`` endpoints. Linux and BSD netstat and ss headers hold ``Recv-Q``,
    ``RefCnt`` or ``Netid``, and their rows start with lower-case protocols (which also tells a Linux netstat whose
    header is translated). The English titles of Windows netstat's route and statistics tables count too, so that
    ``parse`` can say what they are.
    """
    head = [line.strip() for line in head_lines(text, 4 * _HEAD_LINES, _HEAD_CHARS) if line.strip()][:_HEAD_LINES]
    if any(marker in line for line in head for marker in _NOT_WINDOWS):
        return False
    if any(line.split(None, 1)[0] in _OTHER_ROW_WORDS for line in head):
        return False
    return any(_is_windows_line(line) for line in head)


def _is_windows_line(line: str) -> bool:
    if line in TITLES or line.startswith(tuple(start for start, _ in _OTHER_TABLES)):
        return True
    words = line.split()
    if len(words) >= 4 and (words[0] == "Proto" or words[-1] == "PID"):
        return True
    return len(words) >= 3 and words[0] in PROTOS and ":" in words[1] and ":" in words[2]


def parse(text: str, source: str = "netstat", names: Mapping[int, str] | None = None) -> ParseResult:
    """Parse Windows netstat's socket listing; ``names`` (pid → image name, from tasklist) names the owners."""
    lines = text_lines(text)
    starts = [index for index, line in enumerate(lines) if _is_row(line)]
    if not starts:
        return _without_rows(lines)
    first = starts[0]
    reader = _Reader(
        source,
        names or {},
        has_pid=any(line.split()[-1:] == ["PID"] for line in lines[:first]),
        has_programs=any(_is_program_line(line) for line in lines[first:]),
    )
    starts.append(len(lines))
    for index, next_row in pairwise(starts):
        # The lines under a row up to the next row or blank line are its own (-b); a title or header repeated
        # after a blank line (``netstat -an 5``) is not.
        trailer: list[str] = []
        for line in lines[index + 1 : next_row]:
            if not line.strip():
                break
            trailer.append(line)
        reader.read(index + 1, lines[index], trailer)
    return ParseResult(tuple(reader.records), tuple(reader.issues), FORMAT)


def parse_tasklist(text: str) -> dict[int, str]:
    """pid → image name from ``tasklist /FO CSV /NH`` (``"Image Name","PID","Session Name","Session#","Mem Usage"``).

    Fields are quoted and may hold commas (``"My App, Beta.exe"``, ``"12,345 K"``); only the first two are read,
    so localized memory figures (``"12.345 K"``) and ``/V``'s extra columns do not matter. Lines that are not
    such a row (a header made without ``/NH`` in any language, ``INFO: No tasks are running…``, a cut line) are
    skipped.
    """
    names: dict[int, str] = {}
    for line in text.lstrip("\ufeff").splitlines():
        try:
            row = next(csv.reader([line]), [])
        except csv.Error:
            continue
        if len(row) >= 2 and row[0] and row[1].isdecimal():
            try:
                names[number(row[1], MAX_PID, "PID")] = row[0]
            except ValueError:
                continue  # not a pid: not such a row
    return names


def _is_row(line: str) -> bool:
    return line.split(None, 1)[:1] in (["TCP"], ["UDP"])


def _is_program_line(line: str) -> bool:
    """``-b``'s ``[program.exe]`` line, which only ``-b`` output has."""
    text = line.strip()
    return len(text) > 2 and text[0] == "[" and text[-1] == "]"


def _without_rows(lines: list[str]) -> ParseResult:
    """No TCP or UDP row: an empty listing, another netstat table, or not netstat at all."""
    head = []
    for line in lines:
        if line.strip():
            head.append(line.strip())
            if len(head) == _HEAD_LINES:
                break
    if not head:
        return ParseResult((), (), FORMAT)
    for line in head:
        for start, what in _OTHER_TABLES:
            if line.startswith(start):
                raise NotASocketTable(f"this is {what}, not a list of sockets")
    if looks_like("\n".join(head)):
        return ParseResult((), (), FORMAT)  # a title and a header: no socket to list
    raise UnknownFormat(f"not Windows netstat output: no TCP or UDP row; first line: {quoted(head[0])}")


class _Reader:
    """Turns rows into records for one parse, converting each distinct endpoint cell and owner once."""

    def __init__(self, source: str, names: Mapping[int, str], *, has_pid: bool, has_programs: bool) -> None:
        self.source = source
        self.names = names
        self.has_pid = has_pid
        self.has_programs = has_programs
        self.records: list[Connection] = []
        self.issues: list[ParseIssue] = []
        self._endpoints: dict[Proto, dict[str, _Endpoint]] = {proto: {} for proto in PROTOS.values()}
        self._owners: dict[tuple[int, str | None], tuple[Owner, ...]] = {}

    def read(self, line_no: int, line: str, trailer: list[str]) -> None:
        """Read a row (line ``line_no``) and the non-row lines right under it."""
        try:
            record = self._record(line, trailer)
        except ValueError as error:
            self.issues.append(ParseIssue(line_no, line, str(error)))
            return  # the lines under a bad row are its own: not reported again
        self.records.append(record)
        if not trailer:
            return
        program_at = next((i for i, text in enumerate(trailer) if _is_program_line(text)), len(trailer))
        # Without -b nothing belongs under a row; with it, nothing follows the program's line.
        stray_from = program_at + 1 if self.has_programs else 0
        for offset, text in enumerate(trailer[stray_from:], stray_from + 1):
            self.issues.append(ParseIssue(line_no + offset, text, "not a socket line: rows start with TCP or UDP"))

    def _record(self, line: str, trailer: list[str]) -> Connection:
        words = line.split()
        if len(words) < 3:
            raise ValueError(f"expected at least 3 columns, found {len(words)} (a cut line?)")
        proto = PROTOS[words[0]]
        cache = self._endpoints[proto]
        local = cache.get(words[1]) or _endpoint(words[1], proto, cache)
        peer = cache.get(words[2]) or _endpoint(words[2], proto, cache)
        local_host, local_port, local_zone, local_family, local_service = local
        peer_host, peer_port, peer_zone, peer_family, peer_service = peer
        rest = words[3:]
        pid: int | None = None
        if rest and rest[-1].isdecimal():
            pid = number(rest.pop(), MAX_PID, "PID")
        elif self.has_pid:
            raise ValueError("no PID in the last column (a cut line?)")
        no_peer = peer_port is None and peer_service is None
        program = self._program(trailer) if trailer and self.has_programs else None
        owners, status = self._owners_of(pid, program, bool(trailer) and self.has_programs)
        # Connection(...) less its Python-level __new__, as in netstat_linux: a third of the cost of a record.
        return _new(
            (
                proto,
                local_family or peer_family or 4,
                local_host,
                local_port,
                None if no_peer else peer_host,
                None if no_peer else peer_port,
                _state(proto, rest, no_peer),
                owners,
                status,
                local_zone or peer_zone,
                None,  # recv_q
                None,  # send_q
                None,  # inode
                None,  # uid
                None,  # v6only
                False,  # truncated
                self.source,
                "\n".join([line, *trailer]) if trailer else line,
                local_service,
                None if no_peer else peer_service,
                None,  # traffic
                None,  # netns
                None,  # placement
                None,  # host
            ),
        )

    @staticmethod
    def _program(trailer: list[str]) -> str | None:
        """The name on ``-b``'s ``[program.exe]`` line; None when Windows withheld it (or the row has no lines)."""
        for text in trailer:
            if _is_program_line(text):
                return text.strip()[1:-1]
        return None

    def _owners_of(
        self, pid: int | None, program: str | None, has_trailer: bool
    ) -> tuple[tuple[Owner, ...], OwnerStatus]:
        if pid is None:
            # -b without -o: a named program has no PID to hang on; lines but no name mean Windows withheld it.
            withheld = has_trailer and program is None
            return (), OwnerStatus.NOT_PERMITTED if withheld else OwnerStatus.NOT_REPORTED
        name = program or self.names.get(pid) or SYSTEM_NAMES.get(pid)
        owners = self._owners.get((pid, name))
        if owners is None:
            owners = self._owners[(pid, name)] = (Owner(pid, name),)
        return owners, OwnerStatus.KNOWN


def _endpoint(cell: str, proto: Proto, cache: dict[str, _Endpoint]) -> _Endpoint:
    """Convert a ``host:port`` cell and remember it; raises ValueError."""
    split = split_host_port(cell)
    if split is None or not split[0]:
        raise ValueError(f"cannot split address and port in {cell!r}")
    host, port_text, zone = split
    if cell[0] == "[":
        if ":" not in host or not _IPV6_CHARS.issuperset(host):
            raise ValueError(f"{host!r} in {cell!r} is not an IPv6 address")
        family = 6
    elif host.count(".") == 3 and host.replace(".", "").isdecimal():
        family = 4
    else:
        family = 0  # a host name (no -n) or ``*``: the other endpoint may tell
    port, service = (None, None) if port_text in ("0", "*") else port_or_service(port_text, proto)
    endpoint = cache[cell] = (host, port, zone or None, family, service)
    return endpoint


def _state(proto: Proto, words: list[str], no_peer: bool) -> State:
    """The state of a row from the words between its endpoints and its PID; raises ValueError."""
    if proto is Proto.UDP:
        if words:
            raise ValueError(f"unexpected {' '.join(words)!r}: a UDP row has no state")
        return State.UNCONNECTED if no_peer else State.ESTABLISHED
    if not words:
        raise ValueError("no state (a cut line?)")
    word = words[0] if len(words) == 1 else " ".join(words)
    state = parse_state(word) or EXTRA_STATES.get(word.upper())
    if state is not None:
        return state
    # A translated word: only the shape tells, and a TCP socket with no peer is a listener.
    return State.LISTEN if no_peer else State.UNKNOWN
