"""Read a file nettop was given (a policy, a capture, a saved snapshot), never more than a set size.

``nettop check /dev/zero`` or ``nettop diff /dev/zero x`` would otherwise read until memory runs out. Every
input is read through ``read_input``, which stops one byte past its limit and refuses the input; pipes,
``/dev/stdin`` and ``-`` (standard input) are read the same way, since a size cannot be asked of them.

The limits, with what real inputs weigh:

* a capture (``--from-file``): ``ss -tunae`` or ``netstat`` text is about 300 bytes a socket, so a
  100,000-socket server's is about 30 MB; 256 MiB is some 850,000 sockets.
* a snapshot (``nettop diff``): ``nettop list --format json`` is 450-700 bytes a socket (indented, as
  ``write_export`` writes it), more with long command lines; 256 MiB is some 400,000 sockets.
* a policy (``nettop check``): a rule is a few lines, so 20,000 rules are about 1 MB; more than 16 MiB is
  not a policy anyone wrote.
"""

from __future__ import annotations

import sys
from typing import BinaryIO

from nettop.errors import NettopError
from nettop.text import safe

MIB = 1024 * 1024
CAPTURE_LIMIT = 256 * MIB
SNAPSHOT_LIMIT = 256 * MIB
POLICY_LIMIT = 16 * MIB

#: Read in pieces, so that a small file never costs a buffer the size of the limit.
_CHUNK = MIB


class InputError(NettopError):
    """An input that cannot be read (``No such file or directory: x.json``) or is too large (``x.json is larger
    than 256 MiB; nettop reads at most 256 MiB of a snapshot``). ``reason`` is the message without the path."""

    def __init__(self, path: str, reason: str, too_large: bool = False) -> None:
        self.path = path
        self.reason = reason
        self.too_large = too_large
        super().__init__(f"{_shown(path)} is {reason}" if too_large else f"{reason}: {_shown(path)}")


def read_input(path: str, limit: int, what: str) -> bytes:
    """The bytes of the file at ``path`` (``-``: standard input), at most ``limit`` of them.

    ``what`` names the input in messages ("policy", "capture", "snapshot"). Raises ``InputError`` when the
    file cannot be opened or read (a directory, a missing file), or holds more than ``limit`` bytes.
    """
    try:
        if path == "-":
            if sys.stdin is None:  # started with it closed (`nettop diff - x.json <&-`)
                raise InputError(path, "Standard input is closed")
            data = _read_at_most(sys.stdin.buffer, limit)
        else:
            with open(path, "rb") as handle:
                data = _read_at_most(handle, limit)
    except OSError as error:
        raise InputError(path, error.strerror or str(error) or type(error).__name__) from None
    except ValueError as error:  # a path with a NUL byte in it; standard input closed meanwhile
        raise InputError(path, str(error) or type(error).__name__) from None
    if data is None:
        size = _size_text(limit)
        raise InputError(path, f"larger than {size}; nettop reads at most {size} of a {what}", too_large=True)
    return data


def _read_at_most(handle: BinaryIO, limit: int) -> bytes | None:
    """Up to ``limit`` bytes, or None when there are more."""
    pieces = []
    total = 0
    while total <= limit:
        piece = handle.read(min(_CHUNK, limit + 1 - total))
        if not piece:
            return b"".join(pieces)
        pieces.append(piece)
        total += len(piece)
    return None


def _size_text(limit: int) -> str:
    if limit >= MIB and limit % MIB == 0:
        return f"{limit // MIB} MiB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


def _shown(path: str) -> str:
    return "stdin" if path == "-" else safe(path)
