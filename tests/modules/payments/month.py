"""A generated month of appointments and money (used by the reconciliation test and by
``bench/payments.py``): bookings priced by the payments listener, payments marked paid,
refunded in full or in part, disputed, paid out; some of it just outside the month. It keeps its
own tally of what the month's report must say, computed from the actions, not from the ledger.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from modules.booking.models import Appointment, AppointmentType
from modules.payments import ledger, services
from modules.payments.models import Payment

# October 2026 in Madrid, in UTC
MONTH = "2026-10"
START = datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
END = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)


@dataclass
class Tally:
    gross: int = 0
    refunds: int = 0
    disputes: int = 0
    transactions: int = 0
    payouts: int = 0
    gross_by_specialist: Counter[int] = field(default_factory=Counter)
    sessions_by_rule: Counter[str] = field(default_factory=Counter)
    sponsored_sessions: Counter[str] = field(default_factory=Counter)
    sponsored_charged: Counter[str] = field(default_factory=Counter)
    payments: int = 0


def _inside(at: datetime) -> bool:
    return START <= at < END


def generate(session: Session, brand: BrandConfig, specialists: list[User],
             types: dict[int, AppointmentType], patients: list[User], staff: User, *,
             appointments: int, seed: int = 7) -> Tally:
    """Book ``appointments`` spread over October (and its edges), act on their money, and
    return what October's reconciliation must report."""
    rng = random.Random(seed)
    tally = Tally()
    per_specialist = -(-appointments // len(specialists))
    for n in range(appointments):
        specialist = specialists[n % len(specialists)]
        slot = n // len(specialists)
        # hourly slots from 29 September to 3 November: most in October, some outside it
        start = START - timedelta(days=1) + timedelta(hours=slot * (36 * 24 // per_specialist))
        kind = types[specialist.id]
        patient = patients[rng.randrange(len(patients))]
        booked_at = start - timedelta(hours=rng.randint(2, 72))
        with clock.freeze(booked_at):
            appointment = Appointment(
                brand_id=brand.slug, specialist_id=specialist.id, patient_id=patient.id,
                appointment_type_id=kind.id, booked_by_id=patient.id, modality="video",
                start_at=start, end_at=start + timedelta(minutes=30), blocked_start_at=start,
                blocked_end_at=start + timedelta(minutes=30), status="confirmed",
                price_minor=kind.price_minor, currency=kind.currency)
            session.add(appointment)
            session.flush()
            payment = services.price_appointment(session, patient, brand, appointment)
        assert payment is not None
        tally.payments += 1
        if payment.status == "paid" and payment.amount_minor and _inside(booked_at):
            _charged(tally, payment)
        roll = rng.random()
        if payment.status == "pending" and roll < 0.9:
            paid_at = booked_at + timedelta(minutes=rng.randint(1, 60))
            with clock.freeze(paid_at):
                services.mark_paid(session, staff, brand, payment.id)
            if _inside(paid_at):
                _charged(tally, payment)
        if _inside(start) and not (roll > 0.97):
            tally.sessions_by_rule[payment.pricing_rule] += 1
        if payment.status != "paid" or payment.amount_minor == 0:
            if roll > 0.97:  # some unpaid appointments are cancelled
                _cancel(session, brand, appointment)
            continue
        when = start + timedelta(hours=rng.randint(1, 48))
        if roll < 0.10:  # refunded in full by staff
            _refund(session, brand, staff, payment, None, when, tally)
        elif roll < 0.18:  # refunded in part, sometimes twice
            _refund(session, brand, staff, payment, rng.randint(1, payment.amount_minor // 2),
                    when, tally)
            if rng.random() < 0.5:
                _refund(session, brand, staff, payment, rng.randint(1, payment.amount_minor // 3),
                        when + timedelta(hours=1), tally)
        elif roll < 0.21:  # a chargeback
            with clock.freeze(when):
                left = payment.amount_minor - payment.refunded_minor
                services.record_refund(session, brand, payment, left, f"dp_{payment.id}",
                                       kind="dispute")
            if _inside(when):
                tally.disputes += left
                tally.transactions += 1
        elif roll > 0.97:  # cancelled by the specialist: refunded in full by the listener
            left = payment.amount_minor - payment.refunded_minor
            _cancel(session, brand, appointment)
            if _inside(_cancel_time(start)):
                tally.refunds += left
                tally.transactions += 1
    for i, specialist in enumerate(specialists):
        for week in range(3):
            at = START + timedelta(days=7 * week + 3, hours=i)
            with clock.freeze(at):
                ledger.post_payout(session, brand_id=brand.slug, specialist_id=specialist.id,
                                   amount_minor=1000 * (week + 1), currency=brand.currency,
                                   reference=f"po_{specialist.id}_{week}")
            tally.payouts += 1000 * (week + 1)
    session.flush()
    return tally


def _cancel_time(start: datetime) -> datetime:
    return start - timedelta(hours=1)  # after it was booked (2 to 72 hours before)


def _cancel(session: Session, brand: BrandConfig, appointment: Appointment) -> None:
    with clock.freeze(_cancel_time(appointment.start_at)):
        appointment.status = "cancelled"
        session.flush()
        services.appointment_cancelled(session, brand, appointment)


def _charged(tally: Tally, payment: Payment) -> None:
    tally.gross += payment.amount_minor
    tally.transactions += 1
    if payment.specialist_id is not None:
        tally.gross_by_specialist[payment.specialist_id] += payment.amount_minor
    if payment.payer == "organization":
        tally.sponsored_sessions[payment.organization] += 1
        tally.sponsored_charged[payment.organization] += payment.amount_minor


def _refund(session: Session, brand: BrandConfig, staff: User, payment: Payment,
            amount: int | None, when: datetime, tally: Tally) -> None:
    before = payment.refunded_minor
    with clock.freeze(when):
        services.refund(session, staff, brand, payment.id, amount)
    if _inside(when):
        tally.refunds += payment.refunded_minor - before
        tally.transactions += 1


__all__ = ["END", "MONTH", "START", "Tally", "generate"]
