"""How far a listener reaches: loopback only, every interface, or one address. What a person asks first of an open
port, and what ``check``'s bind rules and the ``exposure:`` filter term test.
"""

from __future__ import annotations

import ipaddress

from nettop.model import WILDCARD_HOSTS, Connection, unmapped

#: A listener bound to the wildcard address: reachable on every interface (an IPv6 one on IPv4 too unless v6only).
ALL = "all"
#: Bound to a loopback address (127.0.0.0/8, ::1, and IPv4-mapped loopback): this machine alone reaches it.
LOOPBACK = "loopback"
#: Bound to one address of an interface: reachable where that address is.
ADDRESS = "address"
EXPOSURES = (LOOPBACK, ADDRESS, ALL)


def is_wildcard(ip: str) -> bool:
    return ip in WILDCARD_HOSTS


def is_loopback(ip: str) -> bool:
    found = unmapped(address(ip))
    return found is not None and found.is_loopback


def address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(ip)
    except ValueError:  # a name, or an address the tool truncated
        return None


def exposure(record: Connection) -> str | None:
    """``all``, ``loopback`` or ``address`` for a listener; None for any other socket (it serves no port)."""
    if not record.is_listener:
        return None
    ip = record.local_ip
    if is_wildcard(ip):
        return ALL
    return LOOPBACK if is_loopback(ip) else ADDRESS
