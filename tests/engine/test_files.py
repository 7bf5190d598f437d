"""Private files (key files, encrypted attachments) are replaced whole, 0600 from the start."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine import files


def test_a_private_file_is_written_whole_and_readable_only_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    files.write_private(path, "first")
    files.write_private(path, b"second")
    assert path.read_bytes() == b"second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]  # no temporary left


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.key"
    files.write_private(path, "old")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        files.write_private(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]
