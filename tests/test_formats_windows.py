"""The Windows netstat and tasklist parsers against jc's Windows 10 recordings, jc's own parse of them, and hand-made
inputs for what the corpus lacks (a translated listing in the console code page, tasklist, more ``-b`` layouts)."""

from __future__ import annotations

import json
import socket
from collections import Counter
from pathlib import Path

import pytest

from nettop.errors import NotASocketTable, UnknownFormat
from nettop.formats import windows
from nettop.formats.common import STATE_WORDS
from nettop.formats.windows import decode, looks_like, parse, parse_tasklist
from nettop.model import Connection, Owner, OwnerStatus, ParseIssue, Proto, State
from tests.conftest import DATA

WINDOWS = Path("jc") / "windows-10"
HANDMADE = DATA / "handmade"
#: Hand-written in the column widths of jc's windows-10 files (the protocol in 5, each address in 21 then 2 spaces,
#: the state in 14 then 2), CRLF, encoded in cp850: the OEM code page German Windows writes to a console or pipe.
#: The words are real: title, header and states from a German ``netstat -an`` capture published in a 2019 blog
#: post ("Netzwerk Analyse", where cp850's Ö shows as cp1252's ``™``: ``ABH™REN``, ``FIN_WARTEN_2``), the German
#: tests of https://github.com/L1M80/porta/pull/59, https://github.com/hanlulong/stata-mcp/issues/64 (byte 0x99
#: for Ö), and SYN_GESENDET from sebhildebrandt/systeminformation's lib/network.js. Line 10 is cut after the
#: foreign address.
GERMAN_ANO = HANDMADE / "windows-de-netstat-ano.cp850.out"
#: ``-anob`` laid out as jc's netstat-aonb.out (service line, ``[program.exe]``, ``Can not obtain ownership
#: information``, no line under pid 0), with what that file lacks: an IPv6 link-local connection with zones at both
#: ends, SYN_SENT, a connected UDP socket, a program name holding a comma, and a last line cut short.
ANOB = HANDMADE / "windows-netstat-anob.out"
#: ``tasklist /FO CSV /NH`` on a German system (``"5.812 K"``), laid out as Microsoft documents it
#: (https://learn.microsoft.com/windows-server/administration/windows-commands/tasklist), plus two bad lines.
TASKLIST = HANDMADE / "windows-tasklist.csv"

#: What each recording holds: records, and the lines reported as issues.
CORPUS_COUNTS = {"netstat-an.out": (259, [264]), "netstat-aon.out": (208, []), "netstat-aonb.out": (318, [])}


def read(path: Path) -> str:
    return decode(path.read_bytes())


def view(r: Connection) -> tuple:
    return (
        r.proto.value,
        r.family,
        r.local_ip,
        r.local_port,
        r.remote_ip,
        r.remote_port,
        r.state.value,
        r.pid,
        r.program,
        r.interface,
    )


# --- the jc recordings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CORPUS_COUNTS))
def test_every_recording_parses(corpus: Path, name: str) -> None:
    text = read(corpus / WINDOWS / name)
    assert b"\r\n" in (corpus / WINDOWS / name).read_bytes()  # CRLF, as Windows writes it
    assert looks_like(text)
    result = parse(text)
    records, issue_lines = CORPUS_COUNTS[name]
    assert result.format == "netstat-windows"
    assert len(result.records) == records
    assert [issue.line_no for issue in result.issues] == issue_lines
    assert {r.source for r in result.records} == {"netstat"}
    assert all(r.recv_q is r.send_q is r.inode is r.uid is r.v6only is None for r in result.records)
    assert not any(r.truncated for r in result.records)


def test_the_hand_edited_address_is_an_issue_and_the_rest_parses(corpus: Path) -> None:
    """The collector replaced part of the last address with ``asda``, which is not hex (corpus README)."""
    result = parse(read(corpus / WINDOWS / "netstat-an.out"))
    (issue,) = result.issues
    assert issue.line_no == 264
    assert issue.text.split()[1] == "[fe80::asda:4124:2096:62b2%9]:1900"
    assert "not an IPv6 address" in issue.reason
    assert view(result.records[-1]) == ("udp", 6, "::1", 52290, None, None, "UNCONNECTED", None, None, None)


