"""Pricing: what one appointment costs a patient under the brand's YAML ``pricing``, and who pays.

Rules, first that applies wins (the rule is recorded on the payment as ``pricing_rule``):

1. **sponsored** — the patient belongs to an organization named under ``pricing.sponsored`` and
   has sessions left this calendar year (brand time zone, year of the appointment): the
   organization pays the list price. Once the year's sessions are used, the member pays the
   rule's ``member_price`` (**member_price**), or the normal price when it has none.
2. **package** / **subscription** — the brand sells prepaid sessions and the patient holds a
   credit valid at the appointment's time with sessions left: nothing to pay.
3. the appointment type's price (**fixed**, or **specialist_defined** where specialists name
   their own price within the brand's bounds: booking keeps it on the type), less the
   **first_session** promotion when the brand has one and the patient has never used it here
   (once per patient per brand; the percentage is rounded half to even, an amount off never
   takes the price below zero).

:func:`quote` only reads (for showing the price before booking); :func:`reserve` takes what the
rule consumes (a sponsored session, a credit's session, the promotion) with race-safe
conditional updates and unique constraints, falling back to the next rule when another
booking took the last one first. :func:`release` gives them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.config.models import SponsoredRule
from engine.identity.models import User
from modules.payments import money
from modules.payments.models import Credit, Payment, PromotionUse, SponsoredUsage


@dataclass(frozen=True)
class Quote:
    """The price of one appointment for one patient, and the rule that set it."""

    amount_minor: int
    list_price_minor: int
    currency: str
    rule: str
    payer: str = "patient"
    organization: str | None = None
    credit_id: int | None = None
    sponsored_year: int | None = None

    @property
    def discount_minor(self) -> int:
        return self.list_price_minor - self.amount_minor


def sponsored_rule(brand: BrandConfig, patient: User) -> SponsoredRule | None:
    """The brand's sponsorship rule for the patient's organization, if any."""
    if not patient.organization:
        return None
    return next((r for r in brand.pricing.sponsored if r.organization == patient.organization),
                None)


def sponsored_year(brand: BrandConfig, start_at: datetime) -> int:
    """The calendar year (in the brand's zone) a session at ``start_at`` counts against."""
    return start_at.astimezone(ZoneInfo(brand.timezone)).year


def sponsored_used(session: Session, brand: BrandConfig, organization: str, patient_id: int,
                   year: int) -> int:
    """Sessions ``organization`` has paid for the patient in ``year`` on ``brand``."""
    return session.scalar(select(SponsoredUsage.used).where(
        SponsoredUsage.brand_id == brand.slug, SponsoredUsage.organization == organization,
        SponsoredUsage.patient_id == patient_id, SponsoredUsage.year == year)) or 0


def _credit_kind(brand: BrandConfig) -> str | None:
    return {"package": "package", "subscription": "subscription"}.get(brand.pricing.strategy)


def usable_credit(session: Session, brand: BrandConfig, patient_id: int,
                  at: datetime) -> Credit | None:
    """The patient's credit that expires first among those valid at ``at`` with sessions left."""
    kind = _credit_kind(brand)
    if kind is None:
        return None
    return session.scalar(select(Credit).where(
        Credit.brand_id == brand.slug, Credit.patient_id == patient_id, Credit.kind == kind,
        Credit.starts_at <= at, Credit.expires_at > at,
        Credit.sessions_used < Credit.sessions_total)
        .order_by(Credit.expires_at, Credit.id))


def promotion_used(session: Session, brand: BrandConfig, patient_id: int) -> bool:
    return session.scalar(select(PromotionUse.id).where(
        PromotionUse.brand_id == brand.slug, PromotionUse.patient_id == patient_id)) is not None


def _base_rule(brand: BrandConfig) -> str:
    return "specialist_defined" if brand.pricing.strategy == "specialist_defined" else "fixed"


def promotion_price(brand: BrandConfig, list_minor: int, currency: str) -> int | None:
    """The list price less the brand's first-session promotion (None: the brand has none)."""
    promo = brand.pricing.first_session
    if promo is None:
        return None
    if promo.percent_off is not None:
        return list_minor - min(list_minor, money.percent_of(list_minor, promo.percent_off))
    assert promo.amount_off is not None
    return max(0, list_minor - money.to_minor(promo.amount_off, currency))


def quote(session: Session, brand: BrandConfig, patient: User, list_price_minor: int,
          currency: str, start_at: datetime) -> Quote:
    """The price the patient would pay for a session at ``start_at`` listed at
    ``list_price_minor`` (reads only; :func:`reserve` decides under concurrency)."""
    return _decide(session, brand, patient, list_price_minor, currency, start_at, reserve=None)


def reserve(session: Session, brand: BrandConfig, patient: User, list_price_minor: int,
            currency: str, start_at: datetime, appointment_id: int) -> Quote:
    """Price the appointment and take what its rule consumes (caller's transaction)."""
    return _decide(session, brand, patient, list_price_minor, currency, start_at,
                   reserve=appointment_id)


def _decide(session: Session, brand: BrandConfig, patient: User, list_minor: int,
            currency: str, start_at: datetime, *, reserve: int | None) -> Quote:
    rule = sponsored_rule(brand, patient)
    if rule is not None:
        year = sponsored_year(brand, start_at)
        if _take_sponsored(session, brand, rule, patient.id, year, reserve):
            return Quote(list_minor, list_minor, currency, "sponsored", payer="organization",
                         organization=rule.organization, sponsored_year=year)
        if rule.member_price is not None:
            return Quote(money.to_minor(rule.member_price, currency), list_minor, currency,
                         "member_price")
    credit = usable_credit(session, brand, patient.id, start_at)
    if credit is not None and (reserve is None or _take_credit(session, credit)):
        return Quote(0, list_minor, currency, credit.kind, credit_id=credit.id)
    promoted = promotion_price(brand, list_minor, currency)
    if promoted is not None and not promotion_used(session, brand, patient.id) and (
            reserve is None or _take_promotion(session, brand, patient.id, reserve)):
        return Quote(promoted, list_minor, currency, "first_session")
    return Quote(list_minor, list_minor, currency, _base_rule(brand))


def _take_sponsored(session: Session, brand: BrandConfig, rule: SponsoredRule, patient_id: int,
                    year: int, reserve: int | None) -> bool:
    if reserve is None:
        used = sponsored_used(session, brand, rule.organization, patient_id, year)
        return used < rule.sessions_per_year
    if rule.sessions_per_year == 0:
        return False
    key = dict(brand_id=brand.slug, organization=rule.organization, patient_id=patient_id,
               year=year)
    if session.scalar(select(SponsoredUsage.id).filter_by(**key)) is None:
        try:
            with session.begin_nested():
                session.add(SponsoredUsage(**key, used=0))
                session.flush()
        except IntegrityError:
            pass  # another booking created the row first: use it
    # one conditional increment: two bookings racing for the last session cannot both win
    done = session.execute(
        update(SponsoredUsage).filter_by(**key)
        .where(SponsoredUsage.used < rule.sessions_per_year)
        .values(used=SponsoredUsage.used + 1)
        .execution_options(synchronize_session=False))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def _take_credit(session: Session, credit: Credit) -> bool:
    done = session.execute(
        update(Credit).where(Credit.id == credit.id,
                             Credit.sessions_used < Credit.sessions_total)
        .values(sessions_used=Credit.sessions_used + 1)
        .execution_options(synchronize_session=False))
    session.expire(credit)
    return bool(done.rowcount)  # type: ignore[attr-defined]


def _take_promotion(session: Session, brand: BrandConfig, patient_id: int,
                    appointment_id: int) -> bool:
    try:
        with session.begin_nested():
            session.add(PromotionUse(brand_id=brand.slug, patient_id=patient_id,
                                     appointment_id=appointment_id))
            session.flush()
    except IntegrityError:
        return False  # used already (perhaps by a booking racing this one)
    return True


def release(session: Session, brand: BrandConfig, payment: Payment,
            start_at: datetime) -> None:
    """Give back what ``payment``'s rule consumed (its appointment was cancelled with a full
    refund, or its hold expired): the sponsored session, the credit's session, the promotion."""
    if payment.pricing_rule == "sponsored" and payment.organization:
        session.execute(
            update(SponsoredUsage).where(
                SponsoredUsage.brand_id == brand.slug,
                SponsoredUsage.organization == payment.organization,
                SponsoredUsage.patient_id == payment.patient_id,
                SponsoredUsage.year == sponsored_year(brand, start_at),
                SponsoredUsage.used > 0)
            .values(used=SponsoredUsage.used - 1).execution_options(synchronize_session=False))
    elif payment.pricing_rule in ("package", "subscription") and payment.credit_id:
        session.execute(
            update(Credit).where(Credit.id == payment.credit_id, Credit.sessions_used > 0)
            .values(sessions_used=Credit.sessions_used - 1)
            .execution_options(synchronize_session=False))
    elif payment.pricing_rule == "first_session" and payment.appointment_id:
        session.execute(delete(PromotionUse).where(
            PromotionUse.appointment_id == payment.appointment_id)
            .execution_options(synchronize_session=False))
