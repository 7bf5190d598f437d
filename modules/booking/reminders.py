"""Appointment reminders: by email, and by SMS where the brand turns it on, at the brand's
``communications.reminder_hours_before`` offsets, each exactly once.

When a reminder is due. For an offset of ``h`` hours the reminder is due from ``start - h``
until the appointment starts, but only within a grace period after that moment:
``min(h / 2, 12 h)`` (a 24-h reminder may go up to 12 h late, a 1-h reminder 30 min late). A
worker that was down for a day therefore sends no stale "tomorrow" reminders for an appointment
that is an hour away: only the latest offset that is due (the smallest) is sent, and only in
its grace period. An offset whose moment came before the appointment was booked is not sent
either: the booking confirmation said it all.

Exactly once. Every send is its own transaction whose FIRST statement inserts its row in the
ledger (``booking_reminder_sent``, unique on appointment, channel, offset and start). A second
worker inserting the same key waits for the first to commit (PostgreSQL: the unique index;
SQLite: the one write lock) and then fails on the constraint, and skips. A crash before the
commit sends nothing (the email and SMS rows are in the same transaction, delivered after it
commits), so the next sweep sends it. The start is part of the key, so a rescheduled
appointment's reminders follow the new time; the appointment is re-read after the insert, so
a cancelled or moved one sends nothing.

Language and zone are the patient's (their account's locale when the brand offers it, else the
brand's; their zone, else the brand's), rendered with the brand's own templates.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from engine import clock
from engine.brand_context import BrandApp, brand_apps, rendering
from engine.config import BrandConfig
from engine.identity.models import User
from engine.notify import send_email
from engine.sms import send_sms
from modules.booking.availability import BLOCKING_STATUSES
from modules.booking.models import Appointment, AppointmentType
from modules.booking.models_reminders import ReminderSent

log = logging.getLogger(__name__)

EMAIL_TEMPLATE = "booking/mail/reminder"
SMS_TEMPLATE = "booking/sms/reminder.txt"
MAX_GRACE = timedelta(hours=12)


@dataclass(frozen=True)
class DueReminder:
    """One reminder to send: the ledger key, and where it goes."""

    appointment_id: int
    brand_id: str
    channel: str  # email | sms
    offset_hours: int
    start_at: datetime
    recipient: str

    def describe(self) -> str:
        return (f"{self.brand_id} appointment {self.appointment_id} "
                f"{self.start_at:%Y-%m-%d %H:%M}Z: {self.offset_hours}h {self.channel} "
                f"to {self.recipient}")


def grace(offset_hours: int) -> timedelta:
    """How late an ``offset_hours`` reminder may still go out."""
    return min(timedelta(hours=offset_hours) / 2, MAX_GRACE)


def due_offset(offsets: tuple[int, ...], start_at: datetime, booked_at: datetime,
               now: datetime) -> int | None:
    """The offset whose reminder is due at ``now``, if any (see the module's docstring)."""
    if now >= start_at:
        return None
    passed = [h for h in offsets if start_at - timedelta(hours=h) <= now]
    if not passed:
        return None
    latest = min(passed)
    due_at = start_at - timedelta(hours=latest)
    if now - due_at > grace(latest) or due_at < booked_at:
        return None
    return latest


def patient_phone(patient: User) -> str | None:
    """The patient's mobile number for SMS (``identity_user.phone``, E.164, set by the patient
    in their account settings); None when they gave none."""
    phone = patient.phone
    return str(phone) if phone else None


def due_reminders(session: Session, now: datetime,
                  brands: Mapping[str, BrandConfig]) -> list[DueReminder]:
    """Reminders due at ``now`` on ``brands`` (slug -> config) that the ledger has not seen."""
    offsets = {slug: cfg.communications.reminder_hours_before for slug, cfg in brands.items()
               if cfg.module_settings("booking") is not None
               and cfg.communications.reminder_hours_before}
    if not offsets:
        return []
    horizon = now + timedelta(hours=max(max(hs) for hs in offsets.values()))
    rows = session.execute(
        select(Appointment.id, Appointment.brand_id, Appointment.start_at,
               Appointment.created_at, User)
        .join(User, User.id == Appointment.patient_id)
        .where(Appointment.status.in_(BLOCKING_STATUSES), Appointment.start_at > now,
               Appointment.start_at <= horizon, Appointment.brand_id.in_(list(offsets)))
        .order_by(Appointment.start_at, Appointment.id)
        .execution_options(all_brands=True)).all()
    if not rows:
        return []
    sent = {tuple(row) for row in session.execute(
        select(ReminderSent.appointment_id, ReminderSent.channel, ReminderSent.offset_hours,
               ReminderSent.start_at)
        .where(ReminderSent.appointment_id.in_([r[0] for r in rows]))
        .execution_options(all_brands=True))}
    due: list[DueReminder] = []
    for appointment_id, brand_id, start_at, created_at, patient in rows:
        offset = due_offset(offsets[brand_id], start_at, created_at, now)
        if offset is None:
            continue
        channels = [("email", patient.email)]
        phone = patient_phone(patient)
        if brands[brand_id].communications.sms and phone:
            channels.append(("sms", phone))
        for channel, recipient in channels:
            if (appointment_id, channel, offset, start_at) not in sent:
                due.append(DueReminder(appointment_id, brand_id, channel, offset, start_at,
                                       recipient))
    return due


def _language(brand: BrandConfig, patient: User) -> str:
    return patient.locale if patient.locale in brand.locales else brand.locale


def _zone(brand: BrandConfig, patient: User) -> str:
    zone = patient.timezone or brand.timezone
    try:
        ZoneInfo(zone)
    except (ValueError, LookupError):
        return brand.timezone
    return zone


def _message_context(session: Session, brand: BrandConfig, appointment: Appointment,
                     patient: User, offset_hours: int) -> dict[str, object]:
    """What the templates show, with times in the patient's zone and language."""
    language, zone = _language(brand, patient), _zone(brand, patient)
    local = appointment.start_at.astimezone(ZoneInfo(zone))
    kind = session.get(AppointmentType, appointment.appointment_type_id)
    specialist = session.get(User, appointment.specialist_id)
    return {
        "brand": brand, "patient": patient, "appointment": appointment,
        "appointment_type": kind, "specialist": specialist, "hours": offset_hours,
        "date": format_date(local, "full", locale=language),
        "time": format_time(local, "short", locale=language),
        "zone": zone, "location": kind.location if kind is not None else None,
    }


def _send_one(session: Session, due: DueReminder, brand: BrandApp, now: datetime) -> bool:
    """Send ``due`` in its own transaction; False when another worker sent it or it no longer
    applies. The ledger insert comes first: see the module's docstring."""
    try:
        session.add(ReminderSent(brand_id=due.brand_id, appointment_id=due.appointment_id,
                                 channel=due.channel, offset_hours=due.offset_hours,
                                 start_at=due.start_at, sent_at=now))
        session.flush()
    except IntegrityError:
        session.rollback()  # another worker sent it (or is sending it and committed first)
        return False
    except OperationalError as exc:
        # SQLite: a writer committed after this transaction read; the next sweep retries
        session.rollback()
        if "locked" not in str(exc.orig):
            raise
        return False
    appointment = session.scalar(
        select(Appointment).where(Appointment.id == due.appointment_id)
        .execution_options(all_brands=True, populate_existing=True))
    patient = session.get(User, appointment.patient_id) if appointment is not None else None
    if (appointment is None or patient is None or appointment.status not in BLOCKING_STATUSES
            or appointment.start_at != due.start_at or appointment.start_at <= now):
        session.rollback()  # cancelled or moved since the sweep read it
        return False
    cfg = brand.config
    context = _message_context(session, cfg, appointment, patient, due.offset_hours)
    language = _language(cfg, patient)
    with rendering(brand):
        if due.channel == "email":
            send_email(session, brand_id=cfg.slug, sender=cfg.communications.sender,
                       to=due.recipient, template=EMAIL_TEMPLATE, locale=language, **context)
        else:
            with force_locale(language):
                body = " ".join(render_template(SMS_TEMPLATE, **context).split())
            send_sms(session, brand_id=cfg.slug, to=due.recipient, body=body,
                     template=SMS_TEMPLATE)
    session.commit()
    return True


def send_due_reminders(session: Session, now: datetime, *,
                       brands: Mapping[str, BrandApp] | None = None,
                       dry_run: bool = False) -> list[DueReminder]:
    """Send every reminder due at ``now``, each exactly once; return those this call sent
    (with ``dry_run``: those it would send, sending nothing).

    ``session`` must be platform-wide (no brand) and hold no pending work: each reminder is
    committed on its own, so the sweep may be interrupted at any point and run again.
    ``brands`` defaults to every brand of this process (:func:`engine.brand_context.brand_apps`).
    """
    apps = brands if brands is not None else brand_apps()
    due = due_reminders(session, now, {slug: b.config for slug, b in apps.items()})
    # End the reading transaction: each send's first statement must be its ledger insert.
    session.rollback()
    if dry_run:
        return due
    sent: list[DueReminder] = []
    for reminder in due:
        try:
            if _send_one(session, reminder, apps[reminder.brand_id], now):
                sent.append(reminder)
        except Exception:  # one broken reminder must not stop the others
            session.rollback()
            log.exception("reminder failed: %s", reminder.describe())
    return sent


def sweep_reminders() -> int:
    """Job: send the reminders due now (the scheduler enqueues it every minute). Idempotent.
    Returns how many were sent."""
    from engine.db import brand_session
    from engine.runtime import current

    with brand_session(current().sessions, None) as session:
        sent = send_due_reminders(session, clock.now())
    if sent:
        log.info("sent %d reminder(s)", len(sent))
    return len(sent)