def test_without_o_there_are_no_owners(corpus: Path) -> None:
    result = parse(read(corpus / WINDOWS / "netstat-an.out"))
    assert {(r.owners, r.owner_status) for r in result.records} == {((), OwnerStatus.NOT_REPORTED)}


def test_recorded_rows_field_by_field(corpus: Path) -> None:
    records = parse(read(corpus / WINDOWS / "netstat-aonb.out")).records
    by_local = {(r.proto, r.local_ip, r.local_port, r.remote_port): r for r in records}
    rpc = by_local[(Proto.TCP, "0.0.0.0", 135, None)]
    assert rpc == Connection(
        Proto.TCP,
        4,
        "0.0.0.0",
        135,
        None,
        None,
        State.LISTEN,
        (Owner(1712, "svchost.exe"),),
        OwnerStatus.KNOWN,
        source="netstat",
        raw="  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1712\n  RpcSs\n [svchost.exe]",
    )
    # pid 4 and "Can not obtain ownership information": the pid is the System's.
    smb = by_local[(Proto.TCP, "0.0.0.0", 445, None)]
    assert (smb.owners, smb.owner_status) == ((Owner(4, "System"),), OwnerStatus.KNOWN)
    # Another pid Windows will not name: the owner is the pid alone.
    assert by_local[(Proto.TCP, "0.0.0.0", 7680, None)].owners == (Owner(10404, None),)
    # TIME_WAIT has pid 0 and no -b line.
    assert view(by_local[(Proto.TCP, "192.168.31.221", 4713, 5222)]) == (
        "tcp",
        4,
        "192.168.31.221",
        4713,
        "157.240.252.61",
        5222,
        "TIME_WAIT",
        0,
        "System Idle Process",
        None,
    )
    assert by_local[(Proto.TCP, "192.168.31.221", 4713, 5222)].raw.count("\n") == 0
    # UDP: no state, so the PID is the fourth token; the zone sits inside the brackets.
    ssdp = by_local[(Proto.UDP, "fe80::244e:2f1e:2096:62b2", 1900, None)]
    assert view(ssdp) == (
        "udp",
        6,
        "fe80::244e:2f1e:2096:62b2",
        1900,
        None,
        None,
        "UNCONNECTED",
        8844,
        "svchost.exe",
        "9",
    )
    assert view(by_local[(Proto.TCP, "::", 135, None)])[:7] == ("tcp", 6, "::", 135, None, None, "LISTEN")
    assert sum(r.state is State.CLOSE_WAIT for r in records) == 6


# --- a second opinion: jc ----------------------------------------------------------------------------------------


def jc_view(row: dict) -> tuple:
    """jc's row in our terms: brackets dropped, the zone moved out, a "no peer" foreign end None, the program's
    brackets dropped (and jc's program name "Can not obtain ownership information" read as no name)."""
    no_peer = row["foreign_port"] in ("0", "*")
    local, _, zone = row["local_address"].strip("[]").partition("%")
    state = STATE_WORDS[row["state"]].value if row.get("state") else "UNCONNECTED" if no_peer else "ESTABLISHED"
    program = row.get("program_name")
    return (
        row["proto"].lower(),
        local,
        row["local_port_num"],
        None if no_peer else row["foreign_address"].strip("[]"),
        None if no_peer else row["foreign_port_num"],
        state,
        row.get("pid"),
        program[1:-1] if program and program.startswith("[") else None,
        zone or None,
    )


#: Per file, pid → rows where jc's name differs from ours (see test_jc_agrees_where_it_is_right).
JC_NAME_DIFFERENCES: dict[str, dict[int, int]] = {
    "netstat-an.out": {},
    "netstat-aon.out": {4: 23},
    "netstat-aonb.out": {4: 29, 0: 3},
}


