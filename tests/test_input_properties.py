"""What nettop reads from files it is given, tried with generated inputs: any text into the policy reader gives a
``Policy`` or a ``PolicyError``, any JSON into ``records_from_json`` gives records or a ValueError, a record
written as JSON reads back the same, and ``read_input`` never reads past its limit.

The properties are seeded (``derandomize``) and bounded, so a run is the same every time and takes seconds.
"""

from __future__ import annotations

import datetime
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nettop.cgroups import classify
from nettop.formats import detect_format, parse_text
from nettop.formats.nettop_json import records_from_json
from nettop.inputs import InputError, read_input
from nettop.model import Connection, Owner, OwnerStatus, Proto, State, Traffic
from nettop.policy.rules import FORBID_KEYS, LIMIT_KEYS, LISTEN_KEYS, Policy, PolicyError, parse_policy
from nettop.text import safe
from nettop.writers.json import FIELDS, json_bytes, record_to_dict, to_json

PROPERTY = settings(derandomize=True, max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- TOML: documents generated as values, then written out --------------------------------------------------------


def toml_string(text: str) -> str:
    """A TOML basic string: every control character escaped, since TOML allows none raw but tab."""
    escaped = "".join(
        "\\\\" if c == "\\" else '\\"' if c == '"' else f"\\u{ord(c):04x}" if ord(c) < 0x20 or c == "\x7f" else c
        for c in text
    )
    return f'"{escaped}"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, datetime.date):  # datetimes too: a subclass
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{toml_string(key)} = {toml_value(item)}" for key, item in value.items()) + "}"


def toml_document(document: dict[str, Any]) -> str:
    """Plain values first (they belong to the root), then ``[table]`` and ``[[array]]`` sections."""
    lines = [f"{toml_string(key)} = {toml_value(v)}" for key, v in document.items() if not _is_section(v)]
    for key, value in document.items():
        if isinstance(value, dict):
            lines.append(f"[{toml_string(key)}]")
            lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()]
        elif _is_section(value):
            for table in value:
                lines.append(f"[[{toml_string(key)}]]")
                lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _is_section(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and bool(value) and all(isinstance(t, dict) for t in value)
    )


# No surrogates: TOML text is Unicode scalar values only.
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-5, max_value=70000),
    st.floats(),
    texts,
    st.sampled_from(["tcp", "udp", "TCP", "icmp", "any", "loopback", "::1", "[::1]", "127.0.0.1", "(ssh", "ssh.*"]),
    st.dates(),
    st.datetimes(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
)
#: Values a policy's keys take, right and wrong, and now and then any TOML value at all.
KEY_VALUES = {
    "port": st.integers(min_value=-5, max_value=70000),
    "proto": st.sampled_from(["tcp", "udp", "TCP", "icmp", ""]),
    "bind": st.sampled_from(["any", "loopback", "::1", "[::1]", "127.0.0.1", "fe80::1%eth0", "nowhere"]),
    "program": texts,
    "program_regex": st.sampled_from(["ssh.*", "(ssh", "a{4294967296}", "(" * 2000 + ")" * 2000]) | texts,
    "user": texts,
    "unit": st.sampled_from(["ssh.service", "getty@tty1.service"]) | texts,
    "count": st.integers(min_value=-2, max_value=10),
    "max": st.integers(min_value=-2, max_value=10),
    "only_listed": st.booleans(),
}


