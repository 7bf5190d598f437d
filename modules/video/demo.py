"""Demo data of video: one confirmed video appointment a few minutes from now on each brand,
so `./run demo` leaves a visit both sides can join at once (the patient from "My
appointments", the specialist from their calendar).

Called by ``cli.py demo`` as ``demo(session, brand, people)`` after booking's demo (which gave
every demo specialist their calendar and appointment types). Idempotent: while a demo video
appointment of the pair can still be joined, no other is added. The appointment is written as
demo data, not booked: booking's rules of notice would keep it hours away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from modules.booking.calendar import appointment_types
from modules.booking.models import Appointment

STARTS_IN = timedelta(minutes=10)


def demo(session: Session, brand: BrandConfig, people: Mapping[str, Sequence[User]]) -> None:
    """A joinable video appointment between the brand's last demo specialist (one who works on
    this brand only, so the shared calendar stays free) and its last demo patient."""
    specialists, patients = people.get("specialists", ()), people.get("patients", ())
    if not specialists or not patients:
        return
    specialist, patient = specialists[-1], patients[-1]
    now = clock.now()
    kinds = [k for k in appointment_types(session, brand, specialist.id)
             if k.modality in ("video", "both")]
    if not kinds:
        return
    kind = min(kinds, key=lambda k: k.duration_minutes)
    existing = session.scalar(select(Appointment.id).where(
        Appointment.brand_id == brand.slug, Appointment.specialist_id == specialist.id,
        Appointment.patient_id == patient.id, Appointment.modality == "video",
        Appointment.status == "confirmed", Appointment.end_at > now).limit(1))
    if existing is not None:
        return
    start = (now + STARTS_IN).replace(second=0, microsecond=0)
    end = start + timedelta(minutes=kind.duration_minutes)
    try:
        with session.begin_nested():
            session.add(Appointment(
                brand_id=brand.slug, specialist_id=specialist.id, patient_id=patient.id,
                appointment_type_id=kind.id, booked_by_id=patient.id, modality="video",
                start_at=start, end_at=end, blocked_start_at=start,
                blocked_end_at=end + timedelta(minutes=kind.buffer_after_minutes),
                status="confirmed", price_minor=kind.price_minor, currency=kind.currency))
    except IntegrityError:  # the specialist is busy then (another brand's appointment)
        return
