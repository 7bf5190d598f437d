"""The specialist's side of appointments: the week of their one calendar (every brand), one
appointment of theirs, and what they do with it (confirm, mark attendance, cancel), plus
retiring an appointment type.

Status transitions the specialist may make::

    requested  -> confirmed                  (confirm)
    requested  -> cancelled                  (cancel, before the start)
    confirmed  -> cancelled                  (cancel, before the start)
    confirmed  -> completed | no_show        (attendance, once the appointment has started)
    completed <-> no_show                    (correct the attendance)

Anything else is refused with a UserError that says why, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.identity.services import is_member
from engine.notify import send_email
from engine.web import UserError
from modules.booking import ics, waitlist
from modules.booking.availability import CalendarView, WeeklyRange, first_instant_at_or_after
from modules.booking.calendar import booking_settings, calendar_of, overrides, weekly_rules
from modules.booking.models import Appointment, AppointmentType
from modules.booking.services import _as_override

# Statuses shown on the week view (cancelled ones free their time and are left out).
SHOWN_STATUSES = ("requested", "confirmed", "completed", "no_show")
ATTENDANCE_STATUSES = ("completed", "no_show")
CANCELLABLE_STATUSES = ("requested", "confirmed")
MAX_WEEK_DISTANCE_DAYS = 3653  # the week view looks at most ten years back or ahead


def _require_specialist(session: Session, actor: User, brand: BrandConfig) -> None:
    booking_settings(brand)
    if actor.role != "specialist" or not is_member(session, brand, actor):
        raise UserError(_("Only specialists of this site manage their calendar."),
                        code="forbidden", status=403)


def calendar_zone(session: Session, actor: User, brand: BrandConfig) -> str:
    """The zone the actor's calendar is written and shown in (theirs, else the brand's)."""
    calendar = calendar_of(session, actor.id)
    if calendar is not None:
        return calendar.timezone
    return actor.timezone or brand.timezone


# --- the week ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekEntry:
    """One appointment on the week view, with the brand it was booked on."""

    appointment_id: int
    brand_id: str
    start_at: datetime  # in the calendar's zone
    end_at: datetime
    status: str
    patient_name: str
    type_name: str
    modality: str


@dataclass(frozen=True)
class Span:
    """Working or blocked time of one local day, as local datetimes."""

    start_at: datetime
    end_at: datetime


@dataclass
class WeekDay:
    day: date
    working: list[Span] = field(default_factory=list)
    blocked: list[Span] = field(default_factory=list)
    appointments: list[WeekEntry] = field(default_factory=list)

    def timeline(self) -> list[tuple[str, Span | WeekEntry]]:
        """("working" | "blocked" | "appointment", item) in time order (for a day's list)."""
        items: list[tuple[str, Span | WeekEntry]] = [
            *(("working", s) for s in self.working), *(("blocked", s) for s in self.blocked),
            *(("appointment", a) for a in self.appointments)]
        order = {"working": 0, "blocked": 1, "appointment": 2}
        return sorted(items, key=lambda item: (item[1].start_at, order[item[0]]))


@dataclass(frozen=True)
class Week:
    zone: str
    monday: date
    days: list[WeekDay]
    first_hour: int  # the hours the timeline spans (local), for positioning
    last_hour: int

    @property
    def previous(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.monday + timedelta(days=7)


def _local_span(day: date, start_minute: int, end_minute: int, zone: ZoneInfo) -> Span:
    midnight = datetime(day.year, day.month, day.day)
    return Span(first_instant_at_or_after(midnight + timedelta(minutes=start_minute),
                                          zone).astimezone(zone),
                first_instant_at_or_after(midnight + timedelta(minutes=end_minute),
                                          zone).astimezone(zone))


def specialist_week(session: Session, actor: User, brand: BrandConfig,
                    any_day: date | None = None) -> Week:
    """The actor's week (Monday to Sunday, in their calendar's zone) that holds ``any_day``
    (default: today there): working hours, time off and appointments of EVERY brand."""
    _require_specialist(session, actor, brand)
    zone_name = calendar_zone(session, actor, brand)
    zone = ZoneInfo(zone_name)
    today = clock.now().astimezone(zone).date()
    if any_day is not None and abs((any_day - today).days) > MAX_WEEK_DISTANCE_DAYS:
        raise UserError(_("Choose a week within ten years of today."), code="invalid",
                        field="week")
    monday = (any_day or today) - timedelta(days=(any_day or today).weekday())
    days = [WeekDay(monday + timedelta(days=i)) for i in range(7)]
    week_start = first_instant_at_or_after(datetime.combine(monday, datetime.min.time()), zone)
    week_end = first_instant_at_or_after(
        datetime.combine(monday + timedelta(days=7), datetime.min.time()), zone)

    calendar = calendar_of(session, actor.id)
    weekly: list[WeeklyRange] = []
    dated = []
    if calendar is not None:
        weekly = [WeeklyRange(r.weekday, r.start_minute, r.end_minute)
                  for r in weekly_rules(session, calendar)]
        dated = [_as_override(o) for o in overrides(session, calendar)]
    hours = CalendarView.of(zone, weekly, dated, ())
    for d in days:
        d.working = [_local_span(d.day, s, e, zone) for s, e in hours.ranges(d.day)]
    for o in dated:
        start_at = getattr(o, "start_at", None)
        end_at = getattr(o, "end_at", None)
        if start_at is None or end_at is None or end_at <= week_start or start_at >= week_end:
            continue
        for d in days:
            day_start = first_instant_at_or_after(datetime.combine(d.day, datetime.min.time()),
                                                  zone)
            day_end = first_instant_at_or_after(
                datetime.combine(d.day + timedelta(days=1), datetime.min.time()), zone)
            if start_at < day_end and day_start < end_at:
                d.blocked.append(Span(max(start_at, day_start).astimezone(zone),
                                      min(end_at, day_end).astimezone(zone)))

    # The one calendar: appointments of every brand the specialist works on.
    rows = session.execute(
        select(Appointment, AppointmentType.name, User.name)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .join(User, User.id == Appointment.patient_id)
        .where(Appointment.specialist_id == actor.id,
               Appointment.status.in_(SHOWN_STATUSES),
               Appointment.end_at > week_start, Appointment.start_at < week_end)
        .order_by(Appointment.start_at)
        .execution_options(all_brands=True))
    for appointment, type_name, patient_name in rows:
        start = appointment.start_at.astimezone(zone)
        entry = WeekEntry(appointment.id, appointment.brand_id, start,
                          appointment.end_at.astimezone(zone), appointment.status,
                          patient_name, type_name, appointment.modality)
        days[(start.date() - monday).days].appointments.append(entry)

    first_hour, last_hour = 8, 18
    for d in days:
        for span in [*d.working, *d.blocked, *(Span(a.start_at, a.end_at)
                                               for a in d.appointments)]:
            first_hour = min(first_hour, span.start_at.hour)
            last_hour = max(last_hour, 24 if span.end_at.date() != span.start_at.date()
                            else span.end_at.hour + (1 if span.end_at.minute else 0))
    return Week(zone_name, monday, days, first_hour, last_hour)


# --- one appointment --------------------------------------------------------------------------


@dataclass(frozen=True)
class AppointmentDetail:
    appointment: Appointment
    appointment_type: AppointmentType
    patient: User
    specialist_zone: str
    patient_zone: str

    @property
    def has_started(self) -> bool:
        return self.appointment.start_at <= clock.now()

    @property
    def can_confirm(self) -> bool:
        return self.appointment.status == "requested" and not self.has_started

    @property
    def can_mark_attendance(self) -> bool:
        return self.has_started and self.appointment.status in (
            "confirmed", *ATTENDANCE_STATUSES)

    @property
    def can_cancel(self) -> bool:
        return self.appointment.status in CANCELLABLE_STATUSES and not self.has_started


def _own_appointment(session: Session, actor: User, brand: BrandConfig,
                     appointment_id: int) -> Appointment:
    """The actor's appointment on ``brand``: another specialist's, or one of another brand,
    answers 404."""
    _require_specialist(session, actor, brand)
    appointment = session.scalar(select(Appointment).where(
        Appointment.id == appointment_id, Appointment.brand_id == brand.slug))
    if appointment is None or appointment.specialist_id != actor.id:
        raise UserError(_("This appointment does not exist."), code="not_found", status=404)
    return appointment


def appointment_detail(session: Session, actor: User, brand: BrandConfig,
                       appointment_id: int) -> AppointmentDetail:
    """One of the actor's appointments on ``brand``, with its patient and both their zones."""
    appointment = _own_appointment(session, actor, brand, appointment_id)
    kind = session.get(AppointmentType, appointment.appointment_type_id)
    patient = session.get(User, appointment.patient_id)
    assert kind is not None and patient is not None  # foreign keys
    return AppointmentDetail(appointment, kind, patient, calendar_zone(session, actor, brand),
                             patient.timezone or brand.timezone)


def confirm_appointment(session: Session, actor: User, brand: BrandConfig,
                        appointment_id: int) -> Appointment:
    """Confirm a requested appointment (requested -> confirmed) that has not started, and tell
    the patient by email (the ``.ics`` turns from tentative to confirmed).

    Must run inside the brand's app context (the email is rendered with its templates).
    """
    appointment = _own_appointment(session, actor, brand, appointment_id)
    if appointment.status != "requested":
        raise UserError(_("Only a requested appointment can be confirmed."),
                        code="invalid_status")
    if appointment.start_at <= clock.now():
        raise UserError(_("This appointment has already started; it can no longer be "
                          "confirmed."), code="started")
    appointment.status = "confirmed"
    appointment.ics_sequence += 1
    session.flush()
    _tell_patient(session, actor, brand, appointment, "confirmed_by_specialist", "REQUEST")
    return appointment


def mark_attendance(session: Session, actor: User, brand: BrandConfig, appointment_id: int,
                    status: str) -> Appointment:
    """Mark a started, confirmed appointment ``completed`` or ``no_show`` (or correct it)."""
    if status not in ATTENDANCE_STATUSES:
        raise UserError(_("Attendance is either completed or no-show."), code="invalid",
                        field="status")
    appointment = _own_appointment(session, actor, brand, appointment_id)
    if appointment.status not in ("confirmed", *ATTENDANCE_STATUSES):
        raise UserError(_("Only a confirmed appointment can be marked completed or no-show."),
                        code="invalid_status")
    if appointment.start_at > clock.now():
        raise UserError(_("Attendance can be marked once the appointment has started."),
                        code="not_started")
    appointment.status = status
    session.flush()
    return appointment


def cancel_by_specialist(session: Session, actor: User, brand: BrandConfig,
                         appointment_id: int, reason: str = "") -> Appointment:
    """Cancel one of the actor's upcoming appointments and tell the patient by email.

    Must run inside the brand's app context (the email is rendered with its templates).
    """
    appointment = _own_appointment(session, actor, brand, appointment_id)
    if appointment.status not in CANCELLABLE_STATUSES:
        raise UserError(_("Only a requested or confirmed appointment can be cancelled."),
                        code="invalid_status")
    if appointment.start_at <= clock.now():
        raise UserError(_("This appointment has already started; mark its attendance "
                          "instead."), code="started")
    reason = reason.strip()
    if len(reason) > 500:
        raise UserError(_("Keep the message to the patient to 500 characters."),
                        code="invalid", field="reason")
    appointment.status = "cancelled"
    appointment.ics_sequence += 1
    session.flush()
    waitlist.slot_freed(session, brand, appointment)  # the freed time goes to the waitlist
    _tell_patient(session, actor, brand, appointment, "cancelled_by_specialist", "CANCEL",
                  reason=reason)
    return appointment


def _tell_patient(session: Session, actor: User, brand: BrandConfig, appointment: Appointment,
                  template: str, method: ics.Method, **context: object) -> None:
    """Email the patient ``booking/mail/<template>`` with the appointment's ``.ics`` (same
    UID; the caller has bumped its SEQUENCE), in the patient's language and zone."""
    patient = session.get(User, appointment.patient_id)
    kind = session.get(AppointmentType, appointment.appointment_type_id)
    assert patient is not None and kind is not None
    locale = patient.locale or brand.locale
    zone = ZoneInfo(patient.timezone or brand.timezone)
    location = kind.location if appointment.modality == "in_person" else None
    with force_locale(locale):
        summary = _("%(type)s with %(specialist)s", type=kind.name, specialist=actor.name)
    content = ics.appointment_event(brand, appointment, method=method, summary=summary,
                                    patient_email=patient.email, patient_name=patient.name,
                                    location=location)
    send_email(session, brand_id=brand.slug, sender=brand.communications.sender,
               to=patient.email, template=f"booking/mail/{template}", locale=locale,
               attachments=[ics.ics_attachment(content)], brand=brand, patient=patient,
               specialist=actor, appointment_type=kind, location=location, zone=zone.key,
               when=_when_formatter(appointment.start_at, zone), **context)


def _when_formatter(start_at: datetime, zone: ZoneInfo) -> Callable[..., str]:
    """Formats the start in ``zone`` and in the locale the email is rendered in."""

    def when(short: bool = False) -> str:
        return format_datetime(start_at, "medium" if short else "full", tzinfo=zone,
                               locale=str(get_locale() or "en"))

    return when


# --- appointment types ------------------------------------------------------------------------


def own_appointment_types(session: Session, actor: User,
                          brand: BrandConfig) -> list[AppointmentType]:
    """Every appointment type of the actor on ``brand``, active ones first."""
    _require_specialist(session, actor, brand)
    return list(session.scalars(select(AppointmentType).where(
        AppointmentType.brand_id == brand.slug, AppointmentType.specialist_id == actor.id)
        .order_by(AppointmentType.active.desc(), AppointmentType.name, AppointmentType.id)))


def retire_appointment_type(session: Session, actor: User, brand: BrandConfig,
                            appointment_type_id: int) -> bool:
    """Remove one of the actor's appointment types: deleted when no appointment was ever made
    with it, otherwise deactivated (kept for the appointments' history). True when deleted."""
    _require_specialist(session, actor, brand)
    row = session.scalar(select(AppointmentType).where(
        AppointmentType.id == appointment_type_id, AppointmentType.brand_id == brand.slug))
    if row is None or row.specialist_id != actor.id:
        raise UserError(_("This appointment type does not exist."), code="not_found",
                        status=404)
    used = session.scalar(select(func.count(Appointment.id)).where(
        Appointment.appointment_type_id == row.id)) or 0
    if used:
        row.active = False
        session.flush()
        return False
    session.delete(row)
    session.flush()
    return True


def utc_of_local(day: date, minute: int, zone: str) -> datetime:
    """The instant (UTC) a local date and minute of ``zone`` stand for (a skipped local time
    is the instant the clocks jump)."""
    midnight = datetime(day.year, day.month, day.day)
    return first_instant_at_or_after(midnight + timedelta(minutes=minute),
                                     ZoneInfo(zone)).astimezone(UTC)


__all__ = ["AppointmentDetail", "Week", "appointment_detail",
           "cancel_by_specialist", "confirm_appointment", "mark_attendance",
           "own_appointment_types", "retire_appointment_type", "specialist_week"]