def tables_of(keys: tuple[str, ...], required: tuple[str, ...] = ()) -> st.SearchStrategy[dict[str, Any]]:
    """A table with some of ``keys`` (mostly with the ``required`` ones), and sometimes a key of its own."""

    def some(needed: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
        values = {key: KEY_VALUES[key] | KEY_VALUES[key] | toml_values for key in keys}
        return st.fixed_dictionaries(
            {key: values[key] for key in needed}, optional={key: values[key] for key in keys if key not in needed}
        )

    known = st.one_of(some(required), some(required), some(required), some(()))
    extra = st.one_of(st.just({}), st.just({}), st.just({}), st.dictionaries(texts, toml_values, max_size=1))
    return st.builds(lambda chosen, more: {**chosen, **more}, known, extra)


def rules_of(keys: tuple[str, ...]) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(tables_of(keys, required=keys[:2]), min_size=1, max_size=4)


toml_documents = tables_of(()).flatmap(
    lambda extra: st.fixed_dictionaries(
        {},
        optional={
            "listen": st.one_of(*(rules_of(LISTEN_KEYS) for _ in range(4)), tables_of(LISTEN_KEYS), toml_values),
            "forbid": st.one_of(*(rules_of(FORBID_KEYS) for _ in range(4)), toml_values),
            "listeners": tables_of(LIMIT_KEYS) | tables_of(LIMIT_KEYS) | toml_values,
        },
    ).map(lambda document: {**document, **extra})
)


def policy_or_policy_error(text: str) -> Policy | PolicyError:
    """What ``parse_policy`` must give, whatever the text; the error's message is safe to print, and its line
    (if any) is one of the text's."""
    try:
        return parse_policy(text, "p.toml")
    except PolicyError as error:
        assert str(error).startswith("p.toml"), str(error)
        assert safe(str(error)) == str(error), f"unsafe characters in {str(error)!r}"
        assert error.line is None or 1 <= error.line <= text.count("\n") + 1, (error.line, str(error))
        return error


@settings(PROPERTY, max_examples=150)  # the slowest to generate
@given(toml_documents)
def test_any_toml_document_gives_a_policy_or_a_policy_error(document: dict[str, Any]) -> None:
    result = policy_or_policy_error(toml_document(document))
    # The generator writes valid TOML: whatever is refused, it is not for its syntax.
    assert not (isinstance(result, PolicyError) and "TOML syntax error" in result.problem), result


toml_fragments = st.sampled_from(
    [
        "[[listen]]", "[listen]", "[listeners]", "[[forbid]]", " [ [ listen ] ]", '["listen"]', "[listen.sub]",
        "port = 22", 'proto = "tcp"', "proto = 'udp'", "port = ", "count = 3", "max = -1", "only_listed = true",
        'bind = "[::1]"', 'program_regex = "("', "a = [", "]", "a = {", "}", '"""', "'''", "# comment", "x = 1e400",
        "port = 1" + "0" * 5000, "port = 0x" + "f" * 5000, "\x0c", "\u2028", "\r", "\x00", "=", "\ufeff",
    ]
)  # fmt: skip


@PROPERTY
@given(st.lists(toml_fragments | texts, max_size=12), st.sampled_from(["\n", "\r\n", " ", ""]))
def test_toml_like_text_gives_a_policy_or_a_policy_error(pieces: list[str], joint: str) -> None:
    policy_or_policy_error(joint.join(pieces))


@PROPERTY
@given(st.text(max_size=200))
def test_any_text_gives_a_policy_or_a_policy_error(text: str) -> None:
    policy_or_policy_error(text)


@settings(derandomize=True, max_examples=40, deadline=None)
@given(
    st.sampled_from(["a = ", "[[listen]]\nport = ", "[[listen]]\nport = 1\nproto = "]),
    st.sampled_from([("[", "]"), ("{a = ", "}"), ("[{a = ", "}]"), ("{a = [", "]}"), ('{"a" = ', "}")]),
    st.integers(min_value=1, max_value=5000),
    st.booleans(),
)
def test_deep_nesting_gives_a_policy_error(start: str, brackets: tuple[str, str], depth: int, closed: bool) -> None:
    """Arrays and inline tables inside each other, closed (valid TOML, however deep) or left open."""
    opener, closer = brackets
    inside = ("1" if opener.endswith("= ") else "") + closer * depth if closed else ""
    assert isinstance(policy_or_policy_error(start + opener * depth + inside + "\n"), PolicyError)


@st.composite
def valid_policies(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    rules = draw(
        st.lists(
            st.fixed_dictionaries(
                {"port": st.integers(1, 65535), "proto": st.sampled_from(["tcp", "udp"])},
                optional={
                    "bind": st.sampled_from(["any", "loopback", "::1", "10.0.0.1"]),
                    "program": texts.filter(bool),
                    "user": texts.filter(bool),
                },
            ),
            max_size=8,
        )
    )
    # Line and paragraph separators and NEL are allowed in comments; a line count must not stop at them.
    comments = draw(st.lists(st.sampled_from(["", "# a \u2028 comment", "# NEL \x85, \u2029"]), max_size=3))
    text = "".join(f"{chr(10).join(comments)}\n[[listen]]\n" + toml_document(rule) for rule in rules)
    return text, rules


@PROPERTY
@given(valid_policies())
def test_valid_policies_are_read_with_their_lines(policy: tuple[str, list[dict[str, Any]]]) -> None:
    text, rules = policy
    read = parse_policy(text, "p.toml")
    assert [(r.port, r.proto.value, r.program, r.user) for r in read.listen] == [
        (rule["port"], rule["proto"], rule.get("program"), rule.get("user")) for rule in rules
    ]
    lines = text.split("\n")
    assert all(lines[rule.line - 1] == "[[listen]]" for rule in read.listen if rule.line is not None)
    assert all(rule.line is not None for rule in read.listen)


def test_a_policy_of_many_tables_is_read_in_linear_time() -> None:
    """20,000 ``[[listen]]`` tables took 21 s when every look-up rescanned the headers; 4x the tables must cost
    about 4x the time, not 16x."""

    def policy(count: int) -> str:
        return "".join(f'[[listen]]\nport = {1 + i % 65535}\nproto = "tcp"\nprogram = "p{i}"\n\n' for i in range(count))

    def best_time(text: str) -> float:
        times = []
        for _ in range(3):
            start = time.process_time()
            parse_policy(text, "p.toml")
            times.append(time.process_time() - start)
        return min(times)

    small, large = policy(5000), policy(20000)
    ratio = best_time(large) / best_time(small)
    assert ratio < 8, f"4x the tables took {ratio:.1f}x the time"
    with pytest.raises(PolicyError) as raised:  # the last table's key is still found on its line
        parse_policy(large + "bogus = 1\n", "p.toml")
    assert (raised.value.line, raised.value.key) == (large.count("\n") + 1, "listen[20000].bogus")


# --- JSON: any value in, records or a ValueError out ---------------------------------------------------------------


def json_values_of(floats: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | floats | st.text(max_size=12)
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    )


json_values = json_values_of(st.floats())
#: What JSON can hold: json.dumps writes nan as NaN, which is not JSON.
finite_json_values = json_values_of(st.floats(allow_nan=False, allow_infinity=False))
OWNER_KEYS = ("pid", "name", "user", "cmdline", "start_time", "cgroup")
record_like = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), json_values, max_size=22)


