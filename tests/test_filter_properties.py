"""Any string into the filter language and the viewer's filter bar: a query or a clean error, never a crash."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.widgets import Input, Static

from nettop.app import NettopApp
from nettop.model import Proto
from nettop.query import TERMS, Query, QueryError, parse_query
from tests.scripted import FakeClock, ScriptedSource, conn

RECORDS = [
    conn(22, name="sshd", pid=10, user="root"),
    conn(443, 50000, local_ip="10.0.0.1", remote_ip="10.0.0.9", name="nginx", pid=20),
    conn(53, proto=Proto.UDP, name="dns\x1b[2J", pid=30),
    conn(8080, local_ip="::1", family=6, name="[red]dev", pid=40),
]

#: Every key and alias of the language's table, so a term added there is fuzzed too.
KEYS = [key for term in TERMS for key in (term.key, *term.aliases)]
VALUES = ["443", "80,443", "8000-8100", "https", "70000", "²", "٣", "-1", "1-", ",", "10.0.0.0/8", "::1",
          "::ffff:10.0.0.0/104", "[/]", "[red]", "\x1b]0;x\x07", '"', "'", "-", " ", "listen", "tcp6", "*", "%",
          "\\", "\u202e", "\udcff", "9" * 400]  # fmt: skip
#: Strings that look like queries: keys, values that are almost right, quotes, negations, markup and escapes.
pieces = st.one_of(
    st.sampled_from(KEYS).map(lambda key: key + ":"),
    st.sampled_from(VALUES),
    st.text(max_size=8),
)
queries = st.one_of(st.text(max_size=60), st.lists(pieces, max_size=12).map("".join))


@settings(derandomize=True, max_examples=1500, deadline=None)
@given(queries)
def test_any_text_is_a_query_or_a_query_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
        return
    assert isinstance(query, Query)
    for record in RECORDS:
        assert query.matches(record) in (True, False)


async def test_any_text_typed_into_the_filter_bar_leaves_the_viewer_running() -> None:
    clock = FakeClock()
    source = ScriptedSource([RECORDS], clock)
    app = NettopApp(source, interval=60, clock=clock)
    typed: list[str] = []

    @settings(
        derandomize=True, max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(queries)
    def collect(text: str) -> None:
        typed.append(text)

    collect()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("slash")
        field = app.query_one("#filter-input", Input)
        for text in typed:
            field.value = text
            await pilot.pause()
            error = str(app.query_one("#filter-error", Static).render())
            assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in error), error
        assert app.is_running
