"""The daily sweep of attachment files no row names: what a crash between writing a file and
committing its row leaves behind. Only old files of the store's own shapes go."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.settings import PlatformSettings
from modules.messaging import attachments as files
from modules.messaging import module
from modules.messaging.models import Attachment
from tests.conftest import BrandClient
from tests.modules.messaging.conftest import PDF, Cast
from tests.modules.messaging.helpers import open_thread, post

TWO_DAYS = 2 * 24 * 3600


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_old_unnamed_files_and_temporaries_go_and_nothing_else(
        db: Session, cast: Cast, browser: Callable[..., BrandClient],
        settings: PlatformSettings) -> None:
    client = browser(cast.patient, "acme-clinic")
    thread = open_thread(client, f"/messages/with/{cast.specialist.id}")
    assert post(client, f"/messages/{thread}", "see attached", [(PDF, "a.pdf")]).status_code == 302
    row = db.scalars(select(Attachment).order_by(Attachment.id.desc())).first()
    assert row is not None
    folder = files.storage_dir(settings.data_dir, "acme-clinic")
    named = folder / row.storage_name
    orphan = folder / files.new_storage_name()  # a crash before its row was committed
    temporary = folder / f".{files.new_storage_name()}.4242.{files.new_storage_name()}.tmp"
    young = folder / files.new_storage_name()  # perhaps a message being sent right now
    stranger = folder / "notes.txt"  # not a shape this store writes
    for path in (orphan, temporary, young, stranger):
        path.write_bytes(b"x")
    for path in (named, orphan, temporary, stranger):
        _age(path, TWO_DAYS)

    assert files.sweep_orphans(db, settings.data_dir) == 2
    assert not orphan.exists() and not temporary.exists()
    assert named.exists() and young.exists() and stranger.exists()
    resp = client.get(f"/messages/attachments/{row.id}")
    assert resp.status_code == 200 and resp.data == PDF
    assert files.sweep_orphans(db, settings.data_dir) == 0  # nothing more to do

    young.unlink()
    stranger.unlink()


def test_the_sweep_is_a_daily_periodic_job() -> None:
    (job,) = [p for p in module.periodic if p.name == "messaging.orphan-files"]
    assert job.every.days == 1 and job.job is files.sweep_orphan_files


def test_no_store_yet_is_nothing_to_sweep(db: Session, tmp_path: Path) -> None:
    assert files.sweep_orphans(db, tmp_path) == 0