def records_or_value_error(data: str | bytes) -> list[Connection] | ValueError:
    try:
        records = records_from_json(data)
    except ValueError as error:
        assert safe(str(error)) == str(error), f"unsafe characters in {str(error)!r}"
        return error
    assert isinstance(records, list) and all(isinstance(r, Connection) for r in records)
    return records


@PROPERTY
@given(json_values | st.lists(record_like, max_size=3))
def test_any_json_value_gives_records_or_a_value_error(value: Any) -> None:
    records_or_value_error(json.dumps(value))  # NaN and Infinity too: json.dumps writes them, nettop refuses them


@PROPERTY
@given(st.text(max_size=100) | st.binary(max_size=100))
def test_any_text_or_bytes_gives_records_or_a_value_error(data: str | bytes) -> None:
    records_or_value_error(data)


@settings(derandomize=True, max_examples=40, deadline=None)
@given(st.sampled_from(["[", '{"a": ', '[{"owners": ']), st.integers(min_value=1, max_value=100_000))
def test_deep_json_gives_a_value_error(opener: str, depth: int) -> None:
    assert isinstance(records_or_value_error("[" + opener * depth), ValueError)


# --- Records: valid ones read back exactly, and every field refused when out of its schema --------------------------

#: Every code point, control characters, non-ASCII and lone surrogates (names that were not UTF-8) included.
any_text = st.text(st.characters(exclude_categories=()), max_size=10)
maybe_text = st.none() | any_text


def up_to(most: int) -> st.SearchStrategy[int]:
    return st.integers(0, most) | st.sampled_from([0, most])


owners = st.builds(
    Owner,
    st.none() | up_to(2**31 - 1),  # None: a capture named the process, not its pid
    maybe_text,
    maybe_text,
    st.none() | st.lists(any_text, max_size=3).map(tuple),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
    st.none() | (st.sampled_from(["/", "/system.slice/nginx.service", "/docker/" + "a" * 64]) | any_text).map(classify),
)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


counts = up_to(2**64 - 1)
traffic = st.builds(Traffic, optional(counts), optional(counts), up_to(2**32 - 1), up_to(2**32 - 1),
                    optional(counts), optional(counts))  # fmt: skip

