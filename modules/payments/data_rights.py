"""Data rights for payments (called by the privacy module; see :mod:`engine.modules`).

Export: a patient's payments, credits and sponsored-session usage on their brand. Erasure:
payments and their ledger entries are accounting records kept under a legal obligation (tax and
bookkeeping law), so nothing is deleted: the patient's payments are marked restricted (kept, no
longer used for anything but that obligation) and counted under ``kept:payments``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import clock
from engine.identity.models import User
from modules.payments import money
from modules.payments.models import Credit, Payment, SponsoredUsage


def _brand_of(session: Session, user: User) -> str | None:
    return session.info.get("brand_id") or user.brand_id


def export_data(session: Session, user: User) -> dict[str, Any]:
    """The user's payments (as payer or, for a specialist, the payments of their appointments,
    amounts only), credits and sponsored sessions on their brand."""
    brand_id = _brand_of(session, user)
    who = Payment.specialist_id if user.role == "specialist" else Payment.patient_id
    query = select(Payment).where(who == user.id).order_by(Payment.id)
    if brand_id is not None:
        query = query.where(Payment.brand_id == brand_id)
    payments = [{
        "id": p.id, "brand": p.brand_id, "purpose": p.purpose, "appointment_id": p.appointment_id,
        "amount": str(money.to_major(p.amount_minor, p.currency)),
        "list_price": str(money.to_major(p.list_price_minor, p.currency)),
        "refunded": str(money.to_major(p.refunded_minor, p.currency)), "currency": p.currency,
        "status": p.status, "pricing_rule": p.pricing_rule, "payer": p.payer,
        "organization": p.organization, "provider": p.provider,
        "created_at": p.created_at.isoformat(),
        "paid_at": p.paid_at.isoformat() if p.paid_at else None,
    } for p in session.scalars(query)]
    if user.role == "specialist":
        return {"payments_of_my_appointments": payments}
    credits = [{"kind": c.kind, "offer": c.offer_key, "sessions_total": c.sessions_total,
                "sessions_used": c.sessions_used, "starts_at": c.starts_at.isoformat(),
                "expires_at": c.expires_at.isoformat()}
               for c in session.scalars(select(Credit).where(Credit.patient_id == user.id)
                                        .order_by(Credit.id))]
    sponsored = [{"organization": s.organization, "year": s.year, "sessions_used": s.used}
                 for s in session.scalars(select(SponsoredUsage).where(
                     SponsoredUsage.patient_id == user.id).order_by(SponsoredUsage.id))]
    return {"payments": payments, "credits": credits, "sponsored_sessions": sponsored}


def erase_data(session: Session, user: User, scope: str = "all") -> Mapping[str, int]:
    """Payments are kept under legal obligation: restricted, counted as kept."""
    if scope not in ("all", "payments"):
        return {}
    who = Payment.specialist_id if user.role == "specialist" else Payment.patient_id
    kept = session.scalar(select(func.count(Payment.id)).where(who == user.id)) or 0
    if user.role != "specialist":
        session.execute(update(Payment).where(Payment.patient_id == user.id,
                                              Payment.restricted_at.is_(None))
                        .values(restricted_at=clock.now())
                        .execution_options(synchronize_session=False))
    return {"kept:payments": int(kept)}
