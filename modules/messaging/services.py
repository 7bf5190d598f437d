"""Messaging services: open a thread, list threads with unread counts, post a message with
attachments, read state, downloads, and the upcoming appointment of a thread.

Services take ``(session, actor, brand, ...)``; a thread the actor does not take part in is
"not found" (see :mod:`modules.messaging.access`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.crypto import new_seal
from engine.identity.models import User
from engine.web import UserError
from modules.messaging import attachments as files
from modules.messaging.access import (
    had_appointment,
    not_found,
    participant_clause,
    patient_of_brand,
    settings_of,
    visible_thread,
)
from modules.messaging.models import Attachment, Message, ReadState, Thread

MAX_BODY = 5000


@dataclass(frozen=True)
class ThreadSummary:
    thread: Thread
    counterpart: str  # who the actor writes to: a person's name or "care team"
    patient: User
    unread: int


# --- opening ----------------------------------------------------------------------------------


def _find_or_create(session: Session, brand: BrandConfig, kind: str, patient_id: int,
                    specialist_id: int | None) -> Thread:
    counterpart = f"specialist:{specialist_id}" if kind == "specialist" else "care_team"
    query = select(Thread).where(Thread.brand_id == brand.slug,
                                 Thread.patient_id == patient_id,
                                 Thread.counterpart == counterpart)
    found = session.scalar(query)
    if found is not None:
        return found
    thread = Thread(brand_id=brand.slug, kind=kind, patient_id=patient_id,
                    specialist_id=specialist_id, counterpart=counterpart)
    try:
        with session.begin_nested():  # two first messages at once: one thread
            session.add(thread)
    except IntegrityError:
        found = session.scalar(query)
        if found is None:
            raise
        return found
    return thread


def open_specialist_thread(session: Session, actor: User, brand: BrandConfig, *,
                           other_id: int) -> Thread:
    """The thread between ``actor`` and ``other_id`` (a patient and a specialist who have or had
    an appointment together on ``brand``), created on first use; not found otherwise."""
    settings_of(brand)
    if actor.role == "patient" and actor.brand_id == brand.slug:
        patient_id, specialist_id = actor.id, other_id
    elif actor.role == "specialist":
        patient_id, specialist_id = other_id, actor.id
    else:
        raise not_found()
    if not had_appointment(session, brand, patient_id, specialist_id):
        raise not_found()
    return _find_or_create(session, brand, "specialist", patient_id, specialist_id)


def open_care_team_thread(session: Session, actor: User, brand: BrandConfig, *,
                          patient_id: int | None = None) -> Thread:
    """The thread between a patient and the brand's care team (the patient's own, or, for a
    coordinator, the one with ``patient_id``), created on first use."""
    if not settings_of(brand).care_team:
        raise not_found()
    if actor.role == "patient" and actor.brand_id == brand.slug:
        patient = actor
    elif actor.role == "coordinator" and actor.brand_id == brand.slug and patient_id:
        patient = patient_of_brand(session, brand, patient_id)
    else:
        raise not_found()
    return _find_or_create(session, brand, "care_team", patient.id, None)


# --- reading ----------------------------------------------------------------------------------


def _unread_query(actor: User, brand: BrandConfig) -> Any:
    last_read = func.coalesce(ReadState.last_read_message_id, 0)
    return (select(Thread.id, func.count(Message.id))
            .join(Message, Message.thread_id == Thread.id)
            .outerjoin(ReadState, (ReadState.thread_id == Thread.id)
                       & (ReadState.user_id == actor.id))
            .where(participant_clause(actor, brand), Message.id > last_read,
                   or_(Message.sender_id.is_(None), Message.sender_id != actor.id))
            .group_by(Thread.id))


def unread_by_thread(session: Session, actor: User, brand: BrandConfig) -> dict[int, int]:
    """Thread id -> messages ``actor`` has not read yet (their own never count)."""
    if brand.module_settings("messaging") is None:
        return {}
    return {tid: n for tid, n in session.execute(_unread_query(actor, brand)).all()}


def unread_total(session: Session, actor: User, brand: BrandConfig) -> int:
    """How many messages ``actor`` has not read on ``brand`` (the navigation's badge)."""
    return sum(unread_by_thread(session, actor, brand).values())


def threads_of(session: Session, actor: User, brand: BrandConfig) -> list[ThreadSummary]:
    """The actor's threads on ``brand``, the most recent conversation first."""
    settings_of(brand)
    threads = list(session.scalars(select(Thread).where(participant_clause(actor, brand))
                                   .order_by(Thread.last_message_at.desc().nulls_last(),
                                             Thread.id.desc())))
    unread = unread_by_thread(session, actor, brand)
    ids = {t.patient_id for t in threads} | {t.specialist_id for t in threads if t.specialist_id}
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}
    out = []
    for t in threads:
        patient = people[t.patient_id]
        if actor.role == "patient":
            name = (people[t.specialist_id].name if t.specialist_id
                    else _("Care team of %(brand)s", brand=brand.name))
        else:
            name = patient.name
        out.append(ThreadSummary(t, name, patient, unread.get(t.id, 0)))
    return out


def messages_of(session: Session, actor: User, brand: BrandConfig, thread: Thread, *,
                after_id: int = 0) -> list[Message]:
    """Messages of a thread the actor sees (``visible_thread``), oldest first; only those
    after ``after_id`` when given (the live update)."""
    return list(session.scalars(select(Message).where(
        Message.brand_id == brand.slug, Message.thread_id == thread.id,
        Message.id > after_id).order_by(Message.id)))


