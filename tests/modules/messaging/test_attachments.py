"""Attachments: accepted by content only, refused with a clear error and nothing saved when they
are disguised, too large or named like a path; stored encrypted under random names outside any
web root; served as downloads that a browser will not sniff or render."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modules.messaging import attachments as files
from modules.messaging.models import Attachment, Message
from tests.conftest import BrandClient
from tests.modules.messaging.conftest import ELF, PDF, PNG, Cast
from tests.modules.messaging.helpers import open_thread, post


@pytest.fixture
def patient_thread(cast: Cast, browser: Callable[..., BrandClient]) -> tuple[BrandClient, str]:
    patient = browser(cast.patient)
    thread_id = open_thread(patient, f"/messages/with/{cast.specialist.id}")
    return patient, f"/messages/{thread_id}"


def _stored(data_dir: Path) -> list[Path]:
    folder = data_dir / files.FOLDER
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _counts(db: Session) -> tuple[int, int]:
    return (db.scalar(select(func.count(Message.id))) or 0,
            db.scalar(select(func.count(Attachment.id))) or 0)


@pytest.mark.parametrize(("content", "name", "expected"), [
    (ELF, "lab-results.pdf", "is not a file type you can send"),
    (b"MZ\x90\x00\x03" + b"\x00" * 100, "scan.png", "is not a file type you can send"),
    (b"<html><script>alert(1)</script></html>", "notes.txt", "is not a file type"),
    (PDF, "../../etc/passwd.pdf", "is not allowed: use a plain name"),
    (PDF, "..\\..\\boot.ini.pdf", "is not allowed: use a plain name"),
    (PDF, "/var/www/report.pdf", "is not allowed: use a plain name"),
])
def test_refused_files_save_nothing(content: bytes, name: str, expected: str, db: Session,
                                    settings: object, patient_thread: tuple[BrandClient, str],
                                    ) -> None:
    client, path = patient_thread
    data_dir = settings.data_dir  # type: ignore[attr-defined]
    before_files, before_rows = _stored(data_dir), _counts(db)
    resp = post(client, path, "see attached", [(content, name)])
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert expected in page.replace("&#39;", "'")
    assert "see attached" in page  # the text typed is kept for another try
    assert _counts(db) == before_rows
    assert _stored(data_dir) == before_files


def test_an_oversize_file_is_refused_and_nothing_saved(
        db: Session, settings: object, configs: dict[str, object],
        patient_thread: tuple[BrandClient, str]) -> None:
    client, path = patient_thread
    limit = configs["acme-clinic"].module_settings("messaging").attachment_max_bytes  # type: ignore[attr-defined]
    before, before_files = _counts(db), _stored(settings.data_dir)  # type: ignore[attr-defined]
    resp = post(client, path, "big scan", [(PDF + b"0" * (limit - len(PDF) + 1), "scan.pdf")])
    assert resp.status_code == 400
    assert "is too large: attachments may be at most 10 MB" in resp.get_data(as_text=True)
    assert _counts(db) == before
    assert _stored(settings.data_dir) == before_files  # type: ignore[attr-defined]
    # exactly at the limit is fine
    resp = post(client, path, "", [(PDF + b"0" * (limit - len(PDF)), "scan.pdf")])
    assert resp.status_code == 302


def test_one_bad_file_refuses_the_whole_message(db: Session, settings: object,
                                                patient_thread: tuple[BrandClient, str]
                                                ) -> None:
    client, path = patient_thread
    before_files = _stored(settings.data_dir)  # type: ignore[attr-defined]
    resp = post(client, path, "two files", [(PDF, "good.pdf"), (ELF, "bad.pdf")])
    assert resp.status_code == 400
    assert _counts(db) == (0, 0)
    assert _stored(settings.data_dir) == before_files  # type: ignore[attr-defined]


def test_accepted_files_are_encrypted_under_random_names_and_served_safely(
        db: Session, settings: object, patient_thread: tuple[BrandClient, str]) -> None:
    client, path = patient_thread
    resp = post(client, path, "", [(PNG, "my scan (1).pdf"), (PDF, "report:v2*final?.pdf")])
    assert resp.status_code == 302
    rows = list(db.scalars(select(Attachment).order_by(Attachment.id)))
    assert [(r.kind, r.filename) for r in rows] == [("png", "my scan (1).png"),
                                                    ("pdf", "report_v2_final.pdf")]
    folder = files.storage_dir(settings.data_dir, "acme-clinic")  # type: ignore[attr-defined]
    for r in rows:
        p = folder / r.storage_name
        assert re.fullmatch(r"[0-9a-f]{32}", p.name)
        assert PNG not in p.read_bytes() and b"%PDF" not in p.read_bytes()
        assert p.stat().st_mode & 0o077 == 0
        assert r.key_id == p.read_bytes()[4:12].decode()
    page = client.get(path).get_data(as_text=True)
    link = re.search(rf'href="(/messages/attachments/{rows[0].id})"', page)
    assert link
    resp = client.get(link.group(1))
    assert resp.status_code == 200 and resp.data == PNG
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert "my scan (1).png" in resp.headers["Content-Disposition"]
    assert "no-store" in resp.headers["Cache-Control"]
    second = client.get(f"/messages/attachments/{rows[1].id}")
    assert second.data == PDF
    assert "report_v2_final.pdf" in second.headers["Content-Disposition"]


def test_a_tampered_or_moved_file_does_not_open(db: Session, settings: object,
                                                patient_thread: tuple[BrandClient, str]) -> None:
    from engine.crypto import DecryptError

    client, path = patient_thread
    post(client, path, "", [(PDF, "a.pdf")])
    post(client, path, "", [(PNG, "b.png")])
    first, second = db.scalars(select(Attachment).order_by(Attachment.id)).all()
    folder = files.storage_dir(settings.data_dir, "acme-clinic")  # type: ignore[attr-defined]
    (folder / first.storage_name).write_bytes((folder / second.storage_name).read_bytes())
    with pytest.raises(DecryptError):
        files.read(settings.data_dir, "acme-clinic", first.storage_name, first.seal)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("data", "kind"), [
    (PDF, "pdf"), (PNG, "png"), (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20, "jpeg"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 20, "webp"), (b"GIF89a" + b"\x00" * 20, "gif"),
    ("Hola, qué tal\nadiós\n".encode(), "txt"), (ELF, None), (b"\x00\x01binary", None),
    (b"PK\x03\x04" + b"\x00" * 40, None),
])
def test_kinds_are_recognized_by_content(data: bytes, kind: str | None) -> None:
    assert files.detect_kind(data) == kind


def test_types_outside_the_brand_list_are_refused(db: Session,
                                                  patient_thread: tuple[BrandClient, str]) -> None:
    client, path = patient_thread
    resp = post(client, path, "", [(b"plain words\n", "notes.txt")])  # txt is not allowed
    assert resp.status_code == 400
    assert "Allowed: PDF, PNG, JPG, WEBP" in resp.get_data(as_text=True)
