"""`keys rotate` re-seals attachment files: each under the new primary key and a new name, the
downloads unchanged, the old key retirable, a second run idle, and a crash at any step leaves
every attachment readable (its row names a complete file sealed under the key it records)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import crypto, crypto_keys
from engine.audit_models import AuditEvent
from engine.platform import Platform
from modules.messaging import attachments as files
from modules.messaging.models import Attachment
from tests.conftest import BrandClient
from tests.engine.test_keys_cli import key_file, run  # noqa: F401 (key_file: a fixture)
from tests.modules.messaging.conftest import PDF, PNG, Cast
from tests.modules.messaging.helpers import open_thread, post

SCAN = b"%PDF-1.4\n% a second scan, other bytes\n%%EOF\n"


@dataclass
class Sent:
    """Attachments sent on two brands under the key file's first key."""

    clients: dict[str, BrandClient]  # brand -> a browser of the sender
    content: dict[int, bytes]  # attachment id -> the bytes sent
    brand_of: dict[int, str]  # attachment id -> brand
    old_kid: str


@pytest.fixture
def sent(db: Session, cast: Cast, browser: Callable[..., BrandClient],
         key_file: Path) -> Sent:  # noqa: F811 (the imported fixture)
    old = crypto.keyring().primary
    clients: dict[str, BrandClient] = {}
    for brand, patient, content in (("acme-clinic", cast.patient, [(PDF, "a.pdf"), (PNG, "b.png")]),
                                    ("wellness-corp", cast.other_brand_patient,
                                     [(SCAN, "c.pdf")])):
        client = browser(patient, brand)
        thread = open_thread(client, f"/messages/with/{cast.specialist.id}")
        assert post(client, f"/messages/{thread}", "see attached", content).status_code == 302
        clients[brand] = client
    rows = list(db.scalars(select(Attachment).order_by(Attachment.id)))
    assert [r.key_id for r in rows] == [old] * 3
    return Sent(clients, dict(zip([r.id for r in rows], [PDF, PNG, SCAN], strict=True)),
                {r.id: r.brand_id for r in rows}, old)


def _rows(db: Session) -> dict[int, tuple[str, str]]:
    """Attachment id -> (storage name, key id), as committed."""
    db.expire_all()
    return {r.id: (r.storage_name, r.key_id) for r in db.scalars(select(Attachment))}


def _stored(data_dir: Path) -> set[Path]:
    return {p for p in (data_dir / files.FOLDER).rglob("*") if p.is_file()}


def _path(data_dir: Path, brand: str, name: str) -> Path:
    return files.storage_dir(data_dir, brand) / name


def assert_every_attachment_readable(db: Session, sent: Sent, data_dir: Path) -> None:
    """Each row names an existing file sealed under the key the row records, and the download
    route serves the bytes that were sent."""
    for att_id, (name, kid) in _rows(db).items():
        path = _path(data_dir, sent.brand_of[att_id], name)
        assert crypto.blob_key_id(path.read_bytes()) == kid
        resp = sent.clients[sent.brand_of[att_id]].get(f"/messages/attachments/{att_id}")
        assert resp.status_code == 200 and resp.data == sent.content[att_id]


def test_rotation_reseals_attachments_under_new_names_and_the_old_key_retires(
        db: Session, sent: Sent, settings: Any, key_file: Path) -> None:  # noqa: F811
    data_dir = settings.data_dir
    before = _rows(db)
    counts = crypto_keys.status(db)["files:messaging_attachment"]
    assert counts == {sent.old_kid: 3}
    assert f"files:messaging_attachment: {sent.old_kid}: 3" in run("status").output
    refused = run("retire", sent.old_kid)
    assert refused.exit_code == 1
    kid = re.search(r"generated key (\w+)", run("generate").output).group(1)  # type: ignore
    result = run("rotate", kid, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "3 files re-sealed" in result.output

    after = _rows(db)
    assert {i: k for i, (_, k) in after.items()} == {i: kid for i in before}
    for att_id, (old_name, _) in before.items():
        new_name = after[att_id][0]
        assert re.fullmatch(r"[0-9a-f]{32}", new_name) and new_name != old_name
        assert not _path(data_dir, sent.brand_of[att_id], old_name).exists()
        new = _path(data_dir, sent.brand_of[att_id], new_name)
        assert new.stat().st_mode & 0o777 == 0o600
        assert sent.content[att_id] not in new.read_bytes()
    assert not any(p.name.endswith(".tmp") for p in _stored(data_dir))
    assert f"files:messaging_attachment: {kid}: 3" in run("status").output
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "keys.rotate")
                      .order_by(AuditEvent.id.desc()))
    assert event is not None and json.loads(event.details or "{}")["files"] == 3

    retired = run("retire", sent.old_kid)
    assert retired.exit_code == 0, retired.output
    assert set(json.loads(key_file.read_text())["keys"]) == {kid}
    assert_every_attachment_readable(db, sent, data_dir)  # without the old key

    again = run("rotate")
    assert again.exit_code == 0 and "0 files re-sealed" in again.output, again.output
    assert _rows(db) == after


