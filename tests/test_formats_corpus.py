"""Every recorded output in the shared corpus is either read, by the parser detection picks, or refused as a
table that is not a socket list, with the reason. Nothing raises anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from nettop.errors import NotASocketTable
from nettop.formats import parse_text
from tests.conftest import CORPUS, read_text

FILES = sorted(
    p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".json", ".md") and not p.name.startswith(".")
)

#: Which format each folder's socket lists are; the other files are route/interface/unix tables.
EXPECTED = {
    "debian12": {"ss", "netstat-linux"},
    "centos-7.7": {"netstat-linux"},
    "ubuntu-18.04": {"ss", "netstat-linux"},
    "osx-10.14.6": {"netstat-bsd"},
    "freebsd12": {"netstat-bsd"},
    "windows-10": {"netstat-windows"},
    "linux-proc": {"proc-net"},
}
NOT_SOCKET_LISTS = {"netstat-i", "netstat-r", "netstat-rne", "netstat-rnee", "netstat-rnl", "net_unix"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)) if CORPUS in p.parents else str(p))
def test_every_file_is_read_or_refused_with_a_reason(corpus: Path, path: Path) -> None:
    text = read_text(path)
    if path.stem in NOT_SOCKET_LISTS:
        with pytest.raises(NotASocketTable, match=r"this is .*, not (a|an) "):
            parse_text(text)
        return
    result = parse_text(text)
    assert result.format in EXPECTED[path.parent.name]
    assert result.records, "a socket list gives records"
    # `ss -a` lists UNIX and netlink sockets too: skipped, and said so; any other issue is the exception.
    unread = [issue for issue in result.issues if not issue.reason.startswith("not an internet socket")]
    assert len(unread) <= len(result.records) // 10 + 1, unread[:3]
