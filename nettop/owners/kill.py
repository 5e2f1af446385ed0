"""Signal a socket's owner, but only the very process nettop saw: a reused pid is never signalled."""

from __future__ import annotations

import signal

import psutil

from nettop.errors import NettopError
from nettop.model import Owner


class KillRefused(NettopError):
    """The process was not signalled; the message says why."""


def signal_owner(owner: Owner, sig: signal.Signals = signal.SIGTERM) -> str:
    """Send ``sig`` to ``owner`` after checking its start time again; return what was done.

    Whatever the signal, the start time is compared first: between the listing and the key press the owner may
    have exited and another process have taken its pid, and that one is never signalled.
    """
    if owner.pid is None:
        raise KillRefused(f"{owner.name or 'the owner'}: its pid is unknown (the capture named no pid)")
    if owner.start_time is None:
        raise KillRefused(f"pid {owner.pid}: its start time is unknown, so it cannot be told from a reused pid")
    try:
        process = psutil.Process(owner.pid)
        if process.create_time() != owner.start_time:
            raise KillRefused(f"pid {owner.pid} now belongs to another process ({process.name()}); not signalled")
        process.send_signal(sig)
    except psutil.NoSuchProcess:
        raise KillRefused(f"pid {owner.pid} ({owner.name}) has already exited") from None
    except psutil.AccessDenied:
        raise KillRefused(
            f"not permitted to signal pid {owner.pid} ({owner.name}): run nettop as its user or root"
        ) from None
    except ValueError:  # Windows takes SIGTERM and the console events only
        raise KillRefused(f"{sig.name} cannot be sent on this system; pid {owner.pid} not signalled") from None
    return f"sent {sig.name} to pid {owner.pid} ({owner.name})"
