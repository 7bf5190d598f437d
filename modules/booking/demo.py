"""Demo data of booking: every demo specialist's calendar, weekly hours and appointment types,
so `./run demo` shows real availability and a demo patient can book.

Called by ``cli.py demo`` as ``demo(session, brand, people)`` for every brand where booking is
on. Idempotent: a calendar that exists keeps its zone and hours, a specialist who offers types on
the brand gets none added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from modules.booking import calendar
from modules.booking.schemas import AppointmentTypeInput, WeeklyRangeInput

# Weekly hours (weekday 0 = Monday, local "HH:MM" of the calendar's zone), varied per specialist.
_MORNINGS_AND_AFTERNOONS = tuple((d, s, e) for d in range(5)
                                 for s, e in (("09:00", "13:00"), ("15:00", "18:00")))
DEMO_HOURS: Mapping[str, tuple[tuple[int, str, str], ...]] = {
    "lucia.moreno@care-collective.example": _MORNINGS_AND_AFTERNOONS,
    "daniel.okafor@care-collective.example": tuple(
        (d, s, e) for d in range(4) for s, e in (("10:00", "14:00"), ("16:00", "19:00"))),
    "carmen.ruiz@care-collective.example": tuple(
        (d, "09:00", "14:00") for d in (1, 3)) + ((1, "16:00", "19:00"),),
    "javier.santos@care-collective.example": tuple((d, "15:00", "20:00") for d in range(5)),
    "alvaro.gil@care-collective.example": tuple((d, "08:00", "15:00") for d in range(5)),
    "emily.carter@care-collective.example": tuple(
        (d, s, e) for d in range(5) for s, e in (("08:00", "12:00"), ("13:00", "17:00"))),
    "priya.raman@care-collective.example": tuple(
        (d, "11:00", "19:00") for d in (0, 2, 3, 4)),
}
BRAND_ZONES: Mapping[str, str] = {"acme-clinic": "Europe/Madrid",
                                  "wellness-corp": "America/New_York"}
CLINIC_ADDRESS = "Acme Clinic Madrid, Calle de Alcalá 120, 28009 Madrid"
# Specialists who see patients by video only (their in-person types are left out).
VIDEO_ONLY = frozenset({"daniel.okafor@care-collective.example"})


def _type_inputs(brand: BrandConfig, email: str) -> list[AppointmentTypeInput]:
    """One type per entry of the brand's pricing catalogue, at the catalogue's duration."""
    out = []
    for entry in brand.pricing.appointment_types:
        modality = entry.modality
        if email in VIDEO_ONLY:
            if modality == "in_person":
                continue
            modality = "video"
        out.append(AppointmentTypeInput(
            name=entry.name, duration_minutes=entry.duration_minutes, modality=modality,
            location=None if modality == "video" else CLINIC_ADDRESS, catalog_key=entry.key,
            slot_interval_minutes=entry.duration_minutes if entry.duration_minutes < 30 else 30,
            buffer_after_minutes=10 if entry.duration_minutes >= 45 else 0,
            min_notice_minutes=12 * 60, max_days_ahead=90))
    return out


def _set_up_specialist(session: Session, brand: BrandConfig, specialist: User) -> None:
    if calendar.calendar_of(session, specialist.id) is None:
        calendar.set_calendar_zone(session, specialist, brand,
                                   BRAND_ZONES.get(brand.slug, brand.timezone))
        hours = DEMO_HOURS.get(specialist.email, _MORNINGS_AND_AFTERNOONS)
        calendar.set_weekly_rules(session, specialist, brand, [
            WeeklyRangeInput(weekday=d, start_minute=s, end_minute=e)  # type: ignore[arg-type]
            for d, s, e in hours])
    if not calendar.appointment_types(session, brand, specialist.id):
        for data in _type_inputs(brand, specialist.email):
            calendar.save_appointment_type(session, specialist, brand, data)


def demo(session: Session, brand: BrandConfig, people: Mapping[str, Sequence[User]]) -> None:
    """Give each demo specialist of ``brand`` a calendar, hours and the brand's appointment
    types (idempotent). No appointment is booked: ``cli.py demo --reset`` deletes the demo
    accounts, which an appointment's RESTRICT foreign keys would refuse."""
    for specialist in people.get("specialists", ()):
        _set_up_specialist(session, brand, specialist)
    session.flush()
