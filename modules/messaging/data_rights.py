"""Data rights and retention for messaging (called by the privacy module; see the hooks'
signatures in :mod:`engine.modules`).

- Export: a patient or specialist gets every message of their threads (they saw them all), a
  care-team coordinator the messages they sent; attachments they sent come as files.
- Erasure: a patient's threads go with every message and file in them; what a specialist or a
  coordinator wrote stays in the patient's conversation, no longer linked to their account.
- Retention: messages or attachments older than the cutoff are removed, except in threads of
  users under a legal hold.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine.identity.models import User
from modules.messaging import attachments as files
from modules.messaging.models import Attachment, Message, Preference, ReadState, Thread

BATCH = 500


def _data_dir() -> Path:
    from engine.runtime import current

    return current().settings.data_dir


def _brand_of(session: Session, user: User) -> str | None:
    return session.info.get("brand_id") or user.brand_id


def _threads_seen_by(session: Session, user: User, brand_id: str | None) -> list[Thread]:
    if user.role == "patient":
        cond = Thread.patient_id == user.id
    elif user.role == "specialist":
        cond = (Thread.kind == "specialist") & (Thread.specialist_id == user.id)
    else:
        return []
    query = select(Thread).where(cond).order_by(Thread.id)
    if brand_id is not None:
        query = query.where(Thread.brand_id == brand_id)
    return list(session.scalars(query))


def export_data(session: Session, user: User) -> dict[str, Any]:
    """Every message ``user`` can see on their brand, and the files they sent."""
    brand_id = _brand_of(session, user)
    threads = _threads_seen_by(session, user, brand_id)
    query = select(Message).order_by(Message.id)
    if threads:
        query = query.where(Message.thread_id.in_([t.id for t in threads]))
    else:  # a coordinator: what they wrote
        query = query.where(Message.sender_id == user.id)
    if brand_id is not None:
        query = query.where(Message.brand_id == brand_id)
    messages = list(session.scalars(query))
    by_thread = {t.id: t for t in threads}
    for m in messages:
        if m.thread_id not in by_thread:
            found = session.get(Thread, m.thread_id)
            if found is not None:
                by_thread[found.id] = found
    ids = {m.sender_id for m in messages if m.sender_id} | \
        {t.specialist_id for t in by_thread.values() if t.specialist_id} | \
        {t.patient_id for t in by_thread.values()}
    names = {u.id: u.name for u in session.scalars(select(User).where(User.id.in_(ids)))}
    attached: dict[int, list[Attachment]] = {}
    if messages:
        for a in session.scalars(select(Attachment).where(
                Attachment.message_id.in_([m.id for m in messages])).order_by(Attachment.id)):
            attached.setdefault(a.message_id, []).append(a)
    out_threads = []
    for t in sorted(by_thread.values(), key=lambda t: t.id):
        out_threads.append({
            "id": t.id, "brand": t.brand_id, "kind": t.kind,
            "patient": names.get(t.patient_id),
            "specialist": names.get(t.specialist_id) if t.specialist_id else None,
            "messages": [{
                "id": m.id, "sent_at": m.created_at.isoformat(),
                "sender": "me" if m.sender_id == user.id else names.get(m.sender_id or 0),
                "body": m.body,
                "attachments": [a.filename for a in attached.get(m.id, [])],
            } for m in messages if m.thread_id == t.id],
        })
    own_files: list[tuple[str, bytes]] = []
    for m in messages:
        for a in attached.get(m.id, []):
            if a.uploader_id == user.id:
                try:
                    data = files.read_attachment(session, _data_dir(), a)
                except FileNotFoundError:
                    continue
                own_files.append((f"messaging/{a.id}-{a.filename}", data))
    prefs = [{"brand": p.brand_id, "email_notifications": p.email_notifications}
             for p in session.scalars(select(Preference).where(Preference.user_id == user.id))]
    return {"threads": out_threads, "preferences": prefs, "_files": own_files}


def _drop_attachment_files(session: Session, rows: list[Attachment]) -> None:
    for a in rows:
        files.remove_after_commit(session, _data_dir(), a.brand_id, a.storage_name)


def erase_data(session: Session, user: User, scope: str) -> dict[str, int]:
    """Erase ``user``'s messaging data for scope "all" or "messages" (see the module doc)."""
    if scope not in ("all", "messages"):
        return {}
    brand_id = _brand_of(session, user)
    counts: dict[str, int] = {}
    if user.role == "patient":
        threads = [t.id for t in _threads_seen_by(session, user, brand_id)]
        if threads:
            rows = list(session.scalars(select(Attachment).join(
                Message, Message.id == Attachment.message_id).where(
                Message.thread_id.in_(threads))))
            _drop_attachment_files(session, rows)
            counts["attachments"] = len(rows)
            counts["messages"] = session.execute(delete(Message).where(
                Message.thread_id.in_(threads))).rowcount
            session.execute(delete(ReadState).where(ReadState.thread_id.in_(threads)))
            counts["threads"] = session.execute(delete(Thread).where(
                Thread.id.in_(threads))).rowcount
    else:
        scoped = [Message.sender_id == user.id]
        if brand_id is not None:
            scoped.append(Message.brand_id == brand_id)
        counts["pseudonymized:messages"] = session.execute(
            update(Message).where(*scoped).values(sender_id=None)).rowcount
        att = [Attachment.uploader_id == user.id]
        if brand_id is not None:
            att.append(Attachment.brand_id == brand_id)
        counts["pseudonymized:attachments"] = session.execute(
            update(Attachment).where(*att).values(uploader_id=None)).rowcount
    reads = [ReadState.user_id == user.id]
    prefs = [Preference.user_id == user.id]
    if brand_id is not None:
        reads.append(ReadState.brand_id == brand_id)
        prefs.append(Preference.brand_id == brand_id)
    session.execute(delete(ReadState).where(*reads))
    if scope == "all":
        session.execute(delete(Preference).where(*prefs))
    session.flush()
    return counts


