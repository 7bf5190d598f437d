"""Demo data of payments: last month's sessions of the demo patients with the demo specialists,
priced under the brand's rules and paid (one refunded in part), so the month-end report, the
specialist's earnings and the patients' payment pages have something to show.

Called by ``cli.py demo`` as ``demo(session, brand, people)`` after booking's hook. Idempotent:
a brand that has payments already gets none added. The appointments are in the past (completed),
so they take no free time from anyone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from modules.booking import calendar
from modules.booking.models import Appointment
from modules.payments import services
from modules.payments.models import Payment

SESSIONS_PER_PATIENT = 3


def _last_month_days(brand: BrandConfig) -> list[datetime]:
    """Weekday mornings (10:00, brand zone) of the month before now, as UTC instants."""
    zone = ZoneInfo(brand.timezone)
    today = clock.now().astimezone(zone)
    first = today.replace(day=1, hour=10, minute=0, second=0, microsecond=0)
    start = (first - timedelta(days=1)).replace(day=1)
    days, day = [], start
    while day < first:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def demo(session: Session, brand: BrandConfig, people: Mapping[str, Sequence[User]]) -> None:
    """Book, price and pay last month's demo sessions on ``brand`` (once)."""
    if session.scalar(select(Payment.id).where(Payment.brand_id == brand.slug).limit(1)):
        return
    specialists = [s for s in people.get("specialists", ())
                   if calendar.appointment_types(session, brand, s.id)]
    patients = list(people.get("patients", ()))
    days = _last_month_days(brand)
    if not specialists or not patients or not days:
        return
    made: list[Payment] = []
    for i, patient in enumerate(patients):
        for k in range(SESSIONS_PER_PATIENT):
            specialist = specialists[(i + k) % len(specialists)]
            kind = calendar.appointment_types(session, brand, specialist.id)[0]
            start = days[(i * SESSIONS_PER_PATIENT + k) * 2 % len(days)] + timedelta(hours=i)
            end = start + timedelta(minutes=kind.duration_minutes)
            with clock.freeze(start - timedelta(days=2)):
                appointment = Appointment(
                    brand_id=brand.slug, specialist_id=specialist.id, patient_id=patient.id,
                    appointment_type_id=kind.id, booked_by_id=patient.id,
                    modality="video" if kind.modality != "in_person" else "in_person",
                    start_at=start, end_at=end, blocked_start_at=start, blocked_end_at=end,
                    status="completed", price_minor=kind.price_minor, currency=kind.currency)
                session.add(appointment)
                session.flush()
                payment = services.price_appointment(session, patient, brand, appointment)
            if payment is None:
                return
            if payment.status == "pending":  # manual: paid at the clinic (online: left unpaid)
                with clock.freeze(start + timedelta(minutes=5)):
                    services.confirm_paid(session, brand, payment)
            made.append(payment)
    refundable = next((p for p in made if services.refundable(p) >= 2), None)
    if refundable is not None:
        with clock.freeze(refundable.paid_at + timedelta(days=1)):  # type: ignore[operator]
            services.record_refund(session, brand, refundable, refundable.amount_minor // 2,
                                   f"demo-{refundable.id}")
    session.flush()
