"""Every parser is total and range-checked: any text gives records and issues, or a clean refusal.

Hypothesis feeds each parser (and ``parse_text``, which detects the format first) arbitrary text, lines built
from the tokens real listings are made of (headers, state words, addresses, ``users:((``, ``*:*``) mixed with
hostile ones (numbers past every limit, ``²`` and Arabic-Indic digits, control characters, long runs of
spaces), and recorded outputs with such mutations. Whatever comes in:

- the parser returns a ``ParseResult`` or raises a ``NettopError`` (NotASocketTable, UnknownFormat) with a
  short, printable message; never another exception;
- every record's fields have their types and ranges (ports 0-65535, pids 0..2**31-1, uid 0..2**32-1, inode
  0..2**64-1, queues 0..2**63-1, family 4 or 6);
- every issue names a real line: ``issue.text`` is line ``issue.line_no`` of the text (lines cut at ``\\n``).

The runs are seeded (``derandomize``) and bounded, so CI sees the same examples each time. Explicit regression
tests follow for each bug found by the security review.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nettop.errors import NettopError, NotASocketTable, UnknownFormat
from nettop.formats import lsof, netstat_bsd, netstat_linux, parse_text, procnet, registry, sockstat, ss, windows
from nettop.formats.common import text_lines
from nettop.model import Connection, Owner, OwnerStatus, ParseResult, Proto, State
from tests.conftest import CORPUS, DATA

MAX_PORT = 65_535
MAX_PID = 2**31 - 1
MAX_UID = 2**32 - 1
MAX_INODE = 2**64 - 1
MAX_QUEUE = 2**63 - 1

#: Every registered format's parser (a new format is fuzzed as soon as it is registered), and detection.
PARSERS: dict[str, Callable[[str], ParseResult]] = {
    **{spec.name: spec.parse for spec in registry.FORMATS},
    "parse_text": parse_text,
}

# --- what texts are made of --------------------------------------------------------------------------------------

HEADERS = [
    "Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process",
    "Netid  State      Recv-Q Send-Q     Local Address:Port       Peer Address:Port",
    "State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess",
    "Recv-Q Send-Q Local Address:Port Peer Address:Port",
    "Active Internet connections (servers and established)",
    "Active Internet connections (including servers)",
    "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name",
    "Proto Recv-Q Send-Q Local Address Foreign Address State User Inode PID/Program name Timer",
    "Proto Recv-Q Send-Q Local Address Foreign Address State PID/Program name Security Context",
    "Proto Recv-Q Send-Q Local Address Foreign Address State User Inode PID/Program name Security Context Timer",
    "Active UNIX domain sockets (servers and established)",
    "Proto RefCnt Flags       Type       State         I-Node   PID/Program name     Path",
    "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)",
    "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)     rhiwat shiwat    pid   epid",
    "Proto Recv-Q Send-Q  Local Address  Foreign Address  (state)  rxbytes txbytes rhiwat shiwat pid epid state",
    "Proto Recv-Q Send-Q  Local Address  Foreign Address  (state)  rxbytes txbytes rhiwat shiwat process:pid state",
    "Socket           Flowhash Proto Recv-Q Send-Q  Local Address      Foreign Address    (state)",
    "Tcpcb            Proto Recv-Q Send-Q Local Address      Foreign Address    (state)   Log ID",
    "Active Multipath Internet connections",
    "COMMAND     PID   USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME",
    "COMMAND   PID  PPID USER   FD   TYPE DEVICE SIZE/OFF NODE NAME",
    "USER     COMMAND    PID   FD  PROTO     LOCAL ADDRESS         FOREIGN ADDRESS       CONN STATE",
    "USER     COMMAND    PID   FD PROTO  LOCAL ADDRESS         FOREIGN ADDRESS",
    "USER COMMAND PID FD PROTO LOCAL ADDRESS FOREIGN ADDRESS PATH STATE CONN STATE",
    "Active Connections",
    "  Proto  Local Address          Foreign Address        State           PID",
    "  Proto  Lokale Adresse         Remoteadresse          Status          PID",
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
    " ref pointer drops",
    "Num       RefCount Protocol Flags    Type St Inode Path",
    "Kernel IP routing table",
    "Name  Mtu   Network       Address            Ipkts Ierrs",
    "",
]

TOKENS = [
    # protocols and socket types
    "tcp", "udp", "raw", "tcp6", "udp6", "raw6", "udpl", "tcp4", "tcp46", "udp46", "icm4", "TCP", "UDP",
    "u_str", "u_dgr", "nl", "p_raw", "icmp6", "sctp4", "stream", "dgram", "IPv4", "IPv6", "unix",
    # states
    "LISTEN", "ESTAB", "ESTABLISHED", "UNCONN", "TIME-WAIT", "TIME_WAIT", "SYN_RCVD", "CLOSE_WAIT", "LISTENING",
    "BOUND", "ABHÖREN", "(LISTEN)", "(ESTABLISHED)", "(ST=LISTEN QR=0 QS=0)", "7", "1", "0A", "01",
    # addresses
    "127.0.0.1:80", "0.0.0.0:*", "*:*", "*:22", "[::]:*", "[::1]:631", ":::22", "::1:5432", "[::ffff:127.0.0.1]:8",
    "127.0.0.1%lo:53", "[fe80::1]%v0:123", "[fe80::1%9]:1900", "0.0.0.0:0", "[::]:0", "*.*", "*.22",
    "192.168.1.1.22", "fe80::1%lo0.123", "1.2.3.4:5->6.7.8.9:10", "localhost:ssh", "host:http-alt", "*:kernel",
    "0100007F:0050", "00000000:0000", "00000000000000000000000001000000:0016", "0100007F:FFFFF", "0100007F:٣",
    "rtnl:kernel", "/run/dbus/system_bus_socket", "@abstract", "*%ens33:ipv6-icmp", "[zz::1]:1",
    # owners and extras
    'users:(("sshd",pid=1,fd=3))', 'users:(("a",pid=1,fd=3),("b",pid=2,fd=4))', 'users:(("x",12,3))',
    'users:((', 'users:(("', '("', '",pid=', ",fd=", "))", "),(", 'users:(("a",pid=4294967296,fd=3))',
    "ino:12345", "ino:18446744073709551616", "uid:1000", "uid:4294967296", "sk:1", "v6only:1", "<->",
    " timer:(keepalive,1min,0)", " timer:(", "cgroup:/", "600/sshd: /usr/sbin", "1/systemd", "-", "?", "??",
    "4294967296/big", "[svchost.exe]", "Can not obtain ownership information", "RpcSs", "0t0", "0x8b17115bf97d4e6d",
    "nginx:1234", "Autodesk Fusion:22712", "off (0.00/0/0)", "lsof: WARNING: can't stat()",
    # numbers, plain and hostile
    "0", "5", "128", "4096", "65535", "65536", "70000", "4294967296", "2147483648", "99999999999999999999",
    "18446744073709551616", "9223372036854775808", "0000000000000000000000000000080", "-1", "+1", "1_0",
    "²", "١٢٣", "٣", "¹²³", "Ⅻ", "1e5", "0x10", "",
    # control characters and odd spaces
    "\x1b[2J", "\x1b]0;pwned\x07", "\x00", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\ufeff", "\r", "\t",
    " " * 300, "\t" * 40, "\u00a0", "\u3000",
]  # fmt: skip

#: Characters ``str.split`` and ``str.strip`` take for spaces but a check for " " or "\t" does not.
ODD_SPACES = ["\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u2028", "\u3000", "\u00a0"]
SEPARATORS = [" ", " ", " ", "  ", "    ", "\t", " " * 40, "", "\u2003"]


def _recorded_texts() -> list[str]:
    """Recorded outputs to mutate: the shared corpus when it is there, and the repository's own test data."""
    roots = [DATA] + ([CORPUS] if CORPUS.is_dir() else [])
    texts = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix not in (".json", ".md", ".py") and not path.name.startswith("."):
                lines = text_lines(path.read_bytes().decode("utf-8", "replace"))
                texts.append("\n".join(lines[:40]) + "\n")  # the head: headers and a few rows of each kind
    return texts


