"""The patient's side of booking: what a patient may book with a specialist, booking with an
emailed confirmation, and cancelling or rescheduling under the brand's cancellation policy.

Every change of an appointment bumps its iCalendar SEQUENCE and emails the patient the updated
``.ics`` (same UID), so their calendar follows. The caller commits, or rolls back on an error.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.identity.services import is_member
from engine.notify import send_email
from engine.web import UserError
from modules.booking import CancellationPolicy, batch, ics
from modules.booking import services as booking
from modules.booking.availability import BLOCKING_STATUSES, Existing, Slot
from modules.booking.calendar import appointment_types, booking_settings
from modules.booking.models import Appointment, AppointmentType
from modules.booking.schemas import parse_start

# --- what a patient may book ------------------------------------------------------------------


def bookable_specialist(session: Session, brand: BrandConfig, specialist_id: int) -> User:
    """The specialist, if listed on ``brand``; a 404 UserError otherwise."""
    booking_settings(brand)
    specialist = session.get(User, specialist_id)
    if specialist is None or specialist.role != "specialist" or \
            not is_member(session, brand, specialist):
        raise UserError(str(_l("This specialist is not listed here.")), code="not_found",
                        status=404)
    return specialist


def bookable_types(session: Session, brand: BrandConfig,
                   specialist_id: int) -> list[AppointmentType]:
    """The specialist's active appointment types on ``brand`` that patients book themselves."""
    return [t for t in appointment_types(session, brand, specialist_id)
            if t.bookable_by == "patients"]


def next_slots(session: Session, brand: BrandConfig, specialist_id: int,
               count: int) -> list[tuple[batch.BookableType, Slot]]:
    """The first ``count`` free slots across the specialist's patient-bookable types, soonest
    first (a time offered by two types is listed once, with the first type); a 404 UserError
    when the specialist is not listed on ``brand``. The batched read of a directory page
    (:func:`modules.booking.batch.next_slots_many`) for a page of one."""
    bookable_specialist(session, brand, specialist_id)
    return batch.next_slots_many(session, brand, [specialist_id], count)[specialist_id]


# --- the patient's appointments ---------------------------------------------------------------


def own_appointment(session: Session, actor: User, brand: BrandConfig,
                    appointment_id: int) -> Appointment:
    """The actor's appointment on ``brand``; any other id answers 404."""
    booking_settings(brand)
    appointment = session.scalar(select(Appointment).where(
        Appointment.id == appointment_id, Appointment.brand_id == brand.slug))
    if appointment is None or appointment.patient_id != actor.id:
        raise UserError(str(_l("We could not find this appointment.")), code="not_found",
                        status=404)
    return appointment


def patient_appointments(session: Session, actor: User, brand: BrandConfig,
                         ) -> tuple[list[Appointment], list[Appointment]]:
    """The actor's appointments on ``brand``: (upcoming soonest first, past latest first).

    Upcoming are the requested or confirmed ones that have not ended.
    """
    booking_settings(brand)
    now = clock.now()
    rows = list(session.scalars(select(Appointment).where(
        Appointment.brand_id == brand.slug, Appointment.patient_id == actor.id)
        .order_by(Appointment.start_at, Appointment.id)))
    upcoming = [a for a in rows if a.status in BLOCKING_STATUSES and a.end_at > now]
    past = [a for a in reversed(rows) if a not in upcoming]
    return upcoming, past


@dataclass(frozen=True)
class Terms:
    """What the brand's policy allows for one appointment now."""

    deadline: datetime  # free cancellation and rescheduling until this instant
    late: bool  # we are inside the window
    cancel_refused: bool  # inside the window and the policy refuses
    reschedule_allowed: bool

    @property
    def marks_late(self) -> bool:
        return self.late and not self.cancel_refused


def terms_for(policy: CancellationPolicy, appointment: Appointment,
              now: datetime | None = None) -> Terms:
    """The cancellation and reschedule terms of ``appointment`` at ``now``."""
    now = now or clock.now()
    deadline = appointment.start_at - timedelta(hours=policy.free_until_hours_before)
    late = now >= deadline
    return Terms(deadline=deadline, late=late,
                 cancel_refused=late and policy.inside_window == "refuse",
                 reschedule_allowed=not late or policy.reschedule_inside_window)


def appointment_terms(brand: BrandConfig, appointment: Appointment) -> Terms:
    """The terms of ``appointment`` now, under ``brand``'s policy."""
    return terms_for(booking_settings(brand).cancellation, appointment)


def is_changeable(appointment: Appointment, now: datetime | None = None) -> bool:
    """A requested or confirmed appointment that has not started may still change."""
    return appointment.status in BLOCKING_STATUSES and appointment.start_at > (now or clock.now())


def _require_changeable(appointment: Appointment, now: datetime) -> None:
    if not is_changeable(appointment, now):
        raise UserError(str(_l("This appointment can no longer be changed.")),
                        code="not_changeable", status=409)


# --- booking, cancelling, rescheduling -----------------------------------------------------


def book_appointment(session: Session, actor: User, brand: BrandConfig, specialist_id: int,
                     appointment_type_id: int, start: datetime | str,
                     modality: str | None = None,
                     intake_token: str | None = None) -> Appointment:
    """Book for the actor (a patient) and email the confirmation with its ``.ics``.

    The rules and errors are those of :func:`modules.booking.services.book`; an
    ``intake_token`` (the matching journey's answers) is stored with the appointment, and an
    unreadable one refuses the booking.
    """
    appointment = booking.book(session, actor, brand, specialist_id, appointment_type_id,
                               start, modality=modality)
    if intake_token:
        from modules.booking import intake  # only the matching journey carries answers

        intake.attach_intake(session, actor, brand, appointment, intake_token)
    _notify(session, brand, appointment, "confirmed", "REQUEST")
    return appointment


