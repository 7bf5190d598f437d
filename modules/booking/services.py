"""Booking rules: a specialist's calendar, appointment types and availability; free slots;
booking without double booking.

One calendar per specialist: availability and the overlap check read the specialist's
appointments of every brand, through :func:`_calendar_appointments` (the one place that opts
out of brand scoping). A booking takes the specialist's calendar row as a lock before it checks
and writes, so on SQLite one writer wins and on PostgreSQL bookings of one specialist are
serialized (daily and weekly caps hold under races); on PostgreSQL an exclusion constraint
on the blocked interval is the last word.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NoReturn

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext as _ln
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.identity.services import is_member
from engine.privacy import consent
from engine.web import UserError
from modules.booking import availability, hooks
from modules.booking.availability import (
    BLOCKING_STATUSES,
    COUNTED_STATUSES,
    DayOff,
    Existing,
    ExtraHours,
    Override,
    Slot,
    SlotRules,
    TimeOff,
    WeeklyRange,
)
from modules.booking.calendar import (
    appointment_type_for,
    booking_settings,
    calendar_of,
    overrides,
    weekly_rules,
)
from modules.booking.models import (
    Appointment,
    AppointmentType,
    Calendar,
    DateOverride,
)
from modules.booking.schemas import (
    parse_start,
)
from modules.booking.waitlist import held_intervals

NO_OVERLAP_CONSTRAINT = "ex_booking_appointment_no_overlap"
STAFF_ROLES = ("specialist", "org_admin", "coordinator", "operator")
# The longest window one availability query may span (the longest horizon of a type).
MAX_WINDOW = timedelta(days=731)


# --- availability -----------------------------------------------------------------------------


def _rules_of(appointment_type: AppointmentType) -> SlotRules:
    t = appointment_type
    return SlotRules(appointment_type_id=t.id, duration_minutes=t.duration_minutes,
                     slot_interval_minutes=t.slot_interval_minutes,
                     buffer_before_minutes=t.buffer_before_minutes,
                     buffer_after_minutes=t.buffer_after_minutes,
                     min_notice_minutes=t.min_notice_minutes, max_days_ahead=t.max_days_ahead,
                     daily_cap=t.daily_cap, weekly_cap=t.weekly_cap)


def _as_override(row: DateOverride) -> Override:
    if row.kind == "day_off":
        return DayOff(row.on_date)  # type: ignore[arg-type]
    if row.kind == "extra_hours":
        return ExtraHours(row.on_date, row.start_minute, row.end_minute)  # type: ignore[arg-type]
    return TimeOff(row.start_at, row.end_at)  # type: ignore[arg-type]


def _calendar_appointments(session: Session, specialist_id: int, start: datetime,
                           end: datetime) -> list[Existing]:
    """The specialist's appointments of EVERY brand that touch ``[start, end)``.

    The one place that reads across brands: a specialist has one calendar.
    """
    rows = session.execute(
        select(Appointment.start_at, Appointment.blocked_start_at, Appointment.blocked_end_at,
               Appointment.status, Appointment.appointment_type_id)
        .where(Appointment.specialist_id == specialist_id,
               Appointment.status.in_(COUNTED_STATUSES),
               Appointment.blocked_end_at > start, Appointment.blocked_start_at < end)
        .execution_options(all_brands=True))
    # a slot held for a waitlisted patient blocks like an appointment until the hold expires
    return [Existing(*row) for row in rows] + held_intervals(session, specialist_id, start, end)


def _free_slots(session: Session, calendar: Calendar, appointment_type: AppointmentType,
                window_start: datetime, window_end: datetime,
                existing: list[Existing] | None = None) -> list[Slot]:
    """Free slots against ``existing`` (default: the calendar's appointments of every brand)."""
    if window_end - window_start > MAX_WINDOW:
        raise UserError(str(_l("Ask for at most two years at a time.")), code="invalid",
                        field="window")
    weekly = [WeeklyRange(r.weekday, r.start_minute, r.end_minute)
              for r in weekly_rules(session, calendar)]
    dated = [_as_override(o) for o in overrides(session, calendar)]
    if existing is None:
        # caps count whole local days and ISO weeks around the window
        existing = _calendar_appointments(session, calendar.specialist_id,
                                          window_start - timedelta(days=8),
                                          window_end + timedelta(days=8))
    return availability.available_slots(calendar.timezone, weekly, dated, existing,
                                        _rules_of(appointment_type), window_start, window_end,
                                        clock.now())


def available_slots(session: Session, brand: BrandConfig, specialist_id: int,
                    appointment_type_id: int, window_start: datetime,
                    window_end: datetime) -> list[Slot]:
    """The free slots of one of the specialist's appointment types on ``brand``, starting in
    ``[window_start, window_end)``, against the specialist's appointments on every brand."""
    booking_settings(brand)
    appointment_type = appointment_type_for(session, brand, appointment_type_id, specialist_id)
    specialist = session.get(User, specialist_id)
    calendar = calendar_of(session, specialist_id)
    if specialist is None or not is_member(session, brand, specialist) or calendar is None:
        return []
    return _free_slots(session, calendar, appointment_type, window_start, window_end)


# --- booking ----------------------------------------------------------------------------------


def _patient_for(session: Session, actor: User, brand: BrandConfig,
                 appointment_type: AppointmentType, patient_id: int | None) -> User:
    """Who the appointment is for, by who books it."""
    if actor.role == "patient":
        if actor.brand_id != brand.slug:
            raise UserError(str(_l("Sign in to this site to book.")), code="forbidden", status=403)
        if patient_id is not None and patient_id != actor.id:
            raise UserError(str(_l("You can only book appointments for yourself.")),
                            code="forbidden", field="patient", status=403)
        if appointment_type.bookable_by == "staff":
            raise UserError(str(_l("This appointment type is booked by the practice staff.")),
                            code="staff_only", status=403)
        return actor
    if actor.role not in STAFF_ROLES or (
            actor.role == "specialist" and actor.id != appointment_type.specialist_id) or (
            actor.role in ("org_admin", "coordinator") and actor.brand_id != brand.slug):
        raise UserError(str(_l("You cannot book this appointment.")), code="forbidden", status=403)
    patient = session.get(User, patient_id) if patient_id is not None else None
    if patient is None or patient.role != "patient" or patient.brand_id != brand.slug:
        raise UserError(str(_l("Choose a patient of this site.")), code="not_found",
                        field="patient", status=404)
    return patient


def _modality(appointment_type: AppointmentType, modality: str | None) -> str:
    if appointment_type.modality != "both":
        if modality not in (None, appointment_type.modality):
            raise UserError(str(_l("This appointment type is not offered that way.")),
                            code="invalid", field="modality")
        return appointment_type.modality
    if modality not in ("video", "in_person"):
        raise UserError(str(_l("Choose video or in person.")), code="invalid", field="modality")
    return modality


def _lock_calendar(session: Session, specialist_id: int) -> Calendar | None:
    """Take the specialist's calendar row as a write lock, and return it.

    PostgreSQL: the no-op UPDATE locks the row until commit, so bookings of one specialist
    queue up while others proceed. SQLite: a write takes the database's one write lock. When
    the UPDATE is the first statement of the transaction, SQLite waits for the current writer
    (busy timeout) and then reads the latest data. When the transaction has already read,
    SQLite cannot let it write once another writer has committed since that read (it would
    write from a stale snapshot) and answers "database is locked" at once: that is turned into
    a "busy, try again" answer, and nothing is written.
    """
    try:
        session.execute(update(Calendar).where(Calendar.specialist_id == specialist_id)
                        .values(specialist_id=Calendar.specialist_id)
                        .execution_options(synchronize_session=False))
    except OperationalError as exc:
        if session.get_bind().dialect.name == "sqlite" and "locked" in str(exc.orig):
            raise UserError(str(_l("Many people are booking right now. Please try again.")),
                            code="busy", status=503) from exc
        raise
    return session.scalar(select(Calendar).where(Calendar.specialist_id == specialist_id)
                          .execution_options(populate_existing=True))


def _slot_taken() -> UserError:
    return UserError(str(_l("This time has just been taken. Choose another one.")),
                     code="slot_taken", field="start", status=409)


def insert_appointment(session: Session, appointment: Appointment) -> Appointment:
    """Write ``appointment`` in a savepoint; an overlap refused by the database is
    "slot taken" and leaves the session usable."""
    try:
        with session.begin_nested():
            session.add(appointment)
            session.flush()
    except IntegrityError as exc:
        if NO_OVERLAP_CONSTRAINT in str(exc.orig):
            raise _slot_taken() from exc
        raise
    return appointment


def _why_not_free(session: Session, calendar: Calendar, appointment_type: AppointmentType,
                  start_at: datetime, existing: list[Existing]) -> NoReturn:
    """Raise the error that says why ``start_at`` cannot be booked."""
    window = (start_at, start_at + timedelta(minutes=1))
    bare = next((s for s in _free_slots(session, calendar, appointment_type, *window, [])
                 if s.start_at == start_at), None)
    if bare is None:
        raise UserError(str(_l("This time is not available. Choose one of the free times.")),
                        code="not_available", field="start")
    if any(e.status in BLOCKING_STATUSES and e.blocked_start_at < bare.blocked_end_at
           and bare.blocked_start_at < e.blocked_end_at for e in existing):
        raise _slot_taken()
    raise UserError(str(_l("This appointment type is fully booked on that day or week. Choose "
                           "another day.")), code="fully_booked", field="start", status=409)


def book(session: Session, actor: User, brand: BrandConfig, specialist_id: int,
         appointment_type_id: int, start: datetime | str, *, patient_id: int | None = None,
         modality: str | None = None) -> Appointment:
    """Book the specialist's appointment type at ``start`` on ``brand``.

    Re-checks the time against every rule and every appointment of the specialist on any
    brand, under the specialist's calendar lock. Errors are UserErrors (``invalid_time``,
    ``past``, ``not_found``, ``forbidden``, ``staff_only``, ``too_many``, ``not_available``,
    ``slot_taken``, ``fully_booked``, on SQLite ``busy``) and write nothing. The caller
    commits, or rolls back on an error.
    """
    settings = booking_settings(brand)
    start_at = parse_start(start)
    now = clock.now()
    if start_at <= now:
        raise UserError(str(_l("This time is in the past.")), code="past", field="start")
    # The lock is the transaction's first statement where possible: see _lock_calendar.
    calendar = _lock_calendar(session, specialist_id)
    appointment_type = appointment_type_for(session, brand, appointment_type_id, specialist_id)
    specialist = session.get(User, specialist_id)
    if specialist is None or not is_member(session, brand, specialist):
        raise UserError(str(_l("This specialist is not listed here.")), code="not_found",
                        status=404)
    patient = _patient_for(session, actor, brand, appointment_type, patient_id)
    chosen_modality = _modality(appointment_type, modality)
    if actor.id == patient.id:  # staff booking for a patient: the patient consents on joining
        consent.require(session, patient, brand, "booking")
        if chosen_modality == "video":
            consent.require(session, patient, brand, "video")
    upcoming = session.scalar(select(func.count(Appointment.id)).where(
        Appointment.brand_id == brand.slug, Appointment.patient_id == patient.id,
        Appointment.status.in_(BLOCKING_STATUSES), Appointment.start_at > now)) or 0
    if upcoming >= settings.max_upcoming_per_patient:
        raise UserError(str(_ln("You already have %(num)d upcoming appointment, the most allowed "
                                 "here.", "You already have %(num)d upcoming appointments, the "
                                 "most allowed here.", upcoming)), code="too_many")
    if calendar is None:
        raise UserError(str(_l("This specialist takes no appointments yet.")), code="not_available",
                        field="start")
    window = (start_at, start_at + timedelta(minutes=1))
    existing = _calendar_appointments(session, specialist_id, start_at - timedelta(days=8),
                                      start_at + timedelta(days=8))
    slot = next((s for s in _free_slots(session, calendar, appointment_type, *window, existing)
                 if s.start_at == start_at), None)
    if slot is None:
        _why_not_free(session, calendar, appointment_type, start_at, existing)
    appointment = Appointment(
        brand_id=brand.slug, specialist_id=specialist_id, patient_id=patient.id,
        appointment_type_id=appointment_type.id, booked_by_id=actor.id,
        modality=chosen_modality, start_at=slot.start_at, end_at=slot.end_at,
        blocked_start_at=slot.blocked_start_at, blocked_end_at=slot.blocked_end_at,
        status="requested" if appointment_type.needs_confirmation else "confirmed",
        price_minor=appointment_type.price_minor, currency=appointment_type.currency)
    insert_appointment(session, appointment)
    hooks.appointment_booked(session, actor, brand, appointment)  # e.g. payments prices it
    return appointment
