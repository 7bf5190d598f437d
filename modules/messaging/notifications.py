"""Email about new messages: never their content, once per unread burst, with an opt-out.

A recipient is emailed when a message arrives in a thread where they had nothing unread (the
next messages of the same burst are not emailed again until they read the thread), unless they
turned message emails off on this brand (default: the brand's ``notify_by_email``).
"""

from __future__ import annotations

from flask import current_app, has_request_context, url_for
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from engine.notify import send_email
from modules.messaging.access import care_team, settings_of
from modules.messaging.models import Message, Preference, ReadState, Thread

TEMPLATE = "messaging/mail/new_message"
THREAD_ENDPOINTS = {"patient": "messaging.thread", "specialist": "messaging_specialist.thread",
                    "coordinator": "messaging_care_team.thread"}


def wants_email(session: Session, brand: BrandConfig, user: User) -> bool:
    """Whether ``user`` gets message emails on ``brand``."""
    found = session.scalar(select(Preference.email_notifications).where(
        Preference.brand_id == brand.slug, Preference.user_id == user.id))
    return settings_of(brand).notify_by_email if found is None else bool(found)


def set_email_preference(session: Session, actor: User, brand: BrandConfig,
                         enabled: bool) -> None:
    """Turn message emails on or off for ``actor`` on ``brand``."""
    settings_of(brand)
    found = session.scalar(select(Preference).where(Preference.brand_id == brand.slug,
                                                    Preference.user_id == actor.id))
    if found is None:
        session.add(Preference(brand_id=brand.slug, user_id=actor.id,
                               email_notifications=enabled))
    else:
        found.email_notifications = enabled
    session.flush()


def recipients(session: Session, sender: User, brand: BrandConfig, thread: Thread) -> list[User]:
    """The participants of ``thread`` other than ``sender``."""
    if thread.kind == "care_team":
        people = ([session.get(User, thread.patient_id)] if sender.role != "patient"
                  else care_team(session, brand))
    else:
        other = thread.specialist_id if sender.id == thread.patient_id else thread.patient_id
        people = [session.get(User, other)]
    return [u for u in people if u is not None and u.id != sender.id]


def _unread_before(session: Session, user: User, thread: Thread, message: Message) -> int:
    last_read = select(func.coalesce(func.max(ReadState.last_read_message_id), 0)).where(
        ReadState.thread_id == thread.id, ReadState.user_id == user.id).scalar_subquery()
    return session.scalar(select(func.count(Message.id)).where(
        Message.thread_id == thread.id, Message.id < message.id, Message.id > last_read,
        or_(Message.sender_id.is_(None), Message.sender_id != user.id))) or 0


def notify_recipients(session: Session, sender: User, brand: BrandConfig, thread: Thread,
                      message: Message) -> int:
    """Email the recipients of ``message`` who want it and had nothing unread in the thread.
    Returns how many emails were queued."""
    sent = 0
    for user in recipients(session, sender, brand, thread):
        if not user.email or not wants_email(session, brand, user):
            continue
        if _unread_before(session, user, thread, message):
            continue
        _send(session, brand, user, thread)
        sent += 1
    return sent


def _send(session: Session, brand: BrandConfig, user: User, thread: Thread) -> None:
    if not has_request_context():  # a job or the CLI: link as a request to the brand would
        with current_app.test_request_context("/", base_url=f"https://{brand.domains[0]}"):
            _send(session, brand, user, thread)
        return
    endpoint = THREAD_ENDPOINTS.get(user.role, "")
    if endpoint in current_app.view_functions:
        link = url_for(endpoint, thread_id=thread.id, _external=True)
        settings_link = url_for(endpoint.rsplit(".", 1)[0] + ".settings", _external=True)
    else:  # a portal this brand does not mount: the home page, where they sign in
        link = settings_link = url_for("portal_patient.home", _external=True)
    # The email says only that a message is waiting: no text, no sender, no attachment name.
    send_email(session, brand_id=brand.slug, sender=brand.communications.sender, to=user.email,
               template=TEMPLATE, locale=user.locale or brand.locale, brand=brand, user=user,
               link=link, settings_link=settings_link)