connections = st.builds(
    Connection,
    st.sampled_from(Proto),
    st.sampled_from([4, 6]),
    any_text,
    optional(up_to(65535)),
    maybe_text,
    optional(up_to(65535)),
    st.sampled_from(State),
    st.lists(owners, max_size=3).map(tuple),
    st.sampled_from(OwnerStatus),
    maybe_text,
    optional(up_to(2**63 - 1)),
    optional(up_to(2**63 - 1)),
    optional(up_to(2**64 - 1)),
    optional(up_to(2**32 - 1)),
    optional(st.booleans()),
    st.booleans(),
    any_text,
    raw=st.just(""),  # not in the JSON schema: a record read back has none
    local_service=st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9-]{0,14}", fullmatch=True)),
    remote_service=st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9-]{0,14}", fullmatch=True)),
    traffic=optional(traffic),
    netns=maybe_text,
    placement=st.none(),  # the socket's own cgroup stands in for no owner's: test_owners_cgroups reads it back
)


@PROPERTY
@given(st.lists(connections, max_size=4), st.sampled_from([None, 2]))
def test_records_read_back_exactly(records: list[Connection], indent: int | None) -> None:
    data = json_bytes(records, indent)
    assert records_from_json(data) == records
    assert records_from_json(data.decode("utf-8", "surrogatepass")) == records
    assert records_from_json(to_json(records)) == records
    # --from-file reads it as one more format, found by detection: parse(render(records)) is the records.
    text = to_json(records) if indent is None else data.decode("utf-8", "surrogatepass")
    assert detect_format(text) == "nettop-json"
    assert parse_text(text).records == tuple(records)


def is_count(value: Any, most: int) -> bool:
    return type(value) is int and 0 <= value <= most


def is_finite_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and abs(value) <= sys.float_info.max


#: The schema, written again from the README as predicates: what each field may hold.
FIELD_RULES: dict[str, Callable[[Any], bool]] = {
    "proto": lambda v: type(v) is str and v in ("tcp", "udp", "raw"),
    "family": lambda v: type(v) is int and v in (4, 6),
    "local_ip": lambda v: type(v) is str,
    "local_port": lambda v: v is None or is_count(v, 65535),
    "remote_ip": lambda v: v is None or type(v) is str,
    "remote_port": lambda v: v is None or is_count(v, 65535),
    "state": lambda v: type(v) is str and v in {s.value for s in State},
    "owner_status": lambda v: type(v) is str and v in {s.value for s in OwnerStatus},
    "interface": lambda v: v is None or type(v) is str,
    "recv_q": lambda v: v is None or is_count(v, 2**63 - 1),
    "send_q": lambda v: v is None or is_count(v, 2**63 - 1),
    "inode": lambda v: v is None or is_count(v, 2**64 - 1),
    "uid": lambda v: v is None or is_count(v, 2**32 - 1),
    "v6only": lambda v: v is None or type(v) is bool,
    "truncated": lambda v: type(v) is bool,
    "source": lambda v: type(v) is str,
    "owners": lambda v: type(v) is list and all(type(o) is dict for o in v),
}
OWNER_RULES: dict[str, Callable[[Any], bool]] = {
    "pid": lambda v: v is None or is_count(v, 2**31 - 1),  # null: a capture named the process, not its pid
    "name": lambda v: v is None or type(v) is str,
    "user": lambda v: v is None or type(v) is str,
    "cmdline": lambda v: v is None or (type(v) is list and all(type(w) is str for w in v)),
    "start_time": lambda v: v is None or is_finite_number(v),
    "cgroup": lambda v: v is None or type(v) is str,
}
#: Values just outside each rule, beside the random ones.
EDGES = [
    -1, 65536, 2**31, 2**32, 2**63, 2**64, 4.0, 80.0, "1e400", True, False, "", "80", "abc", [], {}, [80],
    {"pid": 1}, "TCP", "listen", "KNOWN", 5, 1.5,
]  # fmt: skip
wrong_values = st.sampled_from(EDGES) | finite_json_values
#: Stands for the JSON number 1e400, which reads as infinity and which json.dumps cannot write.
HUGE = "1e400"


def json_with_huge(rows: Any) -> str:
    return json.dumps(rows).replace(f'"{HUGE}"', HUGE)


def as_read(value: Any) -> Any:
    return math.inf if value == HUGE else value


@st.composite
def broken_records(draw: st.DrawFn) -> tuple[list[dict[str, Any]], int, str]:
    """Valid records as JSON objects, one of whose fields (its own or an owner's) holds a value out of its rule;
    returns the rows, which one is broken and the field's name as the error must give it."""
    records = draw(st.lists(connections.filter(lambda r: bool(r.owners)), min_size=1, max_size=3))
    rows = json.loads(json_bytes(records))
    index = draw(st.integers(0, len(rows) - 1))
    row = rows[index]
    if draw(st.booleans()):
        field = draw(st.sampled_from(sorted(FIELD_RULES)))
        row[field] = draw(wrong_values.filter(lambda v: not FIELD_RULES[field](as_read(v))))
        return rows, index, field
    key = draw(st.sampled_from(OWNER_KEYS))
    row["owners"][0][key] = draw(wrong_values.filter(lambda v: not OWNER_RULES[key](as_read(v))))
    return rows, index, f"owners[0].{key}"


