"""Packages and subscriptions: buying prepaid sessions, and the credits a paid purchase grants.

A package purchase grants one credit of N sessions valid ``valid_days``; a subscription grants
one credit per monthly period with ``sessions_per_period`` sessions (the first when the first
month is paid; later periods when the provider reports the renewal, through
:func:`grant_period`). A credit is granted once per source (unique ``source_key``).
"""

from __future__ import annotations

import calendar
import uuid
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.web import UserError
from modules.payments import money
from modules.payments.models import Credit, Payment
from modules.payments.providers import provider_for


def _offer(brand: BrandConfig, kind: str, key: str):  # type: ignore[no-untyped-def]
    offers = brand.pricing.packages if kind == "package" else brand.pricing.subscriptions
    offer = next((o for o in offers if o.key == key), None)
    if offer is None or brand.pricing.strategy != kind:
        raise UserError(str(_l("There is no such offer here.")), code="not_found",
                        field="offer", status=404)
    return offer


def buy(session: Session, actor: User, brand: BrandConfig, kind: str, key: str) -> Payment:
    """The patient buys a package or the first month of a subscription: a payment to make
    (held while they pay online, pending at the clinic); the sessions come once it is paid."""
    from modules.payments.services import _require_settings, _settle, platform_fee

    settings = _require_settings(brand)
    if actor.role != "patient":
        raise UserError(str(_l("Only patients can buy sessions.")), code="forbidden",
                        status=403)
    offer = _offer(brand, kind, key)
    price = offer.price if kind == "package" else offer.price_per_month
    amount = money.to_minor(price, brand.currency)
    provider = provider_for(brand)
    now = clock.now()
    payment = Payment(
        brand_id=brand.slug, purpose=kind, patient_id=actor.id, payer="patient",
        amount_minor=amount, list_price_minor=amount, currency=brand.currency,
        platform_fee_minor=platform_fee(brand, amount), pricing_rule=f"{kind}_purchase",
        offer_key=key, provider=provider.name, status="pending",
        idempotency_key=f"{brand.slug}:{kind}:{uuid.uuid4().hex}")
    if provider.collects_online:
        payment.status = "held"
        payment.hold_expires_at = now + timedelta(minutes=settings.hold_minutes)
    session.add(payment)
    session.flush()
    if amount == 0:
        _settle(session, brand, payment)
    return payment


def _grant(session: Session, brand: BrandConfig, *, patient_id: int, kind: str, key: str,
           sessions: int, starts_at: datetime, expires_at: datetime,
           source_key: str) -> Credit | None:
    if session.scalar(select(Credit.id).where(Credit.source_key == source_key)
                      .execution_options(all_brands=True)) is not None:
        return None
    credit = Credit(brand_id=brand.slug, patient_id=patient_id, kind=kind, offer_key=key,
                    sessions_total=sessions, starts_at=starts_at, expires_at=expires_at,
                    source_key=source_key)
    try:
        with session.begin_nested():
            session.add(credit)
            session.flush()
    except IntegrityError:
        return None  # granted by a concurrent delivery of the same event
    return credit


def grant_for(session: Session, brand: BrandConfig, payment: Payment) -> Credit | None:
    """The credit a paid package or subscription purchase grants (once)."""
    if payment.purpose == "appointment" or payment.offer_key is None:
        return None
    offer = _offer(brand, payment.purpose, payment.offer_key)
    start = payment.paid_at or clock.now()
    if payment.purpose == "package":
        return _grant(session, brand, patient_id=payment.patient_id, kind="package",
                      key=offer.key, sessions=offer.sessions, starts_at=start,
                      expires_at=start + timedelta(days=offer.valid_days),
                      source_key=f"payment:{payment.id}")
    return grant_period(session, brand, patient_id=payment.patient_id, key=offer.key,
                        starts_at=start, source_key=f"payment:{payment.id}")


def one_month_after(at: datetime) -> datetime:
    """The same day and time next month (the month's last day when it is shorter)."""
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return at.replace(year=year, month=month,
                      day=min(at.day, calendar.monthrange(year, month)[1]))


def grant_period(session: Session, brand: BrandConfig, *, patient_id: int, key: str,
                 starts_at: datetime, source_key: str,
                 ends_at: datetime | None = None) -> Credit | None:
    """One monthly period of subscription ``key`` (e.g. from a provider's paid invoice, whose
    id is the ``source_key``): ``sessions_per_period`` sessions until ``ends_at`` (default: one
    calendar month later). Idempotent by ``source_key``."""
    offer = _offer(brand, "subscription", key)
    return _grant(session, brand, patient_id=patient_id, kind="subscription", key=key,
                  sessions=offer.sessions_per_period, starts_at=starts_at,
                  expires_at=ends_at or one_month_after(starts_at),
                  source_key=source_key)


def credits_of(session: Session, brand: BrandConfig, patient_id: int) -> list[Credit]:
    """The patient's credits on the brand that have not expired, soonest first."""
    return list(session.scalars(select(Credit).where(
        Credit.brand_id == brand.slug, Credit.patient_id == patient_id,
        Credit.expires_at > clock.now()).order_by(Credit.expires_at, Credit.id)))