def our_view(r: Connection) -> tuple:
    return (r.proto.value, r.local_ip, r.local_port, r.remote_ip, r.remote_port, r.state.value, r.pid, r.program,
            r.interface)  # fmt: skip


@pytest.mark.parametrize("name", sorted(CORPUS_COUNTS))
def test_jc_agrees_where_it_is_right(corpus: Path, name: str) -> None:
    """Row by row, the fields both have. Where jc differs, it is for one of these reasons:

    - netstat-an.out's last line (a hand-edited, non-hex address): jc makes it a record, we an issue.
    - pid 4 rows with ``Can not obtain ownership information``: jc takes the sentence for the program's name; we
      name pid 4 ``System`` (which it is), and any other withheld pid None (``jc_view`` reads jc's sentence as no
      name, so only pid 4 differs).
    - pid 0 rows (TIME_WAIT, no ``-b`` line): jc has no name; we say ``System Idle Process``.
    """
    ours = parse(read(corpus / WINDOWS / name)).records
    theirs = json.loads((corpus / WINDOWS / name).with_suffix(".json").read_text())
    if name == "netstat-an.out":
        assert theirs[-1]["local_address"] == "[fe80::asda:4124:2096:62b2%9]"
        theirs = theirs[:-1]
    assert len(ours) == len(theirs)
    differences = [(mine, row) for mine, row in zip(ours, theirs, strict=True) if our_view(mine) != jc_view(row)]
    for mine, row in differences:
        assert our_view(mine)[:-2] == jc_view(row)[:-2]  # everything but the name agrees
        assert jc_view(row)[-2] is None
        assert mine.program == {0: "System Idle Process", 4: "System"}[mine.pid]
    # pid → how many rows differ, by the reasons above (aon has no -b: jc names no one, we the system's pids).
    assert Counter(mine.pid for mine, _ in differences) == JC_NAME_DIFFERENCES[name]
    assert all(row.get("program_name", "Can not").startswith("Can not") for _, row in differences)


def test_family_follows_the_address(corpus: Path) -> None:
    for record in parse(read(corpus / WINDOWS / "netstat-aon.out")).records:
        assert record.family == (6 if ":" in record.local_ip else 4)


# --- German, in the console code page ----------------------------------------------------------------------------


def test_decode_reads_the_oem_code_page() -> None:
    data = GERMAN_ANO.read_bytes()
    assert b"ABH\x99REN" in data  # cp850's Ö, which UTF-8 cannot decode
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = decode(data)
    assert "ABHÖREN" in text and "Aktive Verbindungen" in text
    # The same text saved again as cp1252 (an editor, PowerShell's Out-File -Encoding Default) is told apart.
    assert decode(text.encode("cp1252")) == text
    assert decode(text.encode("utf-8")) == text
    assert decode(b"\xff\xfe" + text.encode("utf-16-le")) == text  # Windows PowerShell 5's ``>``
    assert decode(data, encoding="cp850") == text
    assert decode(data, encoding="no-such-codec") == text