RECORDED = _recorded_texts()

token = st.one_of(st.sampled_from(TOKENS), st.text(max_size=8))


@st.composite
def plausible_line(draw: st.DrawFn) -> str:
    words = draw(st.lists(token, max_size=12))
    line = ""
    for word in words:
        line += word + draw(st.sampled_from(SEPARATORS))
    return draw(st.sampled_from(["", "", " ", "  ", "\t", *ODD_SPACES])) + line


@st.composite
def plausible_text(draw: st.DrawFn) -> str:
    """A header or two (real ones), then rows built from real and hostile tokens."""
    lines = draw(st.lists(st.sampled_from(HEADERS), min_size=0, max_size=2))
    lines += draw(st.lists(st.one_of(plausible_line(), st.text(st.sampled_from(ODD_SPACES), max_size=3)), max_size=10))
    if draw(st.booleans()):
        lines = [*lines[:1], *draw(st.permutations(lines[1:]))]
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))


@st.composite
def mutated_recording(draw: st.DrawFn) -> str:
    """A recorded output with some of its words replaced, cut, repeated or joined by hostile tokens."""
    lines = text_lines(draw(st.sampled_from(RECORDED)))
    for _ in range(draw(st.integers(0, 6))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        words = lines[at].split(" ")
        where = draw(st.integers(0, len(words) - 1))
        action = draw(st.sampled_from(["replace", "insert", "cut", "repeat", "drop"]))
        if action == "replace":
            words[where] = draw(token)
        elif action == "insert":
            words.insert(where, draw(token))
        elif action == "cut":
            words = words[:where]
        elif action == "repeat":
            words.insert(where, words[where] * draw(st.integers(2, 50)))
        else:
            del lines[at]
            continue
        lines[at] = " ".join(words)
    return "\n".join(lines) + "\n"


#: Each format's rows, column by column: (cells a real row has there, bad cells for that place). ``shaped_text``
#: builds rows of good cells and spoils one now and then, with a bad cell or a hostile token, so that each parser
#: meets bad values exactly where it reads them.
CELLS: dict[str, tuple[list[str], list[str]]] = {
    "netid": (["tcp", "udp", "raw"], ["u_str", "nl", "p_raw", "mptcp", "TCP"]),
    "ss_state": (["LISTEN", "ESTAB", "UNCONN", "TIME-WAIT", "SYN-SENT", "CLOSE-WAIT"], ["LISTENING", "7"]),
    "queue": (["0", "0", "0", "1", "128", "4096", "9223372036854775807"],
              ["9223372036854775808", "99999999999999999999", "²", "٣", "-1", "1_0", "+1"]),
    "address": (["127.0.0.1:80", "0.0.0.0:*", "*:*", "*:22", "[::]:*", "[::1]:631", ":::22", "[::ffff:1.2.3.4]:8",
                 "127.0.0.1%lo:53", "[fe80::1]%v0:123", "1.2.3.4:65535", "localhost:ssh", "1.2.3.4:00080"],
                ["1.2.3.4:65536", "1.2.3.4:70000", "1.2.3.4:٣", "1.2.3.4:²", "1.2.3.4:no-such-svc", "/run/x", "12345",
                 "*", "1.2.3.4:99999999999999999999", "[::1:5", "1.2.3.4:\x00"]),
    "ss_extra": (['users:(("sshd",pid=1,fd=3))', 'users:(("a",pid=1,fd=3),("b",pid=2,fd=4))', 'users:(("x",12,3))',
                  "ino:1234 sk:1", "uid:1000 ino:5 sk:2 v6only:1 <->", "timer:(keepalive,1min,0)", ""],
                 ['users:(("a",pid=2147483648,fd=3))', 'users:(("a",pid=٣,fd=3))', 'users:(("', 'users:(("a",pid=1',
                  "uid:4294967296 ino:5", "ino:18446744073709551616", "ino:٣", "uid:² ino:5"]),
    "proto": (["tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udpl"], ["TCP", "sctp", "unix"]),
    "net_state": (["LISTEN", "ESTABLISHED", "TIME_WAIT", "", "7", "1", "CLOSE_WAIT"], ["ESTAB", "٣"]),
    "user": (["0", "1000", "4294967295", "root", "systemd-resolve", "١٢"], ["4294967296", "²"]),
    "inode": (["0", "12345", "18446744073709551615"], ["18446744073709551616", "٣", "x"]),
    "program": (["600/sshd: /usr/sbin", "1/systemd", "-", "2147483647/max"],
                ["2147483648/big", "٣/x", "/x", "", "4294967296/x"]),
    "timer": (["off (0.00/0/0)", "keepalive (7.16/0/0)"], ["", "off", "(", "   "]),
    "bsd_proto": (["tcp4", "tcp6", "tcp46", "udp4", "udp6", "icm4", "tcp"], ["tcp5", "TCP"]),
    "bsd_address": (["192.168.1.1.22", "*.*", "*.22", "::1.5432", "fe80::1%lo0.123", "host.http", "1.2.3.4.*"],
                    ["127.0.0.1.65536", "1.2.3.4.٣", "1.2.3.4.²", "nodot", "1.2.3.4.no-such-svc"]),
    "bsd_state": (["LISTEN", "ESTABLISHED", "SYN_RCVD", "CLOSED", "12"], [""]),
    "bsd_pid": (["0", "1", "2147483647", "nginx:1234", "Autodesk Fusion:22712"],
                ["2147483648", "٣", ":", "x:²", "4294967296"]),
    "command": (["nginx", "sshd", "my\\x20srv", "d\\xc3\\xa6", "\\x", "?", "??"], ["\\xZZ", "\\xd8"]),
    "pid": (["1", "1000", "2147483647", "?", "??"], ["2147483648", "4294967296", "٣", "²"]),
    "lsof_user": (["root", "1000"], ["4294967296", "٣"]),
    "fd": (["3u", "6u", "8"], ["?"]),
    "family": (["IPv4", "IPv6"], ["unix", "ipv4"]),
    "device": (["21535", "0x8b17115bf97d4e6d"], ["18446744073709551616", "٣", ""]),
    "size": (["0t0"], [""]),
    "node": (["TCP", "UDP", "UDPLITE"], ["SCTP"]),
    "lsof_name": (["*:22 (LISTEN)", "1.2.3.4:5->6.7.8.9:10 (ESTABLISHED)", "[::1]:631", "*:*",
                   "1.2.3.4:5 (ST=LISTEN QR=0 QS=9223372036854775807)"],
                  ["1.2.3.4:70000", "1.2.3.4:5 (ST=LISTEN QR=0 QS=9223372036854775808)", "[::1:5", "x",
                   "1.2.3.4:5 (QR=٣)", "1.2.3.4:²->*:*"]),
    "sockstat_proto": (["tcp4", "tcp6", "tcp46", "udp4", "udp6"], ["sctp4", "stream", "tcp", "div4"]),
    "win_proto": (["TCP", "UDP"], ["tcp"]),
    "win_address": (["0.0.0.0:135", "0.0.0.0:0", "[::]:0", "*:*", "[fe80::1%9]:1900", "MYPC:0"],
                    ["127.0.0.1:70000", "[zz::1]:1", "1.2.3.4:٣", "1.2.3.4:²"]),
    "win_state": (["LISTENING", "ESTABLISHED", "TIME_WAIT", "ABHÖREN", "BOUND"], [""]),
    "win_pid": (["0", "4", "1712", "2147483647"], ["2147483648", "٣", "²", "99999999999999999999"]),
    "sl": (["0:", "1:"], ["x"]),
    "hex_address": (["0100007F:0050", "00000000:0000", "00000000000000000000000001000000:0016", "0100007F:FFFF"],
                    ["0100007F:10000", "0100007F:٣", "0100007G:0050", "0100007F:", "0100007F:-1"]),
    "st": (["0A", "01", "07", "FF"], ["100", "٣", "-1"]),
    "txrx": (["00000000:00000000", "7FFFFFFFFFFFFFFF:0"], ["8000000000000000:0", "0:٣", "x", "0:-1"]),
    "trtm": (["00:00000000"], []),
    "retr": (["00000000"], []),
    "uid": (["0", "1000", "4294967295"], ["4294967296", "٣", "-1"]),
    "timeout": (["0"], []),
}  # fmt: skip

SHAPES: dict[str, tuple[list[str], list[str], list[str]]] = {
    # format: (headers, the columns of a row, the columns that may follow)
    "ss": (HEADERS[0:4], ["netid", "ss_state", "queue", "queue", "address", "address"], ["ss_extra"]),
    "netstat-linux": (
        HEADERS[6:10],
        ["proto", "queue", "queue", "address", "address", "net_state"],
        ["user", "inode", "program", "timer"],
    ),
    "netstat-bsd": (HEADERS[12:18], ["bsd_proto", "queue", "queue", "bsd_address", "bsd_address", "bsd_state"],
                    ["queue", "queue", "bsd_pid", "bsd_pid"]),
    "lsof": (HEADERS[19:21], ["command", "pid", "lsof_user", "fd", "family", "device", "size", "node", "lsof_name"],
             []),
    "sockstat": (HEADERS[21:24], ["lsof_user", "command", "pid", "fd", "sockstat_proto", "address", "address"],
                 ["bsd_state"]),
    "netstat-windows": (HEADERS[24:27], ["win_proto", "win_address", "win_address", "win_state"], ["win_pid"]),
    "proc-net": (HEADERS[27:29], ["sl", "hex_address", "hex_address", "st", "txrx", "trtm", "retr", "uid",
                                  "timeout", "inode"], []),
}  # fmt: skip

hostile = st.sampled_from(TOKENS)


@st.composite
def shaped_text(draw: st.DrawFn, format: str | None = None) -> str:
    """A format's header and rows of its shape, most with one bad cell, some cut short."""
    headers, columns, optional = SHAPES[format or draw(st.sampled_from(sorted(SHAPES)))]
    lines = [draw(st.sampled_from(headers))]
    for _ in range(draw(st.integers(1, 12))):
        kinds = columns + optional[: draw(st.integers(0, len(optional)))]
        cells = [draw(st.sampled_from(CELLS[kind][0])) for kind in kinds]
        if draw(st.integers(0, 3)):  # spoil one cell
            at = draw(st.integers(0, len(cells) - 1))
            bad = CELLS[kinds[at]][1]
            cells[at] = draw(st.sampled_from(bad) if bad and draw(st.integers(0, 3)) else hostile)
        if draw(st.integers(0, 5)) == 0:
            cells = cells[: draw(st.integers(0, len(cells)))]
        line = ""
        for cell in cells:
            line += cell + draw(st.sampled_from(SEPARATORS[:6]))
        lines.append(draw(st.sampled_from(["", "", "", "  ", *ODD_SPACES])) + line)
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines) + "\n"