@PROPERTY
@given(broken_records())
def test_a_field_out_of_the_schema_is_refused_by_name(broken: tuple[list[dict[str, Any]], int, str]) -> None:
    rows, index, field = broken
    error = records_or_value_error(json_with_huge(rows))
    assert isinstance(error, ValueError), f"{field} = {rows[index].get(field)!r} was accepted"
    message = str(error)
    assert message.startswith(f"connection {index}: bad value for {field}"), message
    assert len(message) < 400, message


@PROPERTY
@given(
    st.lists(connections, min_size=1, max_size=3), st.dictionaries(st.text(max_size=8), finite_json_values, max_size=3)
)
def test_fields_the_schema_does_not_have_are_ignored(records: list[Connection], extra: dict[str, Any]) -> None:
    rows = [record_to_dict(r) for r in records]
    for row in rows:
        row.update((key, value) for key, value in extra.items() if key not in FIELDS)
        for owner in row["owners"]:
            owner.update((key, value) for key, value in extra.items() if key not in OWNER_KEYS)
    assert records_from_json(json.dumps(rows)) == records


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("local_port", 70000, "connection 0: bad value for local_port: expected an integer from 0 to 65535 or null, "
                              "found 70000"),
        ("local_port", "abc", 'bad value for local_port: expected an integer from 0 to 65535 or null, found the '
                              'string "abc"'),
        ("local_port", 80.0, "bad value for local_port: expected an integer from 0 to 65535 or null, found 80.0"),
        ("recv_q", [1], "bad value for recv_q: expected an integer from 0 to 9223372036854775807 or null, found a "
                        "list of 1 item"),
        ("family", True, "bad value for family: expected 4 or 6, found true"),
        ("proto", "icmp", 'bad value for proto: expected one of tcp, udp, raw, found the string "icmp"'),
        ("state", "x" * 500, f'found the string "{"x" * 60}…"'),
        ("state", "\x1b[2J", 'found the string "\\x1b[2J"'),
        ("owners", None, "bad value for owners: expected a list of objects, found null"),
        ("truncated", None, "bad value for truncated: expected true or false, found null"),
        ("pid", 2**32, "bad value for pid: expected the first owner's pid, 7, found 4294967296"),
        ("program", "other", "bad value for program: expected the first owner's name, the string \"sshd\", found"),
    ],
    ids=["port-70000", "port-abc", "port-float", "queue-list", "family-true", "proto-icmp", "state-long",
         "state-escape", "owners-null", "truncated-null", "pid-not-the-owners", "program-not-the-owners"],
)  # fmt: skip
def test_bad_fields_are_named_with_the_value_cut_short(field: str, value: Any, message: str) -> None:
    row = record_to_dict(Connection(Proto.TCP, 4, "0.0.0.0", 22, None, None, State.LISTEN, (Owner(7, "sshd"),)))
    row[field] = value
    with pytest.raises(ValueError) as raised:
        records_from_json(json.dumps([row]))
    assert message in str(raised.value)
    assert str(raised.value).startswith("connection 0: ")


@pytest.mark.parametrize(
    ("owner", "message"),
    [
        ({"pid": 2**32}, "bad value for owners[0].pid: expected an integer from 0 to 2147483647, or null, found 429"),
        ({"pid": -1}, "owners[0].pid: expected an integer from 0 to 2147483647, or null, found -1"),
        ({"name": "x"}, "missing field 'owners[0].pid'"),
        ({"pid": 1, "start_time": HUGE}, "owners[0].start_time: expected a finite number (seconds since the epoch) "
                                          "or null, found a number too large to read"),
        ({"pid": 1, "start_time": 10**400}, "owners[0].start_time: expected a finite number"),
        ({"pid": 1, "start_time": [1]}, "owners[0].start_time: expected a finite number"),
        ({"pid": 1, "cmdline": ["a", 2]}, "owners[0].cmdline[1]: expected a string, found 2"),
        ({"pid": 1, "cmdline": "a b"}, "owners[0].cmdline: expected a list of strings or null"),
        ({"pid": 1, "name": 5}, "owners[0].name: expected a string or null, found 5"),
    ],
    ids=["pid-2**32", "pid-negative", "pid-missing", "start-1e400", "start-10**400", "start-list", "cmdline-int",
         "cmdline-string", "name-int"],
)  # fmt: skip
def test_bad_owners_are_named(owner: dict[str, Any], message: str) -> None:
    row = {"proto": "tcp", "family": 4, "local_ip": "::", "state": "LISTEN", "owners": [owner]}
    with pytest.raises(ValueError, match=r"^connection 0: ") as raised:
        records_from_json(json_with_huge([row]))
    assert message in str(raised.value)


