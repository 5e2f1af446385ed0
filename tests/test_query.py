"""The filter language (``nettop.query``), term by term, against hand-made records."""

from __future__ import annotations

import re

import pytest

import nettop
from nettop import query
from nettop.cgroups import classify
from nettop.model import Proto, State
from nettop.query import TERMS, Flag, Query, QueryError, Term, filter_records, parse_query
from tests.scripted import conn

SSH = conn(22, name="sshd", pid=10, user="root", local_ip="0.0.0.0")
WEB = conn(443, 50000, local_ip="10.0.0.1", remote_ip="192.0.2.9", name="nginx", pid=20, user="www-data")
DNS = conn(53, proto=Proto.UDP, name="dnsmasq", pid=30, user="nobody")
DEV6 = conn(8080, local_ip="::1", family=6, name="my server", pid=40, user="alice")
MAPPED = conn(5432, 41000, local_ip="::ffff:10.1.2.3", remote_ip="::ffff:10.1.2.4", family=6, name="postgres", pid=50)
WAIT = conn(41234, 80, remote_ip="127.0.0.9", pid=None, state=State.TIME_WAIT)
ALL = [SSH, WEB, DNS, DEV6, MAPPED, WAIT]


def selected(text: str) -> list:  # type: ignore[type-arg]
    query = parse_query(text)
    return [record for record in ALL if query.matches(record)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ALL),
        ("nginx", [WEB]),
        ("NGINX", [WEB]),
        ("192.0.2", [WEB]),
        ("::1", [DEV6]),
        ("time_wait", [WAIT]),
        ("udp", [DNS]),
        ("port:443", [WEB]),
        ("port:80", [WAIT]),
        ("port:https", [WEB]),
        ("port:22,53", [SSH, DNS]),
        ("port:50-100", [DNS, WAIT]),
        ("lport:80", []),
        ("rport:80", [WAIT]),
        ("lport:8000-9000", [DEV6]),
        ("state:listen", [SSH, DEV6]),
        ("state:time-wait", [WAIT]),
        ("state:established,listen", [SSH, WEB, DEV6, MAPPED]),
        ("state:unconnected", [DNS]),
        ("proto:udp", [DNS]),
        ("proto:tcp6", [DEV6, MAPPED]),
        ("pid:20", [WEB]),
        ("pid:10,30", [SSH, DNS]),
        ("prog:dns", [DNS]),
        ('prog:"my server"', [DEV6]),
        ("'my server'", [DEV6]),
        ("user:www", [WEB]),
        ("cmd:--serve", [SSH, WEB, DNS, DEV6, MAPPED]),
        ("ip:10.0.0.0/8", [WEB, MAPPED]),
        ("lip:10.1.2.3", [MAPPED]),
        ("rip:10.1.2.4/32", [MAPPED]),
        ("ip:::ffff:10.1.2.0/120", [MAPPED]),
        ("ip:::1", [DEV6]),
        ("ip:[::1]", [DEV6]),
        ("rip:127.0.0.0/8", [WAIT]),
        ("fam:6", [DEV6, MAPPED]),
        ("family:ipv4", [SSH, WEB, DNS, WAIT]),
        ("-state:listen -proto:udp", [WEB, MAPPED, WAIT]),
        ("port:443 -nginx", []),
        ("-pid:10", [WEB, DNS, DEV6, MAPPED, WAIT]),
        ("state:listen fam:4", [SSH]),
    ],
)
def test_each_term(text: str, expected: list) -> None:  # type: ignore[type-arg]
    assert selected(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("prot:udp", "unknown filter 'prot'", 0),
        ("nginx pot:80", "unknown filter 'pot'", 6),
        ("port:", "port: needs a value", 0),
        ("port:x", "'x' is not a port number", 5),
        ("port:70000", "port 70000 is out of range", 5),
        ("port:9-1", "range 9-1 runs backwards", 5),
        ("port:1,,2", "'' is not a port number", 5),
        ("-state:nope", "unknown state 'nope'", 7),
        ("proto:icmp", "'icmp' is not a protocol", 6),
        ("pid:12a", "'12a' is not a pid", 4),
        ("ip:10.0.0.300", "is not an address or network", 3),
        ("fam:5", "'5' is not a family", 4),
        ('prog:"open', "unclosed quote", 5),
        ("a - b", "a lone '-'", 2),
    ],
)
def test_malformed_queries_say_what_and_where(text: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    assert message in caught.value.message
    assert caught.value.position == position


def test_uid_selects_sockets_by_their_creator_even_without_owners() -> None:
    mine, theirs = SSH._replace(uid=0), WAIT._replace(uid=1000, owners=())
    assert [r for r in (mine, theirs, WEB) if parse_query("uid:1000,1001").matches(r)] == [theirs]
    assert nettop.filter_records([mine, theirs, WEB], uid=0) == [mine]


def test_query_keeps_its_text_and_knows_when_empty() -> None:
    assert parse_query("  ").is_empty
    query = parse_query("port:443  -state:listen")
    assert not query.is_empty and query.text == "port:443  -state:listen" and len(query.terms) == 2


@pytest.mark.parametrize(
    ("quick", "expected"),
    [
        ({}, ALL),
        ({"is": "listening"}, [SSH, DNS, DEV6]),
        ({"proto": "udp"}, [DNS]),
        ({"fam": "6"}, [DEV6, MAPPED]),
        ({"is": "listening", "proto": "tcp", "fam": "4"}, [SSH]),
    ],
)
def test_quick_filters(quick: dict[str, str], expected: list) -> None:  # type: ignore[type-arg]
    """The viewer's toggles (l, t, 4, 6) are terms of the language, set and unset on a query of their own."""
    toggles = Query()
    for key, value in quick.items():
        toggles = toggles.replaced(key, value)
    assert [record for record in ALL if toggles.matches(record)] == expected


# --- one table: every term reaches the help, the CLI and the API -----------------------------------


def help_shown() -> str:
    from textual.app import App

    from nettop.app import NettopApp
    from nettop.screens.help import help_text, key_lines, term_lines

    return help_text(key_lines(NettopApp.BINDINGS, App().get_key_display), term_lines()).plain


def cli_options(command: str = "list") -> set[str]:
    import argparse

    from nettop.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {option for action in commands.choices[command]._actions for option in action.option_strings}


@pytest.mark.parametrize("term", TERMS, ids=lambda term: term.key)
def test_every_term_is_in_the_help_the_cli_and_the_api(term: Term) -> None:
    assert f"  {term.example} " in help_shown()
    assert parse_query(term.example).terms[0].key == term.key  # its example is a valid use of it
    if term.flag is not None:
        options = {option for option, _, _ in term.flag.switches} or {f"--{term.flag.dest}"}
        assert options <= cli_options("list") and options <= cli_options("watch")
        value = term.flag.switches[0][1] if term.flag.switches else term.example.partition(":")[2].lstrip("=")
        assert isinstance(nettop.filter_records(ALL, **{term.flag.dest: value}), list)


def test_a_term_added_to_the_table_is_everywhere_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """One entry, nothing else: the parser, the help, the CLI's flags and the API's keywords all take it."""
    odd = Term("odd", lambda v: v == "yes", lambda yes: lambda r: (r.local_port or 0) % 2 == yes, "odd local port",
               "odd:yes", flag=Flag("odd_port", "only odd local ports"))  # fmt: skip
    monkeypatch.setattr(query, "TERMS", (*query.TERMS, odd))
    assert selected("odd:yes") == [WEB, DNS]
    assert "  odd:yes " in help_shown() and "odd local port" in help_shown()
    assert "--odd_port" in cli_options("list")
    assert nettop.filter_records(ALL, odd_port="yes") == [WEB, DNS]


@pytest.mark.parametrize(
    ("flags", "typed"),
    [
        (["--port", "https"], "port:https"),
        (["--port", "22,53"], "port:22,53"),
        (["--state", "listen", "--state", "time-wait"], "state:listen,time-wait"),
        (["--proto", "tcp6"], "proto:tcp6"),
        (["--pid", "10"], "pid:10"),
        (["--program", "nginx"], "prog:=nginx"),
        (["--listening"], "is:listening"),
        (["-6"], "fam:6"),
    ],
)
def test_flags_select_what_the_typed_term_selects(flags: list[str], typed: str) -> None:
    from nettop.cli import build_parser, query_from_args

    from_flags = query_from_args(build_parser().parse_args(["list", *flags]))
    assert [r for r in ALL if from_flags.matches(r)] == selected(typed)


def test_program_is_exact_on_the_command_line_and_a_substring_in_the_viewer() -> None:
    assert selected("prog:nginx") == selected("prog:ngin") == [WEB]
    assert selected("prog:=nginx") == [WEB] and selected("prog:=ngin") == []
    assert nettop.filter_records(ALL, program="ngin") == [] and nettop.filter_records(ALL, program="nginx") == [WEB]


@pytest.mark.parametrize(
    ("flags", "typed"),
    [
        (["--port", "70000"], "port:70000"),
        (["--port", "²"], "port:²"),
        (["--pid", "12a"], "pid:12a"),
        (["--pid", str(2**32)], f"pid:{2**32}"),
        (["--proto", "icmp"], "proto:icmp"),
        (["--state", "nope"], "state:nope"),
    ],
)
def test_the_cli_refuses_what_the_viewer_refuses_with_the_same_message(
    flags: list[str], typed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from nettop.cli import build_parser

    with pytest.raises(QueryError) as viewer:
        parse_query(typed)
    with pytest.raises(SystemExit) as cli:
        build_parser().parse_args(["list", *flags])
    assert cli.value.code == 2
    said = viewer.value.message.partition(": ")[2]
    assert f"argument {flags[0]}: {said}" in capsys.readouterr().err
    with pytest.raises(ValueError, match=re.escape(said)):
        nettop.filter_records(ALL, **{flags[0].lstrip("-"): flags[1]})


def test_the_readme_documents_every_term() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for term in TERMS:
        assert f"`{term.key}:" in readme, term.key
        if term.flag is not None:
            options = [option for option, _, _ in term.flag.switches] or [f"--{term.flag.dest}"]
            assert all(f"`{option}" in readme for option in options), options


def test_unit_and_container_terms_read_the_owners_cgroup() -> None:
    from nettop.model import Owner

    web = conn(80)._replace(owners=(Owner(1, "nginx", placement=classify("/system.slice/nginx.service")),))
    docker = classify("/system.slice/docker-" + "ab" * 32 + ".scope")
    boxed = conn(81)._replace(owners=(Owner(2, "app", placement=docker),))
    getty = conn(82)._replace(
        owners=(Owner(3, "agetty", placement=classify("/system.slice/system-getty.slice/getty@tty1.service")),)
    )
    none = conn(83)
    records = [web, boxed, getty, none]
    assert filter_records(records, parse_query("unit:nginx")) == [web]
    assert filter_records(records, parse_query("unit:getty@tty1")) == [getty]
    assert filter_records(records, parse_query("container:abab")) == [boxed]
    assert filter_records(records, parse_query("-unit:service")) == [boxed, none]


# --- is:closing and the w toggle --------------------------------------------------------------------


@pytest.mark.parametrize("state", sorted(query.CLOSING_STATES))
def test_is_closing_selects_every_closing_state(state: State) -> None:
    closing = conn(41000, 80, state=state, pid=None)
    assert parse_query("is:closing").matches(closing)
    assert not parse_query("-is:closing").matches(closing)


def test_is_closing_keeps_listeners_and_live_connections_out() -> None:
    assert selected("is:closing") == [WAIT]
    assert selected("-is:closing") == [SSH, WEB, DNS, DEV6, MAPPED]
    assert [r.state for r in ALL if not query.CLOSING_STATES.isdisjoint({r.state})] == [State.TIME_WAIT]
    with pytest.raises(QueryError, match=r"listening, closing"):
        parse_query("is:open")


def test_the_closing_toggle_survives_the_listening_toggle() -> None:
    """``w`` adds ``-is:closing`` and takes it off again; ``l`` sets and clears ``is:listening`` without
    dropping it (both are ``is:`` clauses)."""
    toggles = Query().toggled("is", "closing", negated=True)
    assert toggles.text == "-is:closing"
    toggles = toggles.replaced("is", "listening")
    assert toggles.text == "-is:closing is:listening" and toggles.value_of("is") == "listening"
    assert [r for r in ALL if toggles.matches(r)] == [SSH, DNS, DEV6]
    toggles = toggles.replaced("is", None).toggled("is", "closing", negated=True)
    assert toggles.is_empty


def test_free_text_finds_hidden_owners_as_the_table_names_them() -> None:
    from nettop.model import OwnerStatus

    hidden = conn(6000, 41000, pid=None)._replace(owner_status=OwnerStatus.NOT_PERMITTED)
    assert parse_query("hidden").matches(hidden)
    assert not parse_query("hidden").matches(WAIT), "a socket no process holds is not hidden"