any_text = st.text(max_size=400)
texts = st.one_of(any_text, plausible_text(), mutated_recording(), shaped_text())

# --- the properties ----------------------------------------------------------------------------------------------


def _in(value: object, high: int) -> bool:
    return type(value) is int and 0 <= value <= high


def check_record(record: Connection) -> None:
    assert type(record) is Connection
    assert isinstance(record.proto, Proto) and isinstance(record.state, State), record
    assert isinstance(record.owner_status, OwnerStatus), record
    assert record.family in (4, 6) and type(record.family) is int, record
    assert type(record.local_ip) is str, record
    assert record.remote_ip is None or type(record.remote_ip) is str, record
    for port in (record.local_port, record.remote_port):
        assert port is None or _in(port, MAX_PORT), record
    for queue in (record.recv_q, record.send_q):
        assert queue is None or _in(queue, MAX_QUEUE), record
    assert record.inode is None or _in(record.inode, MAX_INODE), record
    assert record.uid is None or _in(record.uid, MAX_UID), record
    assert record.v6only is None or type(record.v6only) is bool, record
    assert type(record.truncated) is bool and type(record.raw) is str and type(record.source) is str, record
    assert record.interface is None or type(record.interface) is str, record
    assert len(record) == len(Connection._fields), "every field, as the fast constructor must be given them"
    for port, service in ((record.local_port, record.local_service), (record.remote_port, record.remote_service)):
        assert service is None or (type(service) is str and service and port is None), record
    assert type(record.owners) is tuple, record
    for owner in record.owners:
        assert type(owner) is Owner and (owner.pid is None or _in(owner.pid, MAX_PID)), record
        assert owner.pid is not None or owner.name, "an owner without a pid is named"
        assert owner.name is None or type(owner.name) is str, record
        assert owner.user is None or type(owner.user) is str, record


