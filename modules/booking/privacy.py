"""Booking's data-rights hooks (see ``engine.modules.Module``): what booking holds about a
patient on their brand, how it is erased, and how intake answers age out.

Appointments are records the provider must keep (billing, clinical record-keeping duties): on
erasure they stay, restricted to the pseudonymized account (counted ``kept:appointments``);
future ones are cancelled so the specialist's time is freed. Intake answers, waitlist entries
and offers are deleted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from engine import clock
from engine.identity.models import User
from modules.booking.models import Appointment, AppointmentType
from modules.booking.models_intake import IntakeAnswers
from modules.booking.models_waitlist import WaitlistEntry, WaitlistOffer

BATCH = 500
FUTURE_OPEN = ("requested", "confirmed")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_data(session: Session, user: User) -> Mapping[str, Any]:
    """The patient's appointments, intake answers and waitlist entries on their brand."""
    brand_id = user.brand_id
    rows = session.execute(
        select(Appointment, AppointmentType.name, User.name)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .join(User, User.id == Appointment.specialist_id)
        .where(Appointment.patient_id == user.id, Appointment.brand_id == brand_id)
        .order_by(Appointment.start_at).execution_options(all_brands=True)).all()
    appointments = [{
        "id": a.id, "specialist": specialist, "appointment_type": type_name,
        "modality": a.modality, "start_at": _iso(a.start_at), "end_at": _iso(a.end_at),
        "status": a.status, "price_minor": a.price_minor, "currency": a.currency,
        "booked_at": _iso(a.created_at), "booked_by_self": a.booked_by_id == user.id,
    } for a, type_name, specialist in rows]
    ids = [a["id"] for a in appointments]
    answers = [] if not ids else [{
        "appointment_id": row.appointment_id, "source": row.source, "form": row.form_key,
        "answers": row.answers, "given_at": _iso(row.created_at),
    } for row in session.scalars(select(IntakeAnswers).where(
        IntakeAnswers.appointment_id.in_(ids)).order_by(IntakeAnswers.id)
        .execution_options(all_brands=True))]
    waitlist = [{
        "specialist_id": e.specialist_id, "appointment_type_id": e.appointment_type_id,
        "before": e.before.isoformat() if e.before else None, "status": e.status,
        "created_at": _iso(e.created_at),
    } for e in session.scalars(select(WaitlistEntry).where(
        WaitlistEntry.patient_id == user.id, WaitlistEntry.brand_id == brand_id)
        .order_by(WaitlistEntry.id).execution_options(all_brands=True))]
    return {"appointments": appointments, "intake_answers": answers, "waitlist": waitlist}


def erase_data(session: Session, user: User, scope: str) -> Mapping[str, int]:
    """Scope "all": delete intake answers and waitlist data, cancel future appointments, keep
    past ones restricted. Other scopes hold nothing of booking's."""
    if scope != "all":
        return {}
    brand_id = user.brand_id
    opts = {"all_brands": True}
    own = select(Appointment.id).where(Appointment.patient_id == user.id,
                                       Appointment.brand_id == brand_id)
    answers = session.execute(delete(IntakeAnswers).where(
        IntakeAnswers.appointment_id.in_(own)).execution_options(**opts)).rowcount
    offers = session.execute(delete(WaitlistOffer).where(
        WaitlistOffer.patient_id == user.id, WaitlistOffer.brand_id == brand_id)
        .execution_options(**opts)).rowcount
    entries = session.execute(delete(WaitlistEntry).where(
        WaitlistEntry.patient_id == user.id, WaitlistEntry.brand_id == brand_id)
        .execution_options(**opts)).rowcount
    cancelled = session.execute(update(Appointment).where(
        Appointment.patient_id == user.id, Appointment.brand_id == brand_id,
        Appointment.status.in_(FUTURE_OPEN), Appointment.start_at > clock.now())
        .values(status="cancelled").execution_options(**opts, synchronize_session=False)
    ).rowcount
    kept = session.scalar(select(func.count()).select_from(own.subquery())) or 0
    return {"intake_answers": answers, "waitlist_offers": offers, "waitlist_entries": entries,
            "cancelled:appointments": cancelled, "kept:appointments": kept}


def purge_intake_answers(session: Session, brand_id: str, cutoff: datetime, *, dry_run: bool,
                         held_user_ids: Collection[int]) -> int:
    """Delete intake answers given before ``cutoff`` on ``brand_id`` (batched), except those of
    held patients. Returns the rows removed (or that would be, on a dry run)."""
    stmt = select(IntakeAnswers.id).join(
        Appointment, Appointment.id == IntakeAnswers.appointment_id).where(
        IntakeAnswers.brand_id == brand_id, IntakeAnswers.created_at < cutoff)
    if held_user_ids:
        stmt = stmt.where(Appointment.patient_id.not_in(list(held_user_ids)))
    stmt = stmt.execution_options(all_brands=True)
    if dry_run:
        return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    removed = 0
    while ids := list(session.scalars(stmt.order_by(IntakeAnswers.id).limit(BATCH))):
        removed += session.execute(delete(IntakeAnswers).where(IntakeAnswers.id.in_(ids))
                                   .execution_options(all_brands=True)).rowcount
    return removed


RETENTION = {"intake_answers": purge_intake_answers}
