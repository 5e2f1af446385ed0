"""Exports: whole files, the umask's mode, an existing file's mode and links kept, no silent overwrite."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from nettop.formats.nettop_json import records_from_json
from nettop.savefile import UnknownExportFormat, write_export
from tests.scripted import conn

RECORDS = [conn(22, name="sshd", pid=1), conn(443, 50000, name="\x1b]0;pwn\x07", pid=2)]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_new_file_gets_the_umask_mode_and_exact_json(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        written = write_export(str(tmp_path / "out.json"), RECORDS)
    finally:
        os.umask(old)
    assert written == str(tmp_path / "out.json")
    assert mode(tmp_path / "out.json") == 0o640
    assert records_from_json((tmp_path / "out.json").read_text()) == [r._replace(raw="") for r in RECORDS]
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left


def test_an_existing_file_is_replaced_only_when_asked_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    target.chmod(0o604)
    with pytest.raises(FileExistsError):
        write_export(str(target), RECORDS)
    assert target.read_text() == "old\n"
    write_export(str(target), RECORDS, overwrite=True)
    assert mode(target) == 0o604
    lines = target.read_text().splitlines()
    assert lines[0].startswith("proto,family,local_ip") and len(lines) == 3
    assert "\\x1b]0;pwn\\x07" in lines[2] and "\x1b" not in target.read_text()  # CSV is made safe to print


def test_a_hard_linked_file_is_rewritten_in_place(tmp_path: Path) -> None:
    target, other = tmp_path / "out.json", tmp_path / "other-name.json"
    target.write_text("[]\n")
    os.link(target, other)
    write_export(str(target), RECORDS, overwrite=True)
    assert target.stat().st_ino == other.stat().st_ino
    assert len(json.loads(other.read_text())) == 2


def test_a_symbolic_link_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "out.json"
    link.symlink_to(victim)
    write_export(str(link), RECORDS, overwrite=True)
    assert victim.read_text() == "precious\n"
    assert not link.is_symlink() and len(json.loads(link.read_text())) == 2


@pytest.mark.parametrize("name", ["out.txt", "out", "out.json.bak"])
def test_a_suffix_that_names_no_format_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnknownExportFormat, match=r"\.json or \.csv"):
        write_export(str(tmp_path / name), RECORDS)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_export(str(tmp_path / "missing" / "out.json"), RECORDS)
    assert list(tmp_path.iterdir()) == []
