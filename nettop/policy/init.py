"""A policy that the current listeners pass, as TOML: what ``nettop policy init`` prints."""

from __future__ import annotations

import json
from collections.abc import Iterable

from nettop.model import Connection, Proto
from nettop.policy.check import canonical_address, is_dual_stack, listener_groups
from nettop.text import json_safe_bytes


def policy_from_listeners(records: Iterable[Connection]) -> str:
    """TOML for a policy that the current listeners pass: one [[listen]] per listener as people count them
    (see ``check.listener_groups``), with its owner and bind scope, and only_listed on, ready to commit."""
    groups = listener_groups(r for r in records if r.is_listener)
    lines = [
        "# nettop check policy: the listeners found by `nettop policy init`.",
        "# Edit to taste; see `nettop check --help`.",
    ]
    for (proto, port, scope), members in groups.items():
        lines += ["", *_listen_table(proto, port, scope, members)]
    lines += ["", "[listeners]", f"# count = {len(groups)}", "only_listed = true", ""]
    return "\n".join(lines)


def _listen_table(proto: Proto, port: int, scope: str, members: list[Connection]) -> list[str]:
    table = ["[[listen]]", f"port = {port}", f'proto = "{proto.value}"']
    bind = _bind(scope, members)
    table.append(f"bind = {_toml(bind)}" if bind else f"# bind: {scope!r} is not a whole address (cut by the tool)")
    owned = next((r for r in members if r.owners and r.owners[0].name), None)
    if owned is None:
        table.insert(0, "# owner unknown: run as root to name it")
        return table
    owner = owned.owners[0]
    table.append(f"program = {_toml(owner.name or '')}")
    if owner.user:
        table.append(f"user = {_toml(owner.user)}")
    return table


def _bind(scope: str, members: list[Connection]) -> str | None:
    """The bind that ``members`` pass: "any" needs an IPv4 wildcard or a known dual-stack socket, else "::";
    None for an address the tool cut short, which no rule could name."""
    if scope == "loopback":
        return scope
    if scope != "any":
        return canonical_address(scope)
    return "any" if any(r.family == 4 or is_dual_stack(r) for r in members) else "::"


def _toml(text: str) -> str:
    """A TOML basic string: JSON's escapes (\\", \\\\, \\n, \\uXXXX) are TOML's too, for DEL and C1 controls
    as well (TOML refuses a raw DEL; a terminal acts on C1). A lone surrogate (a name that was not UTF-8) has no
    TOML spelling at all: it is written as U+FFFD, and the rule will not match, which ``check`` then says."""
    if any("\ud800" <= char <= "\udfff" for char in text):
        text = "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return json_safe_bytes(json.dumps(text, ensure_ascii=False).encode()).decode()
