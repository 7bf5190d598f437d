"""Data rights and retention hooks of messaging, the demo conversation, and the audit of staff
reading threads and anyone downloading attachments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.audit_models import AuditEvent
from engine.config import BrandConfig
from engine.db import brand_session
from engine.runtime import current
from modules.messaging import attachments as files
from modules.messaging import module
from modules.messaging.models import Attachment, Message, Thread
from tests.conftest import BrandClient
from tests.modules.messaging.conftest import PDF, PNG, Cast
from tests.modules.messaging.helpers import open_thread, post


def _conversation(cast: Cast, browser: Callable[..., BrandClient]) -> int:
    patient = browser(cast.patient)
    specialist = browser(cast.specialist)
    thread_id = open_thread(patient, f"/messages/with/{cast.specialist.id}")
    post(patient, f"/messages/{thread_id}", "my question", [(PDF, "labs.pdf")])
    post(specialist, f"/specialist/messages/{thread_id}", "my answer", [(PNG, "chart.png")])
    return thread_id


def test_export_holds_the_users_messages_and_own_files(
        db: Session, cast: Cast, browser: Callable[..., BrandClient]) -> None:
    _conversation(cast, browser)
    assert module.export_data is not None
    with brand_session(current().sessions, "acme-clinic") as session:
        exported = module.export_data(session, session.get(type(cast.patient),
                                                           cast.patient.id))
    [thread] = exported["threads"]
    assert [(m["sender"], m["body"], m["attachments"]) for m in thread["messages"]] == [
        ("me", "my question", ["labs.pdf"]), ("Dr Vega", "my answer", ["chart.png"])]
    # only the files they sent
    assert [(name.endswith("labs.pdf"), data) for name, data in exported["_files"]] == [
        (True, PDF)]
    # the third patient has nothing here
    with brand_session(current().sessions, "acme-clinic") as session:
        other = module.export_data(session, session.get(type(cast.patient),
                                                        cast.third_patient.id))
    assert other["threads"] == [] and other["_files"] == []


def test_erasing_a_patient_removes_their_threads_and_files(
        db: Session, cast: Cast, settings: object, browser: Callable[..., BrandClient]) -> None:
    _conversation(cast, browser)
    rows = list(db.scalars(select(Attachment)))
    folder = files.storage_dir(settings.data_dir, "acme-clinic")  # type: ignore[attr-defined]
    assert all((folder / r.storage_name).exists() for r in rows)
    assert module.erase_data is not None
    with brand_session(current().sessions, "acme-clinic") as session:
        counts = module.erase_data(session, session.get(type(cast.patient), cast.patient.id),
                                   "messages")
        session.commit()
    assert counts == {"attachments": 2, "messages": 2, "threads": 1}
    assert db.scalar(select(func.count(Message.id))) == 0
    assert not any((folder / r.storage_name).exists() for r in rows)


def test_erasing_a_specialist_keeps_the_patients_conversation(
        db: Session, cast: Cast, browser: Callable[..., BrandClient]) -> None:
    thread_id = _conversation(cast, browser)
    assert module.erase_data is not None
    with brand_session(current().sessions, "acme-clinic") as session:
        counts = module.erase_data(session, session.get(type(cast.patient), cast.specialist.id),
                                   "all")
        session.commit()
    assert counts["pseudonymized:messages"] == 1
    page = browser(cast.patient).get(f"/messages/{thread_id}").get_data(as_text=True)
    assert "my answer" in page and "Former user" in page


def test_retention_purges_old_messages_and_attachments_except_held(
        db: Session, cast: Cast, configs: dict[str, BrandConfig],
        browser: Callable[..., BrandClient]) -> None:
    _conversation(cast, browser)
    purge_messages = module.retention["messages"]
    purge_attachments = module.retention["attachments"]
    cutoff = clock.now() + timedelta(seconds=1)
    with brand_session(current().sessions, None) as session:
        assert purge_attachments(session, "acme-clinic", cutoff, dry_run=True,
                                 held_user_ids=()) == 2
        assert purge_messages(session, "acme-clinic", cutoff, dry_run=False,
                              held_user_ids={cast.patient.id}) == 0
        assert purge_attachments(session, "acme-clinic", cutoff, dry_run=False,
                                 held_user_ids=()) == 2
        assert purge_messages(session, "acme-clinic", cutoff - timedelta(days=1),
                              dry_run=False, held_user_ids=()) == 0
        assert purge_messages(session, "acme-clinic", cutoff, dry_run=False,
                              held_user_ids=()) == 2
        assert purge_messages(session, "acme-clinic", cutoff, dry_run=False,
                              held_user_ids=()) == 0  # idempotent
        session.commit()
    assert db.scalar(select(func.count(Attachment.id))) == 0
    assert db.scalar(select(func.count(Thread.id))) == 1


def test_demo_conversation_is_created_once(db: Session, cast: Cast,
                                           configs: dict[str, BrandConfig]) -> None:
    assert module.demo is not None
    people = {"patients": [cast.patient], "specialists": [cast.specialist]}
    with brand_session(current().sessions, "acme-clinic") as session:
        module.demo(session, configs["acme-clinic"], people)
        module.demo(session, configs["acme-clinic"], people)
        session.commit()
    assert db.scalar(select(func.count(Thread.id))) == 1
    bodies = [m.body for m in db.scalars(select(Message).order_by(Message.id))]
    assert len(bodies) == 2 and "vídeo" in bodies[0]


def test_staff_thread_views_and_downloads_are_audited(
        db: Session, cast: Cast, browser: Callable[..., BrandClient]) -> None:
    thread_id = _conversation(cast, browser)
    attachment = db.scalar(select(Attachment).where(Attachment.kind == "pdf"))
    assert attachment is not None
    before = db.scalar(select(func.count(AuditEvent.id))) or 0
    specialist = browser(cast.specialist)
    specialist.get(f"/specialist/messages/{thread_id}")
    specialist.get(f"/specialist/messages/attachments/{attachment.id}")
    events = list(db.scalars(select(AuditEvent).order_by(AuditEvent.id).offset(before)))
    actions = [(e.action, e.actor_id, e.target_id) for e in events
               if e.action.startswith("messaging.")]
    assert ("messaging.thread.view", cast.specialist.id, str(thread_id)) in actions
    assert ("messaging.attachment.download", cast.specialist.id, str(attachment.id)) in actions
    assert all(e.patient_id == cast.patient.id for e in events
               if e.action.startswith("messaging."))