class Crash(Exception):
    """Stands for the process dying at one step of a re-seal."""


def _crash_after_writing_a_new_file(monkeypatch: pytest.MonkeyPatch) -> None:
    real = files._write_durably

    def write_then_crash(*args: Any) -> Path:
        real(*args)
        raise Crash

    monkeypatch.setattr(files, "_write_durably", write_then_crash)


def _crash_at_the_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    # a commit that never happens and no clean-up after it: the new files stay behind
    real = Session.commit

    def commit(self: Session) -> None:
        if self.info.get(files._DOOMED):  # a batch of re-sealed files
            raise Crash
        real(self)

    monkeypatch.setattr(Session, "commit", commit)


def _crash_after_the_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    # committed, but the process dies before deleting the old files
    monkeypatch.setattr(files, "remove_after_commit", lambda *args: None)


@pytest.mark.parametrize("crash", [_crash_after_writing_a_new_file, _crash_at_the_commit,
                                   _crash_after_the_commit])
def test_a_crash_at_any_step_leaves_every_attachment_readable(
        crash: Callable[[pytest.MonkeyPatch], None], db: Session, sent: Sent, settings: Any,
        platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = settings.data_dir
    before, files_before = _rows(db), _stored(data_dir)
    kid = crypto_keys.generate_key()
    crypto_keys.make_primary(kid)
    with monkeypatch.context() as patch:
        crash(patch)
        try:
            crypto_keys.rotate(platform.runtime.sessions, batch_size=2)
        except Crash:
            pass
    after = _rows(db)
    if crash is _crash_after_the_commit:
        assert {k for _, k in after.values()} == {kid}
        assert files_before <= _stored(data_dir)  # the old files outlive their rows
    else:
        assert after == before  # nothing switched: each row keeps its old, intact file
        assert files_before <= _stored(data_dir)
        if crash is _crash_after_writing_a_new_file:
            assert _stored(data_dir) == files_before  # the unused new file was removed
    assert_every_attachment_readable(db, sent, data_dir)

    # the next run finishes the rotation; the old key can then go
    crypto_keys.rotate(platform.runtime.sessions, batch_size=2)
    assert {k for _, k in _rows(db).values()} == {kid}
    assert run("retire", sent.old_kid).exit_code == 0
    assert_every_attachment_readable(db, sent, data_dir)


@pytest.mark.parametrize(("damage", "expected"), [
    ("missing", "is missing; restore it from a backup"),
    ("altered", "failed authentication"),
])
def test_a_missing_or_altered_file_stops_the_rotation_naming_its_attachment(
        damage: str, expected: str, db: Session, sent: Sent, settings: Any) -> None:
    first, second = sorted(sent.content)[:2]
    rows = _rows(db)
    path = _path(settings.data_dir, sent.brand_of[first], rows[first][0])
    if damage == "missing":
        path.unlink()
    else:  # another attachment's file in its place
        path.write_bytes(_path(settings.data_dir, sent.brand_of[second],
                               rows[second][0]).read_bytes())
    crypto_keys.make_primary(crypto_keys.generate_key())
    result = run("rotate")
    assert result.exit_code == 1
    assert f"messaging attachment {first} (brand acme-clinic): " in result.output
    assert expected in result.output
    assert _rows(db) == rows  # the batch rolled back: nothing switched


def test_a_row_loaded_before_the_rotation_still_reads_its_moved_file(
        db: Session, sent: Sent, settings: Any, platform: Platform) -> None:
    # a download that read the row just before a rotation switched it and deleted the old file
    stale = list(db.scalars(select(Attachment).order_by(Attachment.id)))
    crypto_keys.make_primary(crypto_keys.generate_key())
    crypto_keys.rotate(platform.runtime.sessions)
    first = stale[0]
    assert not _path(settings.data_dir, first.brand_id, first.storage_name).exists()
    assert [files.read_attachment(db, settings.data_dir, row) for row in stale] == \
        [sent.content[row.id] for row in stale]