def _held_threads(held_user_ids: Collection[int]) -> Any:
    held = list(held_user_ids)
    return select(Thread.id).where(Thread.patient_id.in_(held) | Thread.specialist_id.in_(held))


def purge_attachments(session: Session, brand_id: str, cutoff: datetime, *, dry_run: bool,
                      held_user_ids: Collection[int] = ()) -> int:
    """Remove attachments of ``brand_id`` sent before ``cutoff`` (files and rows), except in
    threads of held users. Returns how many were (or would be) removed."""
    removed = 0
    last_id = 0
    while True:
        batch = list(session.scalars(select(Attachment).join(
            Message, Message.id == Attachment.message_id).where(
            Attachment.brand_id == brand_id, Attachment.created_at < cutoff,
            Attachment.id > last_id, Message.thread_id.not_in(_held_threads(held_user_ids)))
            .order_by(Attachment.id).limit(BATCH)))
        if not batch:
            return removed
        last_id = batch[-1].id
        removed += len(batch)
        if not dry_run:
            _drop_attachment_files(session, batch)
            session.execute(delete(Attachment).where(Attachment.id.in_([a.id for a in batch])))
            session.flush()


def purge_messages(session: Session, brand_id: str, cutoff: datetime, *, dry_run: bool,
                   held_user_ids: Collection[int] = ()) -> int:
    """Remove messages of ``brand_id`` sent before ``cutoff`` with their attachments, except
    in threads of held users. Returns how many messages were (or would be) removed."""
    removed = 0
    last_id = 0
    while True:
        ids = list(session.scalars(select(Message.id).where(
            Message.brand_id == brand_id, Message.created_at < cutoff, Message.id > last_id,
            Message.thread_id.not_in(_held_threads(held_user_ids)))
            .order_by(Message.id).limit(BATCH)))
        if not ids:
            return removed
        last_id = ids[-1]
        removed += len(ids)
        if not dry_run:
            _drop_attachment_files(session, list(session.scalars(
                select(Attachment).where(Attachment.message_id.in_(ids)))))
            session.execute(delete(Attachment).where(Attachment.message_id.in_(ids)))
            session.execute(delete(Message).where(Message.id.in_(ids)))
            session.flush()