def check_total(parse: Callable[[str], ParseResult], text: str) -> ParseResult | None:
    """Parse ``text``: a result whose every record and issue is sound, or a clean refusal (then None)."""
    try:
        result = parse(text)
    except NettopError as error:
        assert isinstance(error, (NotASocketTable, UnknownFormat)), error
        message = str(error)
        assert message, "a refusal says why"
        assert len(message) < 400, "a refusal quotes a short cut of the input"
        assert "\x1b" not in message and "\x00" not in message and "\r" not in message, "and a printable one"
        return None
    assert type(result) is ParseResult
    for record in result.records:
        check_record(record)
    lines = text_lines(text)
    for issue in result.issues:
        assert type(issue.line_no) is int and 1 <= issue.line_no <= len(lines), issue
        assert issue.text == lines[issue.line_no - 1], issue
        assert type(issue.reason) is str and issue.reason, issue
    return result


FUZZ = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@pytest.mark.parametrize("name", PARSERS)
@FUZZ
@given(text=any_text)
def test_any_text_gives_sound_records_or_a_clean_refusal(name: str, text: str) -> None:
    check_total(PARSERS[name], text)


@pytest.mark.parametrize("name", PARSERS)
@FUZZ
@given(text=plausible_text())
def test_lines_of_real_and_hostile_tokens(name: str, text: str) -> None:
    check_total(PARSERS[name], text)


