"""Issue 14, Linux netstat: other languages, headerless rows, IPv6 labelled ``tcp``, names for numbers, odd owner
cells, and outputs that are not socket lists.

Inputs: ``tests/data/localised/`` (recorded here; its README says how) and ``tests/data/handmade/`` (public
captures and composed lines; ``README.netstat-linux.md`` says which). The expected records are written from the
text by hand.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from nettop.errors import NotASocketTable
from nettop.formats import netstat_linux
from nettop.formats.detect import detect_format
from nettop.formats.netstat_linux import looks_like_rows, parse
from nettop.model import Connection, Owner, OwnerStatus, Proto, State
from tests.conftest import DATA, read_text

LOCALISED = DATA / "localised"
HANDMADE = DATA / "handmade"
LANGUAGES = ["C", "cs_CZ", "de_DE", "et_EE", "fr_FR", "ja_JP", "pt_BR"]
FLAGS = ["-tunaepW", "-tunaW", "-tuna", "-tuaep", "-tunaeoW"]
OURS = 27534  # manifest.json: the recorder's pid
TCP, UDP = Proto.TCP, Proto.UDP
LO = "127.0.0.1"

#: Our sockets in every capture, in netstat's order, from C_netstat-tunaepW.out: proto, family, local, local port,
#: peer, peer port, state, Recv-Q, inode (None: TIME_WAIT's 0).
EXPECTED = [
    (TCP, 4, LO, 47101, None, None, State.LISTEN, 0, 3244822),
    (TCP, 4, LO, 47104, None, None, State.LISTEN, 0, 3244828),
    (TCP, 4, LO, 40746, LO, 47101, State.ESTABLISHED, 0, 3244824),
    (TCP, 4, LO, 40762, LO, 47101, State.TIME_WAIT, 0, None),
    (TCP, 4, LO, 57058, LO, 47104, State.CLOSE_WAIT, 1, 3244829),
    (TCP, 4, LO, 47104, LO, 57058, State.FIN_WAIT2, 0, 3244830),
    (TCP, 4, LO, 47101, LO, 40746, State.ESTABLISHED, 0, 3244825),
    (TCP, 6, "::1", 47102, None, None, State.LISTEN, 0, 3244823),
    (UDP, 4, LO, 47105, None, None, State.UNCONNECTED, 0, 3244831),
    (UDP, 4, LO, 47106, LO, 47105, State.ESTABLISHED, 0, 3244832),
    (UDP, 6, "::1", 47107, None, None, State.UNCONNECTED, 0, 3244833),
]


def ours(records: tuple[Connection, ...]) -> list[Connection]:
    return [r for r in records if {r.local_port, r.remote_port} & {47101, 47102, 47104, 47105, 47106, 47107}]


def summary(r: Connection) -> tuple:
    return (r.proto, r.family, r.local_ip, r.local_port, r.remote_ip, r.remote_port, r.state, r.recv_q, r.inode)


# --- 1. other languages -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_gives_the_sockets_english_gives(language: str, flags: str) -> None:
    text = read_text(LOCALISED / f"{language}_netstat{flags}.out")
    assert detect_format(text) == "netstat-linux"
    result = parse(text)
    assert result.issues == ()
    assert len(result.records) == 18  # every row of the capture
    mine = ours(result.records)
    with_inode = "e" in flags
    expected = [(*row[:8], row[8] if with_inode else None) for row in EXPECTED]
    assert [summary(r) for r in mine] == expected
    if "p" in flags:
        user = "root" if "n" not in flags else None  # -e without -n names the user; with -n it is uid 0
        assert [r.owners for r in mine] == [
            () if row[8] is None else (Owner(OURS, "python3", user),) for row in EXPECTED
        ]
        assert [r.owner_status for r in mine] == [
            OwnerStatus.NOT_REPORTED if row[8] is None else OwnerStatus.KNOWN for row in EXPECTED
        ]
    else:
        assert all(r.owners == () for r in mine)
    assert all(r.uid == (0 if with_inode and "n" in flags else None) for r in mine)


def test_translated_states_are_read_and_kept_in_raw() -> None:
    czech = parse(read_text(LOCALISED / "cs_CZ_netstat-tunaepW.out")).records
    established = [r for r in ours(czech) if r.state is State.ESTABLISHED]
    assert ["SPOJENO" in r.raw for r in established] == [True, True, True]
    assert [r.state for r in czech if "NASLOUCHÁ" in r.raw] == [State.LISTEN] * 6
    portuguese = parse(read_text(LOCALISED / "pt_BR_netstat-tunaepW.out")).records
    assert [r.state for r in portuguese if "OUÇA" in r.raw] == [State.LISTEN] * 6
    # pt_BR's header has no "Inode" word, yet the column is there: the rows tell.
    assert "Inode" not in read_text(LOCALISED / "pt_BR_netstat-tunaepW.out").splitlines()[1]
    assert ours(portuguese)[0].inode == 3244822


def test_two_word_state_unknown_translation_and_a_state_that_is_no_word() -> None:
    text = (
        "Proto Přích-F Odch-F Místní Adresa          Vzdálená Adresa         Stav      \n"
        "tcp        0      0 10.0.0.1:22             10.0.0.2:50000          POSLEDNÍ ACK\n"
        "tcp        0      0 10.0.0.1:80             0.0.0.0:*               KUUNTELEE  \n"
        "tcp        0      0 10.0.0.1:81             10.0.0.2:50001          ODOTTAA    \n"
        "tcp        0      0 10.0.0.1:82             10.0.0.2:50002          1234/sshd  \n"
    )
    result = parse(text)
    assert [(r.local_port, r.state) for r in result.records] == [
        (22, State.LAST_ACK),
        (80, State.LISTEN),  # a word nettop lacks: no peer, so a listener
        (81, State.UNKNOWN),  # a peer: the state is unknown, the word stays in raw
    ]
    assert "ODOTTAA" in result.records[2].raw
    assert [(i.line_no, i.reason) for i in result.issues] == [(5, "unknown TCP state '1234/sshd'")]


def test_spanish_ubuntu_capture_without_n() -> None:
    result = parse(read_text(HANDMADE / "linux-net-tools-ubuntu-es_netstat-ltp.out"))
    assert result.issues == ()
    assert [(r.proto, r.family, r.local_ip, r.local_port, r.state, r.pid) for r in result.records] == [
        (TCP, 4, "0.0.0.0", 53, State.LISTEN, 1214),
        (TCP, 4, "localhost.localdoma", 631, State.LISTEN, 1327),
        (TCP, 6, "::", 53, State.LISTEN, 1214),
        (TCP, 6, "PC-Linux", 631, State.LISTEN, 1327),
        (UDP, 4, "0.0.0.0", 5353, State.UNCONNECTED, 1056),
        (UDP, 4, "0.0.0.0", 53, State.UNCONNECTED, 1214),
        (UDP, 4, "0.0.0.0", 53814, State.UNCONNECTED, 1056),
        (UDP, 6, "::", 5353, State.UNCONNECTED, 1056),
        (UDP, 6, "::", 42850, State.UNCONNECTED, 1056),
        (UDP, 6, "::", 53, State.UNCONNECTED, 1214),
    ]
    assert result.records[1].truncated  # 23 characters: "localhost.localdomain" cut


def test_a_header_in_a_language_with_no_words_here_is_known_by_its_rows() -> None:
    text = "Aktiva Internetanslutningar (endast servrar)\nProto Mott-K Sänd-K Lokal adress  Fjärradress  Tillstånd\n"
    rows = "tcp        0      0 0.0.0.0:22              0.0.0.0:*               LYSSNAR\n"
    assert netstat_linux.looks_like_table(text + rows)
    assert detect_format(text + rows) == "netstat-linux"
    (record,) = parse(text + rows).records
    assert (record.local_port, record.state) == (22, State.LISTEN)
    assert not netstat_linux.looks_like_table(text)


def test_translated_unix_table_is_skipped_without_issues() -> None:
    for language in ("fr_FR", "ja_JP"):
        text = read_text(LOCALISED / f"{language}_netstat-anW.out")
        result = parse(text)
        assert result.issues == ()
        assert [(r.proto, r.local_port, r.remote_port, r.state) for r in result.records] == [
            (TCP, 2024, None, State.LISTEN),
            (TCP, 58054, 33283, State.TIME_WAIT),
            (TCP, 52318, 58301, State.TIME_WAIT),
        ]
        assert any(line.startswith("unix") for line in text.splitlines())


def test_header_test_takes_translations_and_refuses_other_tables() -> None:
    for language in ("cs_CZ", "et_EE", "ja_JP", "pt_BR", "fr_FR"):
        header = read_text(LOCALISED / f"{language}_netstat-tunaW.out").splitlines()[1]
        assert netstat_linux.looks_like_header(header), language
    assert netstat_linux.looks_like_header("Proto  Recib Enviad Dirección local  Dirección remota  Estado")
    assert not netstat_linux.looks_like_header("Proto Recv-Q Send-Q vendor  class subcla")  # macOS kernel events
    assert not netstat_linux.looks_like_header("Proto RefCnt Flags       Type       State         I-Node   Chemin")


@pytest.mark.skipif(not list(Path("/usr/share/locale").glob("*/LC_MESSAGES/net-tools.mo")), reason="no catalogues")
def test_state_table_is_what_the_installed_catalogues_say(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("catalogue_words", LOCALISED / "catalogue_words.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv, sys.argv = sys.argv, ["catalogue_words.py"]
    try:
        module.main()
    finally:
        sys.argv = argv
    printed = capsys.readouterr().out
    for line in printed.splitlines():
        if line.startswith("    '") and ": State." in line:
            word, state = line.strip().split(": State.")
            assert netstat_linux.LOCALISED_STATES[word.strip("'")] is State[state.split(",")[0]], line


# --- 2. headerless rows -----------------------------------------------------------------------------------------


def test_headerless_rows_with_program() -> None:
    text = read_text(LOCALISED / "C_netstat-tlnp-grep.out")
    assert all(looks_like_rows(line) for line in text.splitlines())
    result = parse(text)
    assert result.issues == ()
    assert [(r.family, r.local_ip, r.local_port, r.state, r.owners) for r in result.records] == [
        (4, LO, 47101, State.LISTEN, (Owner(OURS, "python3"),)),
        (4, LO, 47104, State.LISTEN, (Owner(OURS, "python3"),)),
        (6, "::1", 47102, State.LISTEN, (Owner(OURS, "python3"),)),
    ]


@pytest.mark.parametrize("flags", ["-tunaeW", "-tunaepW"])
def test_headerless_rows_with_user_and_inode(flags: str) -> None:
    result = parse(read_text(LOCALISED / f"C_netstat{flags}-grep.out"))
    assert result.issues == ()
    assert [summary(r) for r in result.records] == EXPECTED
    expected_owners = [() if "p" not in flags or row[8] is None else (Owner(OURS, "python3"),) for row in EXPECTED]
    assert [r.owners for r in result.records] == expected_owners
    assert {r.uid for r in result.records} == {0}


@pytest.mark.parametrize("name", ["C_netstat-tlnp-grep.out", "C_netstat-tunaeW-grep.out", "C_netstat-tunaepW-grep.out"])
def test_headerless_rows_are_detected_as_netstat(name: str) -> None:
    assert detect_format(read_text(LOCALISED / name)) == "netstat-linux"


def test_looks_like_rows_is_strict() -> None:
    assert looks_like_rows("tcp        0      0 127.0.0.1:631           0.0.0.0:*               LISTEN      1234/cupsd")
    assert looks_like_rows("udp6       0      0 [::]:mdns               [::]:*                1056/avahi-daemon:")
    assert not looks_like_rows("tcp   LISTEN 0      128          0.0.0.0:22        0.0.0.0:*")  # ss
    assert not looks_like_rows("LISTEN 0      128          0.0.0.0:22        0.0.0.0:*")  # ss -H of one type
    assert not looks_like_rows("  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1052")  # Windows
    assert not looks_like_rows("tcp4       0      0  127.0.0.1.631          *.*                    LISTEN")  # BSD
    assert not looks_like_rows("tcp        0      0 127.0.0.1               0.0.0.0:*")  # no port
    assert not looks_like_rows("unix  3      [ ]         STREAM     CONNECTED     1162")
    # ss -H with a state filter has no State column: the same first five columns, then nothing or ss's own cells.
    for line in read_text(HANDMADE / "linux-iproute2-3.x_ss-tun-state-established.out").splitlines()[1:]:
        assert not looks_like_rows(line), line
    assert not looks_like_rows('tcp 0 0 10.0.2.15:22 10.0.2.2:49936 users:(("sshd",pid=1,fd=3))')
    assert not looks_like_rows("udp 0 0 127.0.0.1:53 0.0.0.0:* ino:1525621 sk:cae7c")
    assert looks_like_rows("udp 0 0 127.0.0.1:53 0.0.0.0:* 1214/dnsmasq")
    assert looks_like_rows("raw6 0 0 :::58 :::* 7 0 3244900 -")
    # A bare UDP row could be either tool's: detection leaves it to ss, but netstat's parser, asked, reads it.
    assert not looks_like_rows("udp        0      0 127.0.0.1:47105         0.0.0.0:*")
    (bare,) = parse("udp        0      0 127.0.0.1:47105         0.0.0.0:*\n").records
    assert (bare.proto, bare.local_port, bare.state) == (UDP, 47105, State.UNCONNECTED)


# --- 3. family from the address ---------------------------------------------------------------------------------


def test_old_net_tools_labels_ipv6_sockets_tcp() -> None:
    result = parse(read_text(HANDMADE / "linux-net-tools-1.60_netstat-inet6-avpn.out"))
    assert result.issues == ()
    assert {r.family for r in result.records} == {6}
    assert [(r.local_ip, r.local_port, r.remote_ip, r.remote_port, r.state) for r in result.records[3:9]] == [
        ("::", 953, None, None, State.LISTEN),
        ("::1", 6010, None, None, State.LISTEN),
        ("::1", 6011, None, None, State.LISTEN),
        ("::1", 50565, "2001:888:10a1::1", 389, State.CLOSE_WAIT),
        ("::1", 50224, "2001:888:10a1::1", 389, State.CLOSE_WAIT),
        ("2001:888:10a1::1", 389, "::1", 55936, State.ESTABLISHED),
    ]
    assert (result.records[2].pid, result.records[2].program) == (1433, "sendmail: acce")
    mapped = parse(
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State\n"
        "tcp        0      0 ::ffff:127.0.0.1:7403   :::*                    LISTEN\n"
        "tcp        0      0 10.0.0.1:22             10.0.0.2:5000           ESTABLISHED\n"
    ).records
    assert [(r.family, r.local_ip, r.local_port) for r in mapped] == [
        (6, "::ffff:127.0.0.1", 7403),
        (4, "10.0.0.1", 22),
    ]


# --- 4. names for numbers ---------------------------------------------------------------------------------------


def test_service_names_and_localhost() -> None:
    result = parse(read_text(HANDMADE / "linux-net-tools_netstat-tua-names.out"))
    assert result.issues == ()
    rows = [
        (r.proto, r.family, r.local_ip, r.local_port, r.local_service, r.remote_ip, r.remote_port)
        for r in result.records
    ]
    assert rows[:3] == [
        (TCP, 4, LO, 631, None, None, None),
        (TCP, 6, "::1", 631, None, None, None),  # localhost on an IPv6 socket
        (UDP, 4, "0.0.0.0", 631, None, None, None),  # ipp over UDP
    ]
    assert rows[3] == (UDP, 4, LO, None, "x-nettop-svc", None, None)
    established = result.records[4]
    assert (established.remote_ip, established.remote_port, established.remote_service) == (LO, None, "x-nettop-svc")
    assert (established.local_port, established.state) == (40746, State.ESTABLISHED)


# --- 5. odd owner cells -----------------------------------------------------------------------------------------


def test_odd_owner_cells_keep_their_socket() -> None:
    result = parse(read_text(HANDMADE / "linux-net-tools_netstat-tlnp-odd-owners.out"))
    assert result.issues == ()
    assert [(r.local_port, r.owners, r.owner_status) for r in result.records] == [
        (631, (Owner(1234, "cupsd"),), OwnerStatus.KNOWN),
        (22, (Owner(812),), OwnerStatus.KNOWN),  # a bare pid: the process, without its name
        (25, (), OwnerStatus.NOT_REPORTED),  # a bare name: no process to point at
        (111, (), OwnerStatus.NOT_REPORTED),  # "-"
        (2049, (), OwnerStatus.NOT_REPORTED),  # blank, mid-table: not a cut line
        (22, (Owner(812, "sshd"),), OwnerStatus.KNOWN),
    ]
    assert "master" in result.records[2].raw


def test_blank_owner_cell_on_the_last_line_of_a_complete_text() -> None:
    result = parse(read_text(HANDMADE / "linux-net-tools-centos6_netstat-lntp.out"))
    assert result.issues == ()
    assert [(r.family, r.local_port, r.pid, r.owner_status) for r in result.records] == [
        (4, 3306, 3686, OwnerStatus.KNOWN),
        (6, 443, 2218, OwnerStatus.KNOWN),
        (6, 80, 2218, OwnerStatus.KNOWN),
        (6, 22, None, OwnerStatus.NOT_REPORTED),
    ]
    # The same line at the end of a text cut mid-line may have lost its cell: an issue, not a guess.
    cut = parse(
        "Proto Recv-Q Send-Q Local Address Foreign Address State PID/Program name\n"
        "tcp 0 0 0.0.0.0:22 0.0.0.0:* LISTEN 1234/sshd\ntcp 0 0 0.0.0.0:23 0.0.0.0:* LISTEN 12"
    )
    assert [r.pid for r in cut.records] == [1234]
    assert [(i.line_no, i.reason.startswith("PID/Program name '12' may be cut")) for i in cut.issues] == [(3, True)]


# --- 6. what is not a socket list -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("C_netstat-s.out", "protocol statistics (netstat -s)"),
        ("C_netstat-g.out", "multicast group list (netstat -g)"),
        ("C_netstat-i.out", "interface table (netstat -i)"),
        ("C_netstat-ie.out", "interface table (netstat -i)"),
        ("C_netstat-r.out", "routing table (netstat -r)"),
        ("fr_FR_netstat-s.out", "protocol statistics (netstat -s)"),
        ("fr_FR_netstat-g.out", "multicast group list (netstat -g)"),
        ("fr_FR_netstat-i.out", "interface table (netstat -i)"),
        ("fr_FR_netstat-ie.out", "interface list (netstat -ie)"),
        ("fr_FR_netstat-r.out", "routing table (netstat -r)"),
    ],
)
def test_other_outputs_are_named(name: str, what: str) -> None:
    with pytest.raises(NotASocketTable) as error:
        parse(read_text(LOCALISED / name))
    assert what in str(error.value)


def test_manifest_matches_the_expected_table() -> None:
    """The hand-written EXPECTED agrees with what the recorder told the kernel."""
    manifest = json.loads((LOCALISED / "manifest.json").read_text())
    sockets = manifest["sockets"]
    assert manifest["pid"] == OURS
    inodes = {s["inode"] for s in sockets.values()}
    assert {row[8] for row in EXPECTED} - {None} == inodes
    assert manifest["time_wait_client_port"] == EXPECTED[3][3]


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("C_netstat-g.out", "multicast group list (netstat -g)"),
        ("C_netstat-s.out", "protocol statistics (netstat -s)"),
        ("fr_FR_netstat-ie.out", "interface list (netstat -ie)"),
        ("fr_FR_netstat-s.out", "protocol statistics (netstat -s)"),
    ],
)
def test_other_table_names_what_detection_cannot_yet(name: str, what: str) -> None:
    """For detect.py, which names neither of these yet: one of the first three lines says what the text is."""
    head = [line.strip() for line in read_text(LOCALISED / name).splitlines() if line.strip()][:3]
    named = [netstat_linux.other_table(line) for line in head]
    assert next(w for w in named if w is not None).endswith(what)
