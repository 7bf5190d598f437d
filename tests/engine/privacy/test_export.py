"""Patient data export: built by the job after the request commits, holds exactly the patient's
data (another patient's is absent), its manifest's hashes match the files, downloading needs the
password again, the link works once and expires, and nobody else can fetch it."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.audit_models import AuditEvent
from engine.identity.models import User
from engine.notify import Email
from engine.privacy.models import DataExport
from tests.conftest import PASSWORD

from .conftest import next_weekday_at, unique_name

PAGE = "/account/privacy/"


def _export_ready(client, db: Session, user: User) -> DataExport:
    resp = client.submit("/account/privacy/export", form_page=PAGE)
    assert resp.status_code == 302
    row = db.scalar(select(DataExport).where(DataExport.user_id == user.id))
    assert row is not None and row.status == "ready", row
    return row


def _download(client, export_id: int, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    path = f"/account/privacy/export/{export_id}/download"
    return client.submit(path, {"password": password}, form_page=path)


def test_export_holds_exactly_the_patients_data_with_matching_hashes(
        client, db: Session, create_user: Callable[..., User], signin,
        appointment_with_answers: Callable, settings) -> None:
    mine, other = unique_name(), unique_name()
    patient = create_user(brand="acme-clinic", name=mine)
    stranger = create_user(brand="acme-clinic", name=other)
    appointment_with_answers(patient, next_weekday_at(9), answer="my sleep is poor")
    appointment_with_answers(stranger, next_weekday_at(10), answer="stranger's secret worry")
    signin(client, patient.email)
    row = _export_ready(client, db, patient)
    mail = db.scalars(select(Email).where(Email.recipient == patient.email)
                      .order_by(Email.id.desc())).first()
    assert mail is not None and mail.template == "privacy/mail/export_ready"

    link = _download(client, row.id)
    assert link.status_code == 302
    got = client.get(link.headers["Location"])
    assert got.status_code == 200 and got.mimetype == "application/zip"
    assert "no-store" in got.headers["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(got.data))
    names = set(archive.namelist())
    assert {"profile.json", "consents.json", "appointments.json", "intake_answers.json",
            "access_log.json", "manifest.json"} <= names
    manifest = json.loads(archive.read("manifest.json"))
    assert set(manifest["files"]) == names - {"manifest.json"}
    for name, entry in manifest["files"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == entry["sha256"]
    everything = b"".join(archive.read(n) for n in names).decode()
    assert mine in everything and patient.email in everything
    assert "my sleep is poor" in everything
    assert other not in everything and stranger.email not in everything
    assert "stranger's secret worry" not in everything
    assert json.loads(archive.read("profile.json"))["email"] == patient.email
    # the file lives in the data dir, never under a static folder
    stored = settings.data_dir / "privacy-exports" / row.file_name
    assert stored.is_file() and hashlib.sha256(stored.read_bytes()).hexdigest() == row.sha256
    actions = set(db.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == patient.id)))
    assert {"privacy.export.request", "privacy.export.ready",
            "privacy.export.download"} <= actions


def test_download_needs_the_password_and_the_link_is_single_use_and_short_lived(
        client, db: Session, create_user: Callable[..., User], signin) -> None:
    patient = create_user(brand="acme-clinic")
    signin(client, patient.email)
    row = _export_ready(client, db, patient)
    wrong = _download(client, row.id, "not my password at all")
    assert wrong.status_code == 401
    assert db.get(DataExport, row.id).link_hash is None  # no link was issued
    assert client.get(f"/account/privacy/export/{row.id}/file/guessed-token").status_code == 410

    first = _download(client, row.id).headers["Location"]
    assert client.get(first).status_code == 200
    assert client.get(first).status_code == 410  # used up

    second = _download(client, row.id).headers["Location"]
    with clock.freeze(clock.now() + timedelta(minutes=11)):
        assert client.get(second).status_code == 410  # expired


def test_nobody_else_can_fetch_a_patients_export(
        client_for, db: Session, create_user: Callable[..., User], signin) -> None:
    owner_client, other_client = client_for("acme-clinic"), client_for("acme-clinic")
    owner = create_user(brand="acme-clinic")
    other = create_user(brand="acme-clinic")
    signin(owner_client, owner.email)
    row = _export_ready(owner_client, db, owner)
    token_url = _download(owner_client, row.id).headers["Location"]
    signin(other_client, other.email)
    assert _download(other_client, row.id).status_code == 404
    assert other_client.get(token_url).status_code == 404
    token = re.search(r"/file/(.+)$", token_url).group(1)  # type: ignore[union-attr]
    assert token and owner_client.get(token_url).status_code == 200
    anonymous = client_for("acme-clinic")
    assert anonymous.get(token_url).status_code == 302  # to sign-in