def attachments_of(session: Session, messages: list[Message]) -> dict[int, list[Attachment]]:
    """Message id -> its attachments."""
    if not messages:
        return {}
    out: dict[int, list[Attachment]] = {}
    for a in session.scalars(select(Attachment).where(
            Attachment.message_id.in_([m.id for m in messages])).order_by(Attachment.id)):
        out.setdefault(a.message_id, []).append(a)
    return out


def senders_of(session: Session, messages: list[Message]) -> dict[int, User]:
    ids = {m.sender_id for m in messages if m.sender_id}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids \
        else {}


def mark_read(session: Session, actor: User, thread: Thread, up_to_id: int) -> None:
    """Record that ``actor`` has read ``thread`` up to message ``up_to_id`` (never backwards)."""
    state = session.scalar(select(ReadState).where(ReadState.thread_id == thread.id,
                                                   ReadState.user_id == actor.id))
    if state is None:
        state = ReadState(brand_id=thread.brand_id, thread_id=thread.id, user_id=actor.id,
                          last_read_message_id=0)
        session.add(state)
    if up_to_id > state.last_read_message_id:
        state.last_read_message_id = up_to_id
        state.read_at = clock.now()
    session.flush()


def last_read_by_others(session: Session, actor: User, thread: Thread) -> int:
    """The furthest message another participant has read (for "read" marks)."""
    return session.scalar(select(func.coalesce(func.max(ReadState.last_read_message_id), 0))
                          .where(ReadState.thread_id == thread.id,
                                 ReadState.user_id != actor.id)) or 0


# --- writing ----------------------------------------------------------------------------------


def post_message(session: Session, actor: User, brand: BrandConfig, thread_id: int, body: str,
                 uploads: list[files.Upload], data_dir: Path) -> Message:
    """Post a message (text and/or attachments) to a thread ``actor`` takes part in.

    Every attachment is checked before anything is written: a refused file refuses the whole
    message and nothing is saved. Recipients are told by email (never the content).
    """
    settings = settings_of(brand)
    thread = visible_thread(session, actor, brand, thread_id)
    body = (body or "").replace("\r\n", "\n").strip()
    if len(body) > MAX_BODY:
        raise UserError(_("A message may be at most %(count)d characters long.",
                          count=MAX_BODY), code="too_long", field="body")
    uploads = [u for u in uploads if u.filename or u.data]
    if len(uploads) > settings.attachments_per_message:
        raise UserError(_("A message may carry at most %(count)d attachments.",
                          count=settings.attachments_per_message), code="too_many_files",
                        field="files")
    checked = [files.check_upload(u, allowed=settings.allowed_types,
                                  max_bytes=settings.attachment_max_bytes) for u in uploads]
    if not body and not checked:
        raise UserError(_("Write a message or attach a file."), code="empty", field="body")
    from modules.messaging.notifications import notify_recipients

    message = Message(brand_id=brand.slug, thread_id=thread.id, sender_id=actor.id, body=body)
    session.add(message)
    session.flush()
    for f in checked:
        row = Attachment(brand_id=brand.slug, message_id=message.id, uploader_id=actor.id,
                         filename=f.filename, kind=f.kind, content_type=f.content_type,
                         size_bytes=len(f.data), storage_name=files.new_storage_name(),
                         seal=new_seal())
        row.key_id = files.write(session, data_dir, brand.slug, row.storage_name, row.seal,
                                 f.data)
        session.add(row)
    thread.last_message_at = message.created_at
    session.flush()
    mark_read(session, actor, thread, message.id)
    notify_recipients(session, actor, brand, thread, message)
    return message


def download(session: Session, actor: User, brand: BrandConfig, attachment_id: int,
             data_dir: Path) -> tuple[Attachment, bytes, Thread]:
    """An attachment of a thread ``actor`` takes part in, its decrypted content, its thread."""
    settings_of(brand)
    row = session.scalar(select(Attachment).where(Attachment.id == attachment_id,
                                                  Attachment.brand_id == brand.slug))
    if row is None:
        raise not_found()
    message = session.get(Message, row.message_id)
    if message is None:
        raise not_found()
    thread = visible_thread(session, actor, brand, message.thread_id)
    try:
        data = files.read_attachment(session, data_dir, row)
    except FileNotFoundError:
        raise not_found() from None
    return row, data, thread


def upcoming_appointment(session: Session, brand: BrandConfig, thread: Thread) -> Any:
    """The next requested or confirmed appointment of a specialist thread's two participants
    on ``brand`` (None without one, for care-team threads, or without booking)."""
    if thread.kind != "specialist" or brand.module_settings("booking") is None:
        return None
    from modules.booking.models import Appointment

    return session.scalar(select(Appointment).where(
        Appointment.brand_id == brand.slug, Appointment.patient_id == thread.patient_id,
        Appointment.specialist_id == thread.specialist_id,
        Appointment.status.in_(("requested", "confirmed")),
        Appointment.start_at > clock.now()).order_by(Appointment.start_at).limit(1))


def counterpart_name(session: Session, actor: User, brand: BrandConfig, thread: Thread) -> str:
    """Who ``actor`` writes to in ``thread``."""
    if actor.role != "patient":
        other = session.get(User, thread.patient_id)
    elif thread.specialist_id:
        other = session.get(User, thread.specialist_id)
    else:
        return _("Care team of %(brand)s", brand=brand.name)
    return other.name if other is not None else ""


def latest_id(session: Session, thread: Thread) -> int:
    return session.scalar(select(func.coalesce(func.max(Message.id), 0))
                          .where(Message.thread_id == thread.id)) or 0