def cancel(session: Session, actor: User, brand: BrandConfig, appointment_id: int) -> Appointment:
    """Cancel the actor's appointment under the brand's policy: free until the window; inside
    it marked late-cancelled, or refused (``too_late``), as the policy says.

    The slot is freed (and offered to the waitlist); the patient gets a METHOD:CANCEL ``.ics``.
    """
    settings = booking_settings(brand)
    appointment = own_appointment(session, actor, brand, appointment_id)
    now = clock.now()
    _require_changeable(appointment, now)
    terms = terms_for(settings.cancellation, appointment, now)
    if terms.cancel_refused:
        raise UserError(str(_l(
            "Appointments can be cancelled online until %(hours)s hours before they start. "
            "Please contact us.", hours=settings.cancellation.free_until_hours_before)),
            code="too_late", status=409)
    appointment.status = "late_cancelled" if terms.late else "cancelled"
    appointment.ics_sequence += 1
    session.flush()
    _on_slot_freed(session, brand, appointment)
    _notify(session, brand, appointment, "cancelled", "CANCEL")
    return appointment


def reschedule(session: Session, actor: User, brand: BrandConfig, appointment_id: int,
               start: datetime | str) -> Appointment:
    """Move the actor's appointment to ``start`` (same specialist and type), keeping its id.

    Allowed until the policy's window, inside it only if ``reschedule_inside_window``. The new
    time is checked like a booking, against every appointment of the specialist but this one.
    """
    settings = booking_settings(brand)
    start_at = parse_start(start)
    now = clock.now()
    if start_at <= now:
        raise UserError(str(_l("This time is in the past.")), code="past", field="start")
    appointment = own_appointment(session, actor, brand, appointment_id)
    _require_changeable(appointment, now)
    if not terms_for(settings.cancellation, appointment, now).reschedule_allowed:
        raise UserError(str(_l(
            "Appointments can be moved online until %(hours)s hours before they start.",
            hours=settings.cancellation.free_until_hours_before)), code="too_late", status=409)
    if start_at == appointment.start_at:
        raise UserError(str(_l("Choose a different time.")), code="invalid", field="start")
    calendar = booking._lock_calendar(session, appointment.specialist_id)
    appointment_type = session.get(AppointmentType, appointment.appointment_type_id)
    if calendar is None or appointment_type is None:
        raise UserError(str(_l("This specialist takes no appointments now.")),
                        code="not_available", field="start")
    existing = _without(booking._calendar_appointments(
        session, appointment.specialist_id, start_at - timedelta(days=8),
        start_at + timedelta(days=8)), appointment)
    window = (start_at, start_at + timedelta(minutes=1))
    slot = next((s for s in booking._free_slots(session, calendar, appointment_type, *window,
                                                existing) if s.start_at == start_at), None)
    if slot is None:
        booking._why_not_free(session, calendar, appointment_type, start_at, existing)
    try:
        with session.begin_nested():
            appointment.start_at, appointment.end_at = slot.start_at, slot.end_at
            appointment.blocked_start_at = slot.blocked_start_at
            appointment.blocked_end_at = slot.blocked_end_at
            appointment.ics_sequence += 1
            session.flush()
    except IntegrityError as exc:
        if booking.NO_OVERLAP_CONSTRAINT in str(exc.orig):
            raise booking._slot_taken() from exc
        raise
    _notify(session, brand, appointment, "rescheduled", "REQUEST")
    return appointment


def _without(existing: list[Existing], appointment: Appointment) -> list[Existing]:
    """``existing`` minus the appointment being moved (it no longer blocks its old time)."""
    own = (appointment.start_at, appointment.blocked_start_at, appointment.blocked_end_at)
    kept, dropped = [], False
    for e in existing:
        if not dropped and (e.start_at, e.blocked_start_at, e.blocked_end_at) == own \
                and e.appointment_type_id == appointment.appointment_type_id:
            dropped = True
            continue
        kept.append(e)
    return kept


def _on_slot_freed(session: Session, brand: BrandConfig, appointment: Appointment) -> None:
    """A cancellation freed the appointment's time: offer it to the waitlist (B3's module),
    when that module is present."""
    if importlib.util.find_spec("modules.booking.waitlist") is None:
        return
    from modules.booking import waitlist

    waitlist.slot_freed(session, brand, appointment)


# --- the patient's emails ---------------------------------------------------------------------


def _notify(session: Session, brand: BrandConfig, appointment: Appointment, template: str,
            method: ics.Method) -> None:
    patient = session.get(User, appointment.patient_id)
    specialist = session.get(User, appointment.specialist_id)
    appointment_type = session.get(AppointmentType, appointment.appointment_type_id)
    assert patient is not None and specialist is not None and appointment_type is not None
    locale = patient.locale or brand.locale
    zone = patient.timezone or brand.timezone
    when = format_datetime(appointment.start_at, "EEEE d MMMM y, HH:mm", tzinfo=ZoneInfo(zone),
                           locale=locale) + f" ({zone})"
    with force_locale(locale):
        summary = str(_l("%(type)s with %(specialist)s", type=appointment_type.name,
                         specialist=specialist.name))
    location = appointment_type.location if appointment.modality == "in_person" else None
    content = ics.appointment_event(brand, appointment, method=method, summary=summary,
                                    patient_email=patient.email, patient_name=patient.name,
                                    location=location)
    send_email(session, brand_id=brand.slug, sender=brand.communications.sender,
               to=patient.email, template=f"booking/mail/{template}", locale=locale,
               attachments=[ics.ics_attachment(content)], brand=brand, user=patient,
               appointment=appointment, appointment_type=appointment_type,
               specialist=specialist, when=when, location=location, zone=zone)
