"""Patient data export (GDPR arts. 15 and 20).

The patient asks on their privacy page; a job (:func:`build_export_job`, rq or in-process)
builds a ZIP with one JSON file per section (profile, consents, notifications, each enabled
module's sections: appointments, intake answers, messages, payments ...), the access log of
their record from the audit log, attachments as files, and ``manifest.json`` with the SHA-256
of every file. The ZIP lives in the data dir (never under a static folder). Downloading needs a
link issued after the patient re-enters their password; the link works for
:data:`LINK_TTL` and only for that patient's session.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, clock, jobs
from engine.audit_models import AuditEvent
from engine.config import BrandConfig
from engine.identity import services as identity
from engine.identity.models import User
from engine.privacy.hooks import brand_modules
from engine.privacy.identity_data import export_dir, export_identity
from engine.privacy.models import DataExport
from engine.web import UserError

LINK_TTL = timedelta(minutes=10)
FILE_TTL = timedelta(days=7)
MAX_PENDING = 1
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def request_export(session: Session, user: User, brand: BrandConfig) -> DataExport:
    """Queue an export of the user's data on ``brand`` (built after the caller commits)."""
    if user.brand_id != brand.slug:
        raise UserError(str(_l("This account does not belong to this site.")), status=404,
                        code="not_found")
    pending = session.scalar(select(DataExport).where(
        DataExport.user_id == user.id, DataExport.status == "pending")
        .execution_options(all_brands=True))
    if pending is not None:
        raise UserError(str(_l("Your export is already being prepared. We will email you when "
                               "it is ready.")), code="export_pending")
    row = DataExport(brand_id=brand.slug, user_id=user.id, status="pending",
                     requested_at=clock.now())
    session.add(row)
    session.flush()
    audit.record(session, action="privacy.export.request", brand_id=brand.slug, actor=user,
                 target_type="export", target_id=row.id, patient_id=user.id)
    jobs.enqueue_after_commit(session, build_export_job, row.id)
    return row


def _access_log(session: Session, user: User, brand: BrandConfig) -> list[dict[str, Any]]:
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.brand_id == brand.slug, AuditEvent.patient_id == user.id)
        .order_by(AuditEvent.occurred_at, AuditEvent.id))
    return [{"at": e.occurred_at.isoformat(), "action": e.action, "outcome": e.outcome,
             "by": "you" if e.actor_id == user.id else (e.actor_role or "system"),
             "target": e.target_type} for e in events]


def collect(session: Session, user: User, brand: BrandConfig) -> dict[str, bytes]:
    """Every file of the user's export, by path in the ZIP (manifest included)."""
    files: dict[str, bytes] = {}

    def add_json(name: str, value: Any) -> None:
        files[f"{name}.json"] = json.dumps(value, ensure_ascii=False, indent=2,
                                           default=str).encode()

    for section, value in export_identity(session, user, brand).items():
        add_json(section, value)
    for module in brand_modules(brand):
        if module.export_data is None:
            continue
        for section, value in module.export_data(session, user).items():
            if section == "_files":
                for name, data in value:
                    files[f"attachments/{module.name}/{_SAFE_NAME.sub('_', name)}"] = data
            else:
                name = section if f"{section}.json" not in files else f"{module.name}-{section}"
                add_json(name, value)
    add_json("access_log", _access_log(session, user, brand))
    manifest = {"brand": brand.slug, "generated_at": clock.now().isoformat(),
                "files": {name: {"sha256": hashlib.sha256(data).hexdigest(),
                                 "bytes": len(data)} for name, data in sorted(files.items())}}
    files["manifest.json"] = json.dumps(manifest, indent=2).encode()
    return files


def build(session: Session, export_id: int, data_dir: Path, brand: BrandConfig) -> DataExport:
    """Write the ZIP of a pending export. Idempotent: a built export is left as it is."""
    row = session.get(DataExport, export_id)
    if row is None or row.status != "pending":
        return row  # type: ignore[return-value]
    user = session.get(User, row.user_id)
    assert user is not None  # the export row cascades with its user
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in collect(session, user, brand).items():
            zf.writestr(name, data)
    payload = buffer.getvalue()
    folder = export_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{secrets.token_hex(16)}.zip"
    path = folder / name
    path.write_bytes(payload)
    path.chmod(0o600)
    now = clock.now()
    row.status, row.file_name, row.size_bytes = "ready", name, len(payload)
    row.sha256 = hashlib.sha256(payload).hexdigest()
    row.ready_at, row.expires_at = now, now + FILE_TTL
    audit.record(session, action="privacy.export.ready", brand_id=brand.slug, actor=None,
                 target_type="export", target_id=row.id, patient_id=user.id,
                 details={"files": len(zipfile.ZipFile(io.BytesIO(payload)).namelist())})
    return row