def test_german_ano() -> None:
    text = decode(GERMAN_ANO.read_bytes())
    assert looks_like(text)
    result = parse(text)
    assert result.issues == (
        ParseIssue(10, "  TCP    172.17.67.120:49290    192.168.121.7:80", "no PID in the last column (a cut line?)"),
    )
    rows = [view(r) for r in result.records]
    assert rows == [
        # ABHÖREN is not a word we know: a TCP socket with no peer is a listener.
        ("tcp", 4, "0.0.0.0", 135, None, None, "LISTEN", 1128, None, None),
        ("tcp", 4, "0.0.0.0", 445, None, None, "LISTEN", 4, "System", None),
        # Translated states of connections: UNKNOWN, the word kept in raw.
        ("tcp", 4, "127.0.0.1", 44080, "127.0.0.1", 51244, "UNKNOWN", 3312, None, None),
        ("tcp", 4, "127.0.0.1", 49186, "127.0.0.1", 49273, "UNKNOWN", 2208, None, None),
        ("tcp", 4, "127.0.0.1", 51231, "127.0.0.1", 44080, "UNKNOWN", 0, "System Idle Process", None),
        ("tcp", 4, "172.17.67.120", 49293, "192.168.121.7", 80, "UNKNOWN", 5120, None, None),
        ("tcp", 4, "172.17.67.120", 49319, "192.168.121.2", 445, "UNKNOWN", 5120, None, None),
        ("tcp", 6, "::", 135, None, None, "LISTEN", 1128, None, None),
        ("tcp", 6, "fe80::b1d7:da26:3873:fc51", 49320, "fe80::1", 445, "UNKNOWN", 4, "System", "12"),
        ("udp", 4, "0.0.0.0", 123, None, None, "UNCONNECTED", 1440, None, None),
        ("udp", 6, "fe80::b1d7:da26:3873:fc51", 1900, None, None, "UNCONNECTED", 2932, None, "12"),
        ("udp", 6, "::1", 5353, None, None, "UNCONNECTED", 1896, None, None),
    ]
    assert [r.raw.split()[3] for r in result.records[2:7]] == [
        "FIN_WARTEN_2",
        "SCHLIESSEN_WARTEN",
        "WARTEND",
        "HERGESTELLT",
        "SYN_GESENDET",
    ]
    assert all(r.owner_status is OwnerStatus.KNOWN for r in result.records)


def test_german_ano_named_from_tasklist() -> None:
    names = parse_tasklist(TASKLIST.read_text())
    result = parse(decode(GERMAN_ANO.read_bytes()), names=names)
    assert [r.program for r in result.records] == [
        "svchost.exe",
        "System",
        "Code Helper (Renderer).exe",
        None,  # pid 2208 is not in the list
        "System Idle Process",
        "My App, Beta.exe",
        "My App, Beta.exe",
        "svchost.exe",
        "System",
        None,
        None,
        None,
    ]


@pytest.mark.parametrize("word", ["ABH™REN", "ABH\ufffdREN", "ABHREN", "侦听"])
def test_a_garbled_or_foreign_listening_word_is_still_a_listener(word: str) -> None:
    """cp850 read as cp1252 (the blog capture), a replaced byte, a dropped one (L1M80/porta#52), Chinese."""
    text = f"  TCP    127.0.0.1:49181        0.0.0.0:0              {word}\r\n"
    (record,) = parse(text).records
    assert (record.state, record.remote_ip, record.owner_status) == (State.LISTEN, None, OwnerStatus.NOT_REPORTED)
    assert word in record.raw


def test_a_chinese_listing_is_found_by_its_rows() -> None:
    """Title and header from https://github.com/billfeller/billfeller.github.io/issues/174 (``netstat -ano``)."""
    text = (
        "\r\n活动连接\r\n\r\n  协议  本地地址                外部地址              状态             PID\r\n"
        "  TCP    127.0.0.1:8411         127.0.0.1:58296        TIME_WAIT       0\r\n"
    )
    assert looks_like(text)
    (record,) = parse(text).records
    assert view(record) == ("tcp", 4, "127.0.0.1", 8411, "127.0.0.1", 58296, "TIME_WAIT", 0, "System Idle Process",
                            None)  # fmt: skip


# --- -b ----------------------------------------------------------------------------------------------------------