@pytest.mark.parametrize("name", PARSERS)
@FUZZ
@given(text=mutated_recording())
def test_mutated_recordings(name: str, text: str) -> None:
    check_total(PARSERS[name], text)


@pytest.mark.parametrize("name", sorted(SHAPES))
@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_rows_of_each_format_with_hostile_cells(name: str, data: st.DataObject) -> None:
    """Each parser, and detection, on its own format's rows: bad cells where the parser reads them."""
    text = data.draw(shaped_text(name))
    check_total(PARSERS[name], text)
    check_total(parse_text, text)


@pytest.mark.parametrize("name", sorted(n for n in PARSERS if n != "parse_text"))
@FUZZ
@given(text=texts)
def test_parse_text_with_a_named_format_is_the_parser(name: str, text: str) -> None:
    """``--from-file --format X`` goes the same way as the parser."""
    check_total(lambda t: parse_text(t, name), text)


def test_an_unknown_format_name_is_refused_printably() -> None:
    with pytest.raises(UnknownFormat) as error:
        parse_text("", "\x1b[2J" + "x" * 500)
    assert "\x1b" not in str(error.value) and len(str(error.value)) < 250


# --- the bugs the security review found, one by one ------------------------------------------------------------

SS_HEAD = "Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
SS_ROW = "tcp   LISTEN {recv}      5      127.0.0.1:{port} 0.0.0.0:*  {extra}\n"
NETSTAT_HEAD = "Proto Recv-Q Send-Q Local Address Foreign Address State User Inode PID/Program name\n"
NETSTAT_ROW = "tcp {recv} 0 127.0.0.1:{port} 0.0.0.0:* LISTEN 0 {inode} {pid}/python3\n"
BSD_HEAD = (
    "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)     rhiwat shiwat    pid   epid\n"
)
BSD_ROW = "tcp4  {recv}  0  127.0.0.1.{port}  *.*  LISTEN  131072 131072 {pid} 0\n"
LSOF_HEAD = "COMMAND     PID   USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME\n"
LSOF_ROW = "nginx {pid} www 6u IPv4 {inode} 0t0 TCP 127.0.0.1:{port} (LISTEN)\n"
SOCKSTAT_HEAD = "USER     COMMAND    PID   FD  PROTO     LOCAL ADDRESS         FOREIGN ADDRESS       CONN STATE\n"
SOCKSTAT_ROW = "www      nginx      {pid} 6   tcp4      127.0.0.1:{port}          *:*                   LISTEN\n"
WINDOWS_HEAD = (
    "Active Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n"
)
WINDOWS_ROW = "  TCP    127.0.0.1:{port}          0.0.0.0:0              LISTENING       {pid}\r\n"
PROC_HEAD = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
PROC_ROW = "   0: 0100007F:{port} 00000000:0000 0A 00000000:{recv} 00:00000000 00000000 {uid} 0 {inode} 1\n"


