"""Data rights for payments (called by the privacy module; see :mod:`engine.modules`).

Export: a patient's payments, credits, subscriptions and sponsored-session usage on their brand.
Erasure: payments and their ledger entries are accounting records kept under a legal obligation
(tax and bookkeeping law), so nothing is deleted: the patient's payments are marked restricted
(kept, no longer used for anything but that obligation) and counted under ``kept:payments``.
Ended subscriptions are deleted (Stripe keeps its own record; ours only showed it to the
patient), and no event re-creates them once the payments are restricted. A subscription still
running at Stripe is kept and counted under ``kept:subscriptions``: Stripe still bills it, and
the record is how the patient (or staff) sees and ends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from engine import clock
from engine.identity.models import User
from modules.payments import money
from modules.payments.models import Credit, Payment, SponsoredUsage, Subscription
from modules.payments.subscriptions import ENDED


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
    return {"payments": payments, "credits": credits, "subscriptions": _subscriptions(
        session, user, brand_id), "sponsored_sessions": sponsored}


def _subscriptions(session: Session, user: User, brand_id: str | None) -> list[dict[str, Any]]:
    query = select(Subscription).where(Subscription.patient_id == user.id)
    if brand_id is not None:
        query = query.where(Subscription.brand_id == brand_id)
    return [{
        "brand": s.brand_id, "plan": s.plan_key, "stripe_subscription": s.subscription_id,
        "status": s.status, "cancel_at_period_end": s.cancel_at_period_end,
        "current_period_end": _iso(s.current_period_end), "ended_at": _iso(s.ended_at),
        "cancel_requested_at": _iso(s.cancel_requested_at),
        "last_event_at": s.last_event_at.isoformat(), "created_at": s.created_at.isoformat(),
    } for s in session.scalars(query.order_by(Subscription.id))]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def erase_data(session: Session, user: User, scope: str = "all") -> Mapping[str, int]:
    """Payments are kept under legal obligation: restricted, counted as kept."""
    if scope not in ("all", "payments"):
        return {}
    who = Payment.specialist_id if user.role == "specialist" else Payment.patient_id
    kept = session.scalar(select(func.count(Payment.id)).where(who == user.id)) or 0
    if user.role == "specialist":
        return {"kept:payments": int(kept)}
    session.execute(update(Payment).where(Payment.patient_id == user.id,
                                          Payment.restricted_at.is_(None))
                    .values(restricted_at=clock.now())
                    .execution_options(synchronize_session=False))
    ended = session.execute(delete(Subscription).where(
        Subscription.patient_id == user.id, Subscription.status.in_(ENDED))
        .execution_options(synchronize_session=False)).rowcount
    running = session.scalar(select(func.count(Subscription.id)).where(
        Subscription.patient_id == user.id)) or 0
    counts = {"kept:payments": int(kept)}
    if ended:
        counts["subscriptions"] = int(ended)
    if running:
        counts["kept:subscriptions"] = int(running)
    return counts