def test_anob() -> None:
    result = parse(ANOB.read_text())
    cut = "  TCP    10.20.30.130:49736     10.20.30.1:80          CLOSE_WA"
    assert result.issues == (ParseIssue(31, cut, "no PID in the last column (a cut line?)"),)
    assert [view(r) for r in result.records] == [
        ("tcp", 4, "0.0.0.0", 135, None, None, "LISTEN", 924, "svchost.exe", None),
        ("tcp", 4, "0.0.0.0", 445, None, None, "LISTEN", 4, "System", None),
        ("tcp", 4, "0.0.0.0", 3389, None, None, "LISTEN", 416, "svchost.exe", None),
        ("tcp", 4, "10.20.30.130", 22, "10.20.30.1", 39956, "ESTABLISHED", 2016, "sshd.exe", None),
        ("tcp", 4, "10.20.30.130", 49733, "10.20.30.1", 443, "TIME_WAIT", 0, "System Idle Process", None),
        ("tcp", 4, "10.20.30.130", 49734, "10.20.30.1", 445, "SYN_SENT", 4, "System", None),
        ("tcp", 6, "::", 135, None, None, "LISTEN", 924, "svchost.exe", None),
        ("tcp", 6, "fe80::5cf1:8a2b:3c4d:9e0f", 49735, "fe80::1", 445, "ESTABLISHED", 4, "System", "7"),
        ("udp", 4, "0.0.0.0", 5353, None, None, "UNCONNECTED", 2208, "svchost.exe", None),
        ("udp", 4, "10.20.30.130", 61000, "10.20.30.1", 53, "ESTABLISHED", 5120, "My App, Beta.exe", None),
        ("udp", 6, "::1", 1900, None, None, "UNCONNECTED", 3312, "svchost.exe", None),
    ]
    assert {r.owner_status for r in result.records} == {OwnerStatus.KNOWN}
    # Each record keeps its -b lines: the row, a service line when there is one, the program or the sentence.
    assert [r.raw.count("\n") for r in result.records] == [2, 1, 2, 1, 0, 1, 2, 1, 2, 1, 2]
    assert result.records[2].raw.splitlines()[1] == "  TermService"


def test_b_names_come_before_tasklist_names() -> None:
    """``-b`` saw the socket's owner at the moment of the listing; tasklist ran at another (the pid may be reused)."""
    result = parse(ANOB.read_text(), names={924: "other.exe", 416: "also-other.exe", 4: "Kernel"})
    assert [r.program for r in result.records[:3]] == ["svchost.exe", "Kernel", "svchost.exe"]


def test_windows_xp_b_lists_components() -> None:
    """XP's ``-b`` lists DLLs and ``-- unknown component(s) --`` before the program, and a blank line after each
    record: the layout quoted in Perl's Parse::Netstat (parse_netstat_win)."""
    text = (
        "\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n"
        "  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       988\r\n"
        "  c:\\windows\\system32\\WS2_32.dll\r\n  C:\\WINDOWS\\system32\\RPCRT4.dll\r\n"
        "  c:\\windows\\system32\\rpcss.dll\r\n  C:\\WINDOWS\\system32\\svchost.exe\r\n"
        "  -- unknown component(s) --\r\n  [svchost.exe]\r\n\r\n"
        "  UDP    0.0.0.0:500            *:*                                    696\r\n  [lsass.exe]\r\n\r\n"
    )
    result = parse(text)
    assert result.issues == ()
    assert [(r.pid, r.program, r.raw.count("\n")) for r in result.records] == [
        (988, "svchost.exe", 6),
        (696, "lsass.exe", 1),
    ]


def test_b_without_o_has_names_but_no_pids() -> None:
    """``netstat -anb``: a withheld owner is NOT_PERMITTED; a named one cannot be an Owner without its PID."""
    text = (
        "  Proto  Local Address          Foreign Address        State\r\n"
        "  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING\r\n  RpcSs\r\n [svchost.exe]\r\n"
        "  TCP    0.0.0.0:445            0.0.0.0:0              LISTENING\r\n Can not obtain ownership information\r\n"
        "  TCP    10.0.0.5:50000         10.0.0.1:443           TIME_WAIT\r\n"
    )
    statuses = [(r.owners, r.owner_status) for r in parse(text).records]
    assert statuses == [
        ((), OwnerStatus.NOT_REPORTED),
        ((), OwnerStatus.NOT_PERMITTED),
        ((), OwnerStatus.NOT_REPORTED),
    ]


def test_a_stray_line_is_an_issue() -> None:
    """Without -b nothing belongs under a row; with it, nothing follows the program's line."""
    plain = "  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       988\r\n  garbage\r\n"
    result = parse(plain)
    assert len(result.records) == 1
    assert result.issues == (ParseIssue(2, "  garbage", "not a socket line: rows start with TCP or UDP"),)
    with_b = plain.replace("  garbage", " [svchost.exe]\r\n stray")
    result = parse(with_b)
    assert result.records[0].program == "svchost.exe"
    assert [(i.line_no, i.text) for i in result.issues] == [(3, " stray")]