def good(**cells: str) -> dict[str, str]:
    return {"port": "80", "pid": "1000", "recv": "0", "inode": "12345", "uid": "0", "extra": ""} | cells


#: (parser, header, row template, the bad cells): the row with good cells is read; with the bad ones, it is an
#: issue on its line, and the good row after it is read.
BAD_ROWS = {
    "ss port 70000": (ss.parse, SS_HEAD, SS_ROW, good(port="70000")),
    "ss port 99999999999999999999": (ss.parse, SS_HEAD, SS_ROW, good(port="99999999999999999999")),
    "ss port in Arabic-Indic digits": (ss.parse, SS_HEAD, SS_ROW, good(port="٨٠")),
    "ss pid 2**32": (ss.parse, SS_HEAD, SS_ROW, good(extra='users:(("a",pid=4294967296,fd=3))')),
    "ss pid 2**31": (ss.parse, SS_HEAD, SS_ROW, good(extra='users:(("a",pid=2147483648,fd=3))')),
    "ss old-style pid 2**32": (ss.parse, SS_HEAD, SS_ROW, good(extra='users:(("a",4294967296,3))')),
    "ss inode 2**64": (ss.parse, SS_HEAD, SS_ROW, good(extra="ino:18446744073709551616 sk:1")),
    "ss inode in Arabic-Indic digits": (ss.parse, SS_HEAD, SS_ROW, good(extra="ino:١٢٣ sk:1")),
    "ss uid 2**32": (ss.parse, SS_HEAD, SS_ROW, good(extra="uid:4294967296 ino:5 sk:1")),
    "ss queue ²": (ss.parse, SS_HEAD, SS_ROW, good(recv="²")),
    "ss queue in Arabic-Indic digits": (ss.parse, SS_HEAD, SS_ROW, good(recv="٣")),
    "ss queue 2**63": (ss.parse, SS_HEAD, SS_ROW, good(recv="9223372036854775808")),
    "netstat queue ²": (netstat_linux.parse, NETSTAT_HEAD, NETSTAT_ROW, good(recv="²")),
    "netstat queue in Arabic-Indic digits": (netstat_linux.parse, NETSTAT_HEAD, NETSTAT_ROW, good(recv="٣")),
    "netstat queue 2**64": (netstat_linux.parse, NETSTAT_HEAD, NETSTAT_ROW, good(recv="18446744073709551616")),
    "netstat port 70000": (netstat_linux.parse, NETSTAT_HEAD, NETSTAT_ROW, good(port="70000")),
    "netstat pid 2**32": (netstat_linux.parse, NETSTAT_HEAD, NETSTAT_ROW, good(pid="4294967296")),
    "netstat inode 2**64": (netstat_linux.parse, NETSTAT_HEAD, NETSTAT_ROW, good(inode="18446744073709551616")),
    "netstat inode ²": (netstat_linux.parse, NETSTAT_HEAD, NETSTAT_ROW, good(inode="²")),
    "bsd queue ²": (netstat_bsd.parse, BSD_HEAD, BSD_ROW, good(recv="²")),
    "bsd port 70000": (netstat_bsd.parse, BSD_HEAD, BSD_ROW, good(port="70000")),
    "bsd pid 2**32": (netstat_bsd.parse, BSD_HEAD, BSD_ROW, good(pid="4294967296")),
    "bsd pid in Arabic-Indic digits": (netstat_bsd.parse, BSD_HEAD, BSD_ROW, good(pid="١٢")),
    "lsof pid 2**32": (lsof.parse, LSOF_HEAD, LSOF_ROW, good(pid="4294967296")),
    "lsof port 70000": (lsof.parse, LSOF_HEAD, LSOF_ROW, good(port="70000")),
    "lsof inode 2**64": (lsof.parse, LSOF_HEAD, LSOF_ROW, good(inode="18446744073709551616")),
    "sockstat pid 2**32": (sockstat.parse, SOCKSTAT_HEAD, SOCKSTAT_ROW, good(pid="4294967296")),
    "sockstat pid in Arabic-Indic digits": (sockstat.parse, SOCKSTAT_HEAD, SOCKSTAT_ROW, good(pid="١٢")),
    "sockstat port 70000": (sockstat.parse, SOCKSTAT_HEAD, SOCKSTAT_ROW, good(port="70000")),
    "windows pid 2**32": (windows.parse, WINDOWS_HEAD, WINDOWS_ROW, good(pid="4294967296")),
    "windows pid in Arabic-Indic digits": (windows.parse, WINDOWS_HEAD, WINDOWS_ROW, good(pid="١٢")),
    "windows port 70000": (windows.parse, WINDOWS_HEAD, WINDOWS_ROW, good(port="70000")),
    "proc port 0x11170": (procnet.parse, PROC_HEAD, PROC_ROW, good(port="11170", recv="00000000")),
    "proc inode 2**64": (procnet.parse, PROC_HEAD, PROC_ROW, good(port="0050", recv="0", inode=str(2**64))),
    "proc uid 2**32": (procnet.parse, PROC_HEAD, PROC_ROW, good(port="0050", recv="0", uid=str(2**32))),
    "proc queue 2**63": (procnet.parse, PROC_HEAD, PROC_ROW, good(port="0050", recv="8000000000000000")),
    "proc queue in Arabic-Indic digits": (procnet.parse, PROC_HEAD, PROC_ROW, good(port="0050", recv="٣")),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_a_value_out_of_range_or_not_ascii_digits_makes_its_line_an_issue(case: str) -> None:
    parse, head, row, bad = BAD_ROWS[case]
    fine = good(port="0050" if parse is procnet.parse else "80")
    text = head + row.format(**bad) + row.format(**fine)
    result = check_total(parse, text)
    assert result is not None
    lines = text_lines(text)
    assert [issue.line_no for issue in result.issues] == [len(lines) - 1], result.issues
    assert [record.raw for record in result.records] == [lines[-1]]
    assert result.records[0].local_port == 80


def test_the_largest_values_are_read() -> None:
    extra = 'users:(("a",pid=2147483647,fd=3)) uid:4294967295 ino:18446744073709551615 sk:1'
    text = SS_HEAD + "tcp LISTEN 9223372036854775807 00005 127.0.0.1:65535 0.0.0.0:* " + extra + "\n"
    (record,) = ss.parse(text).records
    assert (record.local_port, record.pid, record.uid, record.inode) == (65535, 2**31 - 1, 2**32 - 1, 2**64 - 1)
    assert (record.recv_q, record.send_q) == (2**63 - 1, 5)
    windows_zero = windows.parse(WINDOWS_HEAD + WINDOWS_ROW.format(port="135", pid="0")).records[0]
    windows_system = windows.parse(WINDOWS_HEAD + WINDOWS_ROW.format(port="445", pid="4")).records[0]
    assert (windows_zero.pid, windows_system.pid) == (0, 4)  # real pids on Windows


def test_a_netstat_queue_of_superscript_two_is_an_issue_not_a_crash() -> None:
    """``'²'.isdigit()`` is True and ``int('²')`` raises: the first check alone let it through to int()."""
    result = netstat_linux.parse(NETSTAT_HEAD + NETSTAT_ROW.format(**good(recv="²")))
    assert result.records == () and [i.line_no for i in result.issues] == [2]
    assert "not a number" in result.issues[0].reason


def test_a_security_context_row_ending_in_spaces_is_an_issue_not_a_crash() -> None:
    head = "Proto Recv-Q Send-Q Local Address Foreign Address State PID/Program name Security Context\n"
    result = netstat_linux.parse(head + "tcp 0 0 127.0.0.1:80 0.0.0.0:* LISTEN   \n")
    assert result.records == () and [i.line_no for i in result.issues] == [2]


def test_ss_x_is_refused_by_name() -> None:
    text = (
        SS_HEAD
        + 'u_str ESTAB  0      0      /run/dbus/system_bus_socket 19064   * 19065 users:(("dbus",pid=1,fd=3))\n'
        + "u_dgr UNCONN 0      0      /run/systemd/notify 13563   * 0\n"
        + "u_seq LISTEN 0      4096   /run/udev/control 12345   * 0\n"
    )
    with pytest.raises(NotASocketTable, match=r"this is a list of UNIX sockets \(ss -x\), not a list of internet"):
        ss.parse(text)
    with pytest.raises(NotASocketTable, match="UNIX sockets"):
        parse_text(text)
    with pytest.raises(NotASocketTable, match="UNIX sockets"):  # -H: no header
        ss.parse(text.partition("\n")[2])


def test_other_lists_of_non_internet_sockets_are_refused_by_name() -> None:
    netlink = SS_HEAD + "nl    UNCONN 0      0      rtnl:kernel        *\nnl UNCONN 0 0 audit:systemd/1 *\n"
    with pytest.raises(NotASocketTable, match=r"netlink sockets \(ss --netlink\)"):
        ss.parse(netlink)
    mixed = SS_HEAD + "nl UNCONN 0 0 rtnl:kernel *\np_raw UNCONN 0 0 *:eth0 *\n"
    with pytest.raises(NotASocketTable, match="netlink and packet sockets"):
        ss.parse(mixed)
    # One socket type asked for (ss -A unix_stream): no Netid column, the cells tell.
    unix_stream = (
        "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
        "ESTAB  0      0      /run/dbus/system_bus_socket 19064 * 19065\n"
        "LISTEN 0      4096   @/tmp/.X11-unix/X0 12345 * 0\n"
    )
    with pytest.raises(NotASocketTable, match="UNIX sockets"):
        ss.parse(unix_stream)


def test_a_mixed_listing_still_parses_and_reports_the_others() -> None:
    text = (
        SS_HEAD + "u_str ESTAB 0 0 /run/x 19064 * 19065\n" + SS_ROW.format(**good()) + "nl UNCONN 0 0 rtnl:kernel *\n"
    )
    result = ss.parse(text)
    assert [r.local_port for r in result.records] == [80]
    # Left out on purpose, and counted by kind: not lines that could not be read.
    assert result.issues == () and result.skipped == (("UNIX", 1), ("netlink", 1))


def test_a_listing_of_bad_rows_is_not_taken_for_another_kind() -> None:
    """Only rows that are all other sockets are refused; garbage beside them stays issues."""
    text = SS_HEAD + "u_str ESTAB 0 0 /run/x 19064 * 19065\ntcp BOGUS 0 0 1.2.3.4:1 1.2.3.4:2\n\x0b\n"
    result = ss.parse(text)
    assert result.records == () and [i.line_no for i in result.issues] == [3, 4]
    assert result.skipped == (("UNIX", 1),)


def test_ss_owner_lists_are_read_in_one_pass() -> None:
    """The owner list is read entry by entry: odd names, old ss, several owners; a broken entry is an issue."""
    rows = [
        'users:(("my srv:x (1",pid=6702,fd=3))',
        'users:(("a\\",b",pid=7,fd=3),("c",pid=8,fd=4)) ino:5 sk:1',
        'users:(("sshd",1231,3))',
        'users:(("a",pid=x,fd=3),("b",pid=2,fd=4))',
        'users:(("a",pid=1' + ',("' * 1000,
    ]
    text = SS_HEAD + "".join(SS_ROW.format(**good(port=str(8000 + i), extra=extra)) for i, extra in enumerate(rows))
    result = ss.parse(text)
    owners = [[(o.name, o.pid) for o in r.owners] for r in result.records]
    assert owners == [[("my srv:x (1", 6702)], [('a\\",b', 7), ("c", 8)], [("sshd", 1231)]]
    assert result.records[1].inode == 5
    assert [i.line_no for i in result.issues] == [5, 6]


def test_many_owners_keep_their_order_and_are_counted_once() -> None:
    rows = "".join(LSOF_ROW.format(**good(pid=str(pid))) for pid in (3, 1, 2, 1, 3, 4))
    (record,) = lsof.parse(LSOF_HEAD + rows).records
    assert [o.pid for o in record.owners] == [3, 1, 2, 4]
    rows = "".join(SOCKSTAT_ROW.format(**good(pid=str(pid))) for pid in (3, 1, 2, 1, 3, 4))
    (record,) = sockstat.parse(SOCKSTAT_HEAD + rows).records
    assert [o.pid for o in record.owners] == [3, 1, 2, 4]


def test_a_sockstat_command_keeps_its_inner_spaces() -> None:
    row = "www      my  app 2  1234 6   tcp4      127.0.0.1:80          *:*                   LISTEN\n"
    (record,) = sockstat.parse(SOCKSTAT_HEAD + row).records
    assert (record.program, record.pid) == ("my  app 2", 1234)
    blank = "www                 1234 6   tcp4      127.0.0.1:80          *:*                   LISTEN\n"
    (record,) = sockstat.parse(SOCKSTAT_HEAD + blank).records
    assert (record.program, record.pid) == (None, 1234)


def test_refusals_quote_a_short_printable_cut_of_the_input() -> None:
    hostile = "\x1b]0;pwned\x07\x1b[2J" + "x" * 100_000
    for parse in (parse_text, ss.parse, netstat_linux.parse, netstat_bsd.parse, lsof.parse, sockstat.parse):
        with pytest.raises(NettopError) as error:
            parse(hostile + "\n")
        message = str(error.value)
        assert "\x1b" not in message and "\x07" not in message, message
        assert "\\x1b" in message and len(message) < 300, message
    with pytest.raises(UnknownFormat) as error:
        windows.parse(hostile)
    assert "\x1b" not in str(error.value) and len(str(error.value)) < 300
    with pytest.raises(UnknownFormat) as error:
        procnet.parse(hostile)
    assert "\x1b" not in str(error.value) and len(str(error.value)) < 300


def test_detection_looks_past_leading_blank_lines_without_splitting_the_text() -> None:
    text = "\n" * 50_000 + SS_HEAD + SS_ROW.format(**good())
    result = parse_text(text)
    assert result.format == "ss" and [r.local_port for r in result.records] == [80]
    with pytest.raises(UnknownFormat, match="empty"):
        parse_text(" \n\t\n" * 10_000)