def test_an_integral_start_time_is_a_float_and_nan_is_not_json() -> None:
    row = {
        "proto": "udp",
        "family": 6,
        "local_ip": "::",
        "state": "UNCONNECTED",
        "owners": [{"pid": 1, "start_time": 5}],
    }
    (record,) = records_from_json(json.dumps([row]))
    assert record.owners[0].start_time == 5.0 and type(record.owners[0].start_time) is float
    with pytest.raises(ValueError, match=r"^not JSON: NaN is not a JSON number"):
        records_from_json('[{"proto": "tcp", "recv_q": NaN}]')
    with pytest.raises(ValueError, match=r"^not JSON: Exceeds the limit \(4300 digits\)"):
        records_from_json("[" + "1" * 5000 + "]")
    with pytest.raises(ValueError, match=r"^not JSON nettop can read: lists or objects nested too deeply"):
        records_from_json("[" * 100_000)


# --- read_input: bounded, and every failure a clear InputError ------------------------------------------------------


def test_read_input_refuses_dev_zero_after_its_limit() -> None:
    start = time.monotonic()
    with pytest.raises(InputError) as raised:
        read_input("/dev/zero", 3 * 1024 * 1024, "capture")
    assert str(raised.value) == "/dev/zero is larger than 3 MiB; nettop reads at most 3 MiB of a capture"
    assert raised.value.too_large and time.monotonic() - start < 5


def test_read_input_reads_up_to_its_limit_exactly(tmp_path: Path) -> None:
    path = tmp_path / "exact"
    path.write_bytes(b"x" * 1000)
    assert read_input(str(path), 1000, "snapshot") == b"x" * 1000
    with pytest.raises(InputError, match="is larger than 999 bytes; nettop reads at most 999 bytes of a snapshot"):
        read_input(str(path), 999, "snapshot")
    assert read_input(os.devnull, 0, "snapshot") == b""


@pytest.mark.parametrize(("name", "reason"), [("absent.json", "No such file or directory"), (".", "Is a directory")])
def test_read_input_says_why_a_file_cannot_be_read(tmp_path: Path, name: str, reason: str) -> None:
    path = str(tmp_path / name)
    with pytest.raises(InputError) as raised:
        read_input(path, 100, "snapshot")
    assert str(raised.value) == f"{reason}: {path}"
    assert (raised.value.path, raised.value.reason, raised.value.too_large) == (path, reason, False)


def test_read_input_reads_stdin_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    class Stdin:
        buffer = io.BytesIO(b"[]\n")

    monkeypatch.setattr(sys, "stdin", Stdin())
    assert read_input("-", 3, "snapshot") == b"[]\n"
    Stdin.buffer = io.BytesIO(b"[1, 2]")
    with pytest.raises(InputError, match=r"^stdin is larger than 3 bytes"):
        read_input("-", 3, "snapshot")
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(InputError, match=r"^Standard input is closed: stdin$"):
        read_input("-", 3, "snapshot")


def test_read_input_reads_a_pipe_bounded() -> None:
    reading, writing = os.pipe()
    os.write(writing, b"y" * 5000)
    os.close(writing)
    with pytest.raises(InputError, match="larger than 4000 bytes"):
        read_input(f"/dev/fd/{reading}", 4000, "capture")
    os.close(reading)


def test_read_input_shows_a_hostile_path_escaped(tmp_path: Path) -> None:
    path = str(tmp_path / "\x1b]0;owned\x07.json")
    with pytest.raises(InputError) as raised:
        read_input(path, 100, "snapshot")
    assert "\x1b" not in str(raised.value) and "\\x1b]0;owned\\x07.json" in str(raised.value)
    with pytest.raises(InputError, match="embedded null byte"):
        read_input("a\0b", 100, "snapshot")