# --- tasklist ----------------------------------------------------------------------------------------------------


def test_tasklist() -> None:
    assert parse_tasklist(TASKLIST.read_text()) == {
        0: "System Idle Process",
        4: "System",
        132: "Registry",
        924: "svchost.exe",
        1128: "svchost.exe",
        2016: "sshd.exe",
        5120: "My App, Beta.exe",
        3312: "Code Helper (Renderer).exe",
    }


def test_tasklist_skips_what_is_not_a_row() -> None:
    text = (
        '\ufeff"Image Name","PID","Session Name","Session#","Mem Usage"\r\n'
        '"Abbildname","PID","Sitzungsname","Sitz.-Nr.","Speichernutzung"\r\n'
        "INFO: No tasks are running which match the specified criteria.\r\n"
        '"a ""quoted"" name.exe","77","Console","1","1,024 K"\r\n'
        '"","78","Console","1","1 K"\r\n'
    )
    assert parse_tasklist(text) == {77: 'a "quoted" name.exe'}
    assert parse_tasklist("") == {}


# --- shapes and words --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "peer", "state"),
    [
        ("SYN_RECEIVED", "10.0.0.1:5000", State.SYN_RECV),
        ("SYN_SEND", "10.0.0.1:5000", State.SYN_SENT),
        ("FIN_WAIT_1", "10.0.0.1:5000", State.FIN_WAIT1),
        ("TIMED_WAIT", "10.0.0.1:5000", State.TIME_WAIT),
        ("LAST_ACK", "10.0.0.1:5000", State.LAST_ACK),
        ("CLOSED", "0.0.0.0:0", State.CLOSE),
        # netstat -q: a bound socket has no peer either, but the English word says it is not listening.
        ("BOUND", "0.0.0.0:0", State.CLOSE),
        ("DELETE_TCB", "10.0.0.1:5000", State.UNKNOWN),
    ],
)
def test_documented_state_words(word: str, peer: str, state: State) -> None:
    """The states Microsoft documents (MicrosoftDocs/windowsserverdocs#3698, windows-itpro-docs#3652)."""
    (record,) = parse(f"  TCP    10.0.0.5:49700         {peer:<21}  {word:<14}  1234\r\n").records
    assert record.state is state


def test_without_n_hosts_are_names_and_port_0_is_no_peer() -> None:
    """``netstat -a`` without -n: the computer's name, service names, and ``MYPC:0`` as a listener's peer."""
    try:
        https = socket.getservbyname("https", "tcp")
    except OSError:
        pytest.skip("this machine's services database (/etc/services) does not know https/tcp")
    text = (
        "  TCP    0.0.0.0:135            MYPC:0                 LISTENING\r\n"
        "  TCP    192.168.1.20:50000     api:https              ESTABLISHED\r\n"
        "  TCP    [::]:445               MYPC:0                 LISTENING\r\n"
        "  TCP    MYPC:50001             api:1032               ESTABLISHED\r\n"
    )
    rows = [view(r)[:7] for r in parse(text).records]
    assert rows == [
        ("tcp", 4, "0.0.0.0", 135, None, None, "LISTEN"),
        ("tcp", 4, "192.168.1.20", 50000, "api", https, "ESTABLISHED"),
        ("tcp", 6, "::", 445, None, None, "LISTEN"),
        ("tcp", 4, "MYPC", 50001, "api", 1032, "ESTABLISHED"),
    ]


