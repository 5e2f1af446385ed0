"""The viewer's top and status lines as parts, most important first, fitted to the screen's width.

A part has one or more forms, longest first. Each part is shown in its shortest form while whole parts fit, the
least important dropped first, never cut (a cut part once left a dangling separator); the room left then goes to
longer forms, most important first.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

from nettop.snapshots import Counts
from nettop.view import COLUMNS_BY_KEY

#: Between the top line's parts, and between the status line's notes.
SUMMARY_SEPARATOR, STATUS_SEPARATOR = " │ ", "  ·  "
#: Data older than this many intervals is said to be old, with its age (a hung collection, a paused source).
STALE_INTERVALS = 2
#: The sort as the top line says it: the two Port columns would read the same.
SORT_NAMES = {"lport": "Local port", "rport": "Remote port"}

Part = Sequence[Content]


def fit(parts: Sequence[Part], width: int, separator: str) -> Content:
    """The parts (each its forms, longest first; empty ones skipped) that fit ``width``, joined, in order. The
    first part is kept even when it alone is too wide: the line crops (or wraps) it rather than show nothing."""
    between = len(separator)
    chosen: dict[int, Content] = {}
    used = -between
    for at, forms in enumerate(parts):
        forms = [form for form in forms if form.cell_length]
        if not forms:
            continue
        shortest = forms[-1]
        if not chosen or used + between + shortest.cell_length <= width:
            chosen[at] = shortest
            used += between + shortest.cell_length
    for at in sorted(chosen):
        for form in parts[at]:
            grows = form.cell_length - chosen[at].cell_length
            if grows > 0 and used + grows <= width:
                chosen[at] = form
                used += grows
                break
    return Content(separator).join(chosen[at] for at in sorted(chosen))


def listening_part(counts: Counts) -> Part:
    """Listening sockets by protocol: TCP in LISTEN, and UDP bound without a peer (which has no LISTEN state, so
    a bare count beside the states' ``LISTEN:`` did not add up)."""
    tcp = counts.by_state.get("LISTEN", 0)
    others = counts.listeners - tcp
    return (
        Content(f"{counts.listeners} listening ({tcp} tcp, {others} udp)"),
        Content(f"listening {tcp} tcp {others} udp"),
    )


def sort_part(column_key: str, reverse: bool) -> Content:
    """The sort, as the column's header shows it (▲, or ▼ reversed)."""
    name = SORT_NAMES.get(column_key) or COLUMNS_BY_KEY[column_key].title
    return Content(f"sort: {name} {'▼' if reverse else '▲'}")


def age_text(seconds: float) -> str:
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def data_part(source: str, taken: str, duration: float, age: float, interval: float) -> Part:
    """When the rows were read, by what and how fast; once they are older than a couple of intervals (a hung
    command), how old, marked: the time alone looked like fresh data."""
    if age > STALE_INTERVALS * interval:
        old = f"{taken} ({age_text(age)})"
        return (Content.styled(f"{source} {old}", "$text-warning bold"), Content.styled(old, "$text-warning bold"))
    return (Content(f"{source} {taken} in {duration * 1000:.0f}ms"), Content(taken))


def states_part(counts: Counts, most: int = 5) -> Part:
    """The commonest states, the most first; shorter forms hold fewer of them."""
    ranked = sorted(counts.by_state.items(), key=lambda kv: (-kv[1], kv[0]))[:most]
    said = [f"{state}:{n}" for state, n in ranked]
    return [Content(" ".join(said[:shown])) for shown in range(len(said), 0, -1)]
