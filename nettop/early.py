"""A one-shot listing started before the rest of nettop is imported.

``nettop list`` spends about 100 ms importing the parsers, psutil and orjson. Started first, ``ss`` runs
meanwhile in its own process and the ``/proc`` scan in a thread (which gets the interpreter whenever the
imports wait on a file): at 10,000 connections both are done about when the imports are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

from nettop.runner import BlockingRun

if TYPE_CHECKING:
    from nettop.procfs import SocketOwners

T = TypeVar("T")


class InThread(Generic[T]):
    """A call running in a thread of its own (``concurrent.futures`` is another 15 ms of imports)."""

    def __init__(self, call: Callable[..., T], *args: object) -> None:
        self._call, self._args = call, args
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call(*self._args)
        except BaseException as error:  # handed to the caller of result()
            self._error = error

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def scan_owners(proc_root: str) -> SocketOwners:
    from nettop.procfs import scan_socket_owners  # imported in the scan's thread, beside the other imports

    return scan_socket_owners(proc_root)


class EarlyListing(NamedTuple):
    """The command and the ``/proc`` scan, both under way."""

    run: BlockingRun
    owners: InThread[SocketOwners]
    proc_root: str

    @classmethod
    def start(cls, argv: tuple[str, ...], proc_root: str = "/proc") -> EarlyListing:
        """Start both; raises ``CommandNotFound`` when the command is missing (nothing is left running)."""
        run = BlockingRun(argv)
        return cls(run, InThread(scan_owners, proc_root), proc_root)

    def cancel(self) -> None:
        """Not needed after all (or something failed before it was read): kill and reap the command."""
        self.run.cancel()