def test_an_unknown_service_keeps_its_row() -> None:
    """A name nettop cannot number (written by a Windows whose services file knows it) keeps the row: the port
    is None, the name is kept, and the peer is still a peer (not "no peer", which port 0 means)."""
    result = parse("  TCP    10.0.0.5:49700         api:no-such-service-x  ESTABLISHED\r\n")
    assert result.issues == ()
    (record,) = result.records
    assert (record.remote_ip, record.remote_port, record.remote_service) == ("api", None, "no-such-service-x")
    assert (record.local_port, record.local_service, record.state) == (49700, None, State.ESTABLISHED)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("  TCP    0.0.0.0:135", "expected at least 3 columns"),
        ("  TCP    0.0.0.0:135            0.0.0.0:0", "no state"),
        ("  TCP    0.0.0.0:135            0.0.0.0:0              4", "no state"),
        ("  UDP    0.0.0.0:500            *:*                    LISTENING", "a UDP row has no state"),
        ("  TCP    0.0.0.0                0.0.0.0:0              LISTENING", "cannot split"),
        ("  TCP    [::1:135               [::]:0                 LISTENING", "cannot split"),
        ("  TCP    [zz::1]:135            [::]:0                 LISTENING", "not an IPv6 address"),
    ],
)
def test_malformed_rows(line: str, reason: str) -> None:
    text = f"{line}\r\n  TCP    0.0.0.0:445            0.0.0.0:0              LISTENING\r\n"
    result = parse(text)
    assert [r.local_port for r in result.records] == [445]
    (issue,) = result.issues
    assert (issue.line_no, issue.text) == (1, line)
    assert reason in issue.reason


def test_a_repeated_title_and_header_are_skipped() -> None:
    """``netstat -an 5`` prints the whole listing again every 5 seconds."""
    block = (
        "\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State\r\n"
        "  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING\r\n"
    )
    result = parse(block * 3)
    assert (len(result.records), result.issues) == (3, ())


def test_no_rows() -> None:
    assert parse("").records == ()
    empty = parse("\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State\r\n")
    assert (empty.records, empty.issues, empty.format) == ((), (), "netstat-windows")
    route = "===========================================================================\r\nInterface List\r\n"
    with pytest.raises(NotASocketTable, match="routing table"):
        parse(route + "  5...00 15 5d 01 02 03 ......Hyper-V Virtual Ethernet Adapter\r\n")
    with pytest.raises(NotASocketTable, match="statistics"):
        parse("\r\nIPv4 Statistics\r\n\r\n  Packets Received                   = 1234\r\n")
    with pytest.raises(UnknownFormat, match="requires elevation"):
        parse("The requested operation requires elevation.\r\n")


# --- detection ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "\r\nActive Connections\r\n",
        "Aktive Verbindungen\r\n",
        "  Proto  Lokale Adresse         Remoteadresse          Status           PID\r\n",
        "  TCP    127.0.0.1:5050         0.0.0.0:0              ABHÖREN         4242\r\n",  # findstr's output
        "  UDP    0.0.0.0:123            *:*                                    1440\r\n",
    ],
)
def test_looks_like_windows(text: str) -> None:
    assert looks_like(text)


def test_looks_like_claims_no_other_recording(corpus: Path) -> None:
    """Linux and BSD netstat, ss, macOS, /proc: none is Windows netstat (their protocols are lower-case)."""
    others = [
        path
        for path in sorted(corpus.rglob("*"))
        if path.is_file() and path.suffix != ".json" and WINDOWS.as_posix() not in path.as_posix()
    ]
    assert len(others) > 40
    assert [path for path in others if looks_like(decode(path.read_bytes()))] == []


@pytest.mark.parametrize(
    "text",
    [
        "Active Internet connections (servers and established)\nProto Recv-Q Send-Q Local Address   Foreign Address\n",
        "Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n",
        "TCP: IPv4\n   Local Address        Remote Address    Swind Send-Q Rwind Recv-Q    State\n",  # Solaris
        "tcp4       0      0  192.168.71.163.22      192.168.71.1.50316     ESTABLISHED\n",  # FreeBSD, no header
        # Linux netstat in Japanese: the header loses Recv-Q (parsing-pitfalls item 16: 内部アドレス); rows stay.
        "Proto 受信-Q 送信-Q 内部アドレス            外部アドレス            状態       \n"
        "tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN     \n",
        "",
    ],
)
def test_looks_like_other_tools(text: str) -> None:
    assert not looks_like(text)


def test_format_name() -> None:
    assert windows.FORMAT == "netstat-windows"