def build_export_job(export_id: int) -> None:
    """Job: build one export and email its owner that it is ready."""
    from engine.brand_context import brand_apps, rendering
    from engine.db import brand_session
    from engine.privacy.notices import notify
    from engine.runtime import current

    rt = current()
    with brand_session(rt.sessions, None) as session:
        row = session.get(DataExport, export_id)
        if row is None or row.status != "pending":
            return
        app = brand_apps(rt).get(row.brand_id)
        if app is None:
            return
        try:
            build(session, export_id, rt.settings.data_dir, app.config)
            user = session.get(User, row.user_id)
            if user is not None:
                with rendering(app):
                    notify(session, app.config, user, "export_ready")
            session.commit()
        except Exception:
            session.rollback()
            failed = session.get(DataExport, export_id)
            if failed is not None and failed.status == "pending":
                failed.status, failed.error = "failed", "the export could not be built"
                session.commit()
            raise


def issue_link(session: Session, user: User, brand: BrandConfig, export_id: int,
               password: str) -> str:
    """After re-authentication, a token for one download of the export within LINK_TTL."""
    row = _own_ready(session, user, brand, export_id)
    if not identity.verify_password(user, password):
        audit.record(session, action="privacy.export.reauth", brand_id=brand.slug, actor=user,
                     outcome="failure", target_type="export", target_id=row.id,
                     patient_id=user.id)
        raise UserError(str(_l("That password is not right.")), code="bad_password",
                        field="password", status=401, keep_writes=True)
    token = secrets.token_urlsafe(32)
    row.link_hash = hashlib.sha256(token.encode()).hexdigest()
    row.link_expires_at = clock.now() + LINK_TTL
    return token


def _own_ready(session: Session, user: User, brand: BrandConfig, export_id: int) -> DataExport:
    row = session.get(DataExport, export_id)
    if row is None or row.user_id != user.id or row.brand_id != brand.slug:
        raise UserError(str(_l("No such export.")), code="not_found", status=404)
    if row.status != "ready" or (row.expires_at is not None and row.expires_at <= clock.now()):
        raise UserError(str(_l("This export is no longer available. Ask for a new one.")),
                        code="expired", status=410)
    return row


def open_download(session: Session, user: User, brand: BrandConfig, export_id: int,
                  token: str, data_dir: Path) -> tuple[DataExport, Path]:
    """The export's file for a valid, unexpired link of its owner; the link is used up."""
    row = _own_ready(session, user, brand, export_id)
    digest = hashlib.sha256(token.encode()).hexdigest()
    if (row.link_hash is None or not secrets.compare_digest(row.link_hash, digest)
            or row.link_expires_at is None or row.link_expires_at <= clock.now()):
        raise UserError(str(_l("This download link has expired. Enter your password again "
                               "to get a new one.")), code="link_expired", status=410)
    row.link_hash, row.link_expires_at = None, None
    row.downloaded_at = clock.now()
    audit.record(session, action="privacy.export.download", brand_id=brand.slug, actor=user,
                 target_type="export", target_id=row.id, patient_id=user.id)
    assert row.file_name is not None
    return row, export_dir(data_dir) / row.file_name


def exports_of(session: Session, user: User) -> list[DataExport]:
    return list(session.scalars(select(DataExport).where(DataExport.user_id == user.id)
                                .order_by(DataExport.id.desc()).limit(10)
                                .execution_options(all_brands=True)))


def expire_old(session: Session, data_dir: Path) -> int:
    """Remove export files past their expiry (retention job). Idempotent."""
    count = 0
    for row in session.scalars(select(DataExport).where(
            DataExport.status == "ready", DataExport.expires_at <= clock.now())
            .execution_options(all_brands=True)):
        if row.file_name:
            (export_dir(data_dir) / row.file_name).unlink(missing_ok=True)
        row.status, row.file_name, row.link_hash = "expired", None, None
        count += 1
    return count
