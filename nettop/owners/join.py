"""Owners joined to the records of a parse, after it: formats never look owners up.

- By inode (Linux): a listing made with ``ss -e``/``netstat -e`` shows each socket's inode, and a ``/proc`` scan
  (``owners.procfs``) says which processes hold it; an ``OwnerResolver`` (``owners.enrich``) turns that into owners
  and, for a socket no visible process holds, the reason.
- By endpoint (macOS): a netstat without a pid column is given ``lsof -nP -i``'s owners where a socket's two ends
  match, since the two tools share no inode.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from nettop.model import Connection, Owner, OwnerResolver, OwnerStatus, ParseResult, Proto, new_connection


def join_by_inode(records: Iterable[Connection], owners_for: OwnerResolver) -> tuple[Connection, ...]:
    """Records parsed without owners, with ``owners_for``'s answer wherever the line showed no owners."""
    new = new_connection  # a record without NamedTuple's Python-level __new__ (see model)
    out: list[Connection] = []
    append = out.append
    # Unpacked whole and built again field by field: a third faster than slicing around the owners.
    for record in records:
        (proto, family, local_ip, local_port, remote_ip, remote_port, state, owners, status, interface,
         recv_q, send_q, inode, uid, v6only, truncated, source, raw, local_service,
         remote_service, traffic, netns, placement, host) = record  # fmt: skip
        if not owners:
            owners, status = owners_for(inode, state, uid)
            record = new(
                (proto, family, local_ip, local_port, remote_ip, remote_port, state, owners, status, interface,
                 recv_q, send_q, inode, uid, v6only, truncated, source, raw, local_service,
                 remote_service, traffic, netns, placement, host),
            )  # fmt: skip
        append(record)
    return tuple(out)


class EndpointKey(NamedTuple):
    """What a lsof record and a netstat record of the same socket share: protocol and both endpoints.

    The family is left out because a dual-stack socket is ``tcp46`` to netstat and ``IPv6`` to lsof, while its
    addresses are written the same way by both parsers (``::``, ``::ffff:…``); the scope is left out because
    netstat cuts it off long IPv6 hosts. Hosts must be numeric on both sides (``netstat -n``, ``lsof -nP``).
    """

    proto: Proto
    local_ip: str
    local_port: int | None
    remote_ip: str | None
    remote_port: int | None


def endpoint_key(record: Connection) -> EndpointKey:
    return EndpointKey(record.proto, record.local_ip, record.local_port, record.remote_ip, record.remote_port)


def owners_by_endpoint(result: ParseResult) -> dict[EndpointKey, tuple[Owner, ...]]:
    """Every lsof record's owners under its ``EndpointKey``, to give records of another listing.

    Sockets not bound to a port (``*:*``) are left out: many processes hold one, so the key names no socket.
    Several sockets with one key (a SO_REUSEPORT group) give the key all their owners.
    """
    owners: dict[EndpointKey, tuple[Owner, ...]] = {}
    for record in result.records:
        if record.local_port is None:
            continue
        key = endpoint_key(record)
        seen = owners.get(key)
        if seen is None:
            owners[key] = record.owners
        else:
            pids = {owner.pid for owner in seen}
            owners[key] = (*seen, *(owner for owner in record.owners if owner.pid not in pids))
    return owners


def join_by_endpoint(
    records: tuple[Connection, ...], owners: dict[EndpointKey, tuple[Owner, ...]]
) -> tuple[Connection, ...]:
    """Records whose listing did not report owners, given lsof's (``owners_by_endpoint``) where the key matches.

    Records that have owners, or whose status says why they have none, are returned as they are.
    """
    attached: list[Connection] = []
    for record in records:
        if record.owner_status is OwnerStatus.NOT_REPORTED:
            found = owners.get(endpoint_key(record))
            if found:
                record = record._replace(owners=found, owner_status=OwnerStatus.KNOWN)
        attached.append(record)
    return tuple(attached)
