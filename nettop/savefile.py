"""Write an export file the way a careful tool does: whole or not at all, and without surprises.

- Atomic: the data goes to a temporary file beside the target, is flushed to disk (fsync), then renamed into
  place and the directory synced; a reader never sees half a file, and a failed write leaves none behind.
- No silent overwrite: an existing file is replaced only when the caller says so (the viewer asks first).
- The replaced file keeps its mode and, where we may, its owner; a new file gets the umask's mode (0666 less
  the umask), as any program's output would, not the temporary file's 0600.
- A file with several hard links is rewritten in place, so that every link sees the new data (a rename would
  give the path a new inode and leave the other links with the old one). A symbolic link is replaced, never
  followed: nettop often runs as root, and following a link another user planted writes where they chose.
- The format comes from the suffix (``.json``, ``.csv``: the writers' registry, ``nettop.writers``); anything
  else is refused by name rather than written in a format the name does not say.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Sequence

from nettop import writers
from nettop.errors import NettopError
from nettop.model import Connection


class UnknownExportFormat(NettopError):
    """The file name's suffix names no export format."""


def export_format(path: str) -> Callable[[Sequence[Connection]], bytes]:
    """The writer for ``path``'s suffix; raises UnknownExportFormat naming the ones there are."""
    suffix = os.path.splitext(path)[1].lower()
    write = writers.for_suffix(suffix) if suffix else None
    if write is None:
        known = " or ".join(writers.export_suffixes())
        said = f"{suffix!r} is not an export format" if suffix else "the file name has no suffix"
        raise UnknownExportFormat(f"{said}: name the file {known}")

    def encoded(records: Sequence[Connection]) -> bytes:
        data = write(records)
        return data.encode() if isinstance(data, str) else data

    return encoded


def write_export(path: str, records: Sequence[Connection], overwrite: bool = False) -> str:
    """Write ``records`` to ``path`` in the format its suffix names; returns the absolute path written.

    Raises FileExistsError when the file exists and ``overwrite`` is false, UnknownExportFormat for a suffix
    that names no format, OSError when the write fails (nothing is left behind then)."""
    data = export_format(path)(records)
    target = os.path.abspath(path)
    try:
        existing: os.stat_result | None = os.lstat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and not overwrite:
        raise FileExistsError(17, "File exists", target)
    if existing is not None and stat.S_ISREG(existing.st_mode) and existing.st_nlink > 1:
        _rewrite_in_place(target, data)
        return target
    _replace(target, data, existing)
    return target


def _rewrite_in_place(target: str, data: bytes) -> None:
    # O_NOFOLLOW: the path was a regular file a moment ago; if it is now a link, refuse rather than follow it.
    fd = os.open(target, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _replace(target: str, data: bytes, existing: os.stat_result | None) -> None:
    directory = os.path.dirname(target)
    handle, temporary = _new_temporary(directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            if existing is not None and stat.S_ISREG(existing.st_mode):
                os.fchmod(out.fileno(), stat.S_IMODE(existing.st_mode))
                with contextlib.suppress(PermissionError):  # only root may give a file away
                    os.fchown(out.fileno(), existing.st_uid, existing.st_gid)
            os.fsync(out.fileno())
        if existing is None:
            _link_new(temporary, target)
        else:
            os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(directory)


def _link_new(temporary: str, target: str) -> None:
    """Put the new file in place only if no file appeared there meanwhile: link() never overwrites."""
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if os.path.lexists(target):
            raise FileExistsError(17, "File exists", target) from None
        os.replace(temporary, target)
        return
    os.unlink(temporary)


def _new_temporary(directory: str) -> tuple[int, str]:
    """A new file beside the target, created with mode 0666 so that the kernel applies the umask (mkstemp's
    files are 0600 whatever the umask says)."""
    for _ in range(100):
        path = os.path.join(directory, f".nettop-export-{secrets.token_hex(6)}")
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(17, "no free temporary name", directory)


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable; some systems cannot open a directory for this, which is no error."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
