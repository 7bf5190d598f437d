"""Payments data: one payment per appointment (or per package / subscription purchase), an
append-only ledger, prepaid credits (packages, subscription periods), sponsored-session usage
per member per year and first-session promotion use (once per patient per brand).

Money is integer minor units plus an ISO currency everywhere (see :mod:`modules.payments.money`).
Ledger rows are never updated or deleted: a correction is a new entry.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.db import Base, BrandScoped

# pending: owed, no hold (manual: pay at the clinic or by invoice);
# held: the slot is held while the patient pays online, until hold_expires_at;
# paid / refunded / partially_refunded / disputed: after money moved;
# failed: the provider refused the payment; expired: the hold ran out and freed the slot;
# cancelled: the appointment was cancelled before anything was paid.
PAYMENT_STATUSES = ("pending", "held", "paid", "refunded", "partially_refunded", "disputed",
                    "failed", "expired", "cancelled")
OPEN_STATUSES = ("pending", "held")
PROVIDERS = ("manual", "stripe", "none")
# the rule that set the amount (recorded on the payment; the appointment's price is the amount)
PRICING_RULES = ("fixed", "specialist_defined", "first_session", "sponsored", "member_price",
                 "package", "subscription", "package_purchase", "subscription_purchase")
PAYERS = ("patient", "organization")
PURPOSES = ("appointment", "package", "subscription")
ENTRY_KINDS = ("charge", "platform_fee", "specialist_share", "refund", "dispute", "payout",
               "sponsored")
# payer accounts (patient, organization) and the outside world (external: a bank payout) are
# the counterparts that let each payment's entries sum to zero
ACCOUNT_TYPES = ("brand", "platform", "specialist", "organization", "patient", "external")
CREDIT_KINDS = ("package", "subscription")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({','.join(repr(v) for v in values)})"


class Payment(BrandScoped, Base):
    """What a patient (or their organization) owes for one appointment or one purchase."""

    __tablename__ = "payments_payment"
    __table_args__ = (
        CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider"),
        CheckConstraint(_in("pricing_rule", PRICING_RULES), name="pricing_rule"),
        CheckConstraint(_in("payer", PAYERS), name="payer"),
        CheckConstraint(_in("purpose", PURPOSES), name="purpose"),
        CheckConstraint("amount_minor >= 0 AND list_price_minor >= 0", name="amounts"),
        CheckConstraint("platform_fee_minor >= 0 AND platform_fee_minor <= amount_minor",
                        name="fee"),
        CheckConstraint("refunded_minor >= 0 AND refunded_minor <= amount_minor",
                        name="refunded"),
        CheckConstraint("length(currency) = 3", name="currency"),
        CheckConstraint("(purpose = 'appointment') = (appointment_id IS NOT NULL)",
                        name="appointment_purpose"),
        CheckConstraint("payer = 'patient' OR organization IS NOT NULL", name="org_payer"),
        UniqueConstraint("appointment_id"),
        UniqueConstraint("idempotency_key"),
        UniqueConstraint("checkout_session_id"),
        UniqueConstraint("payment_intent_id"),
        Index("ix_payments_payment_brand_created", "brand_id", "created_at"),
        Index("ix_payments_payment_status_hold", "status", "hold_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(12), default="appointment")
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("booking_appointment.id", ondelete="RESTRICT"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="RESTRICT"),
                                            index=True)
    specialist_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_user.id", ondelete="RESTRICT"), index=True)
    payer: Mapped[str] = mapped_column(String(12), default="patient")
    organization: Mapped[str | None] = mapped_column(String(63))  # slug of the paying employer
    amount_minor: Mapped[int]
    list_price_minor: Mapped[int]  # before promotion / sponsorship / credit
    platform_fee_minor: Mapped[int] = mapped_column(default=0)
    refunded_minor: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    pricing_rule: Mapped[str] = mapped_column(String(24))
    offer_key: Mapped[str | None] = mapped_column(String(63))  # package / subscription key
    credit_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments_credit.id", ondelete="RESTRICT"))
    provider: Mapped[str] = mapped_column(String(10))
    provider_mode: Mapped[str | None] = mapped_column(String(10))  # stripe: platform/connect
    provider_account: Mapped[str | None] = mapped_column(String(64))  # connected account id
    checkout_session_id: Mapped[str | None] = mapped_column(String(255))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    charge_id: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    hold_expires_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    restricted_at: Mapped[datetime | None]  # erasure asked: kept under legal duty, restricted
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    def __repr__(self) -> str:
        return (f"<Payment {self.id} {self.status} {self.amount_minor} {self.currency} "
                f"{self.pricing_rule} brand={self.brand_id}>")


class LedgerEntry(BrandScoped, Base):
    """One movement of money on one account. Append-only: never updated, never deleted."""

    __tablename__ = "payments_ledger_entry"
    __table_args__ = (
        CheckConstraint(_in("kind", ENTRY_KINDS), name="kind"),
        CheckConstraint(_in("account_type", ACCOUNT_TYPES), name="account_type"),
        CheckConstraint("length(currency) = 3", name="currency"),
        CheckConstraint("amount_minor <> 0", name="amount_not_zero"),
        Index("ix_payments_ledger_entry_brand_created", "brand_id", "created_at"),
        Index("ix_payments_ledger_entry_account", "account_type", "account_id"),
        UniqueConstraint("transaction_key", "kind", "account_type", "account_id",
                         name="uq_payments_ledger_entry_movement"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments_payment.id", ondelete="RESTRICT"), index=True)
    # entries posted together share a transaction key (e.g. "refund:re_123"): a retried post
    # with the same key is the same movement (unique with the account)
    transaction_key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    account_type: Mapped[str] = mapped_column(String(12))
    account_id: Mapped[str] = mapped_column(String(80))
    amount_minor: Mapped[int]  # signed: + credits the account, - debits it
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return (f"<LedgerEntry {self.id} {self.kind} {self.account_type}:{self.account_id} "
                f"{self.amount_minor:+d} {self.currency}>")


class Credit(BrandScoped, Base):
    """Prepaid sessions: a package (N sessions until it expires) or one subscription period."""

    __tablename__ = "payments_credit"
    __table_args__ = (
        CheckConstraint(_in("kind", CREDIT_KINDS), name="kind"),
        CheckConstraint("sessions_total >= 1 AND sessions_used >= 0 "
                        "AND sessions_used <= sessions_total", name="sessions"),
        CheckConstraint("starts_at < expires_at", name="period"),
        Index("ix_payments_credit_patient", "patient_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(12))
    offer_key: Mapped[str] = mapped_column(String(63))
    sessions_total: Mapped[int]
    sessions_used: Mapped[int] = mapped_column(default=0)
    starts_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # the purchase that granted it (unique: one grant per paid purchase or period)
    source_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return (f"<Credit {self.id} {self.kind}:{self.offer_key} "
                f"{self.sessions_used}/{self.sessions_total} until {self.expires_at:%Y-%m-%d}>")


class SponsoredUsage(BrandScoped, Base):
    """Sessions an organization has paid for one member in one calendar year (brand zone)."""

    __tablename__ = "payments_sponsored_usage"
    __table_args__ = (
        UniqueConstraint("brand_id", "organization", "patient_id", "year"),
        CheckConstraint("used >= 0", name="used_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization: Mapped[str] = mapped_column(String(63))
    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="RESTRICT"))
    year: Mapped[int]
    used: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return (f"<SponsoredUsage {self.organization} patient={self.patient_id} {self.year}: "
                f"{self.used}>")


class PromotionUse(BrandScoped, Base):
    """The first-session promotion, used once per patient per brand (the unique constraint is
    the guarantee; a freely cancelled appointment gives it back)."""

    __tablename__ = "payments_promotion_use"
    __table_args__ = (UniqueConstraint("brand_id", "patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="RESTRICT"))
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("booking_appointment.id", ondelete="RESTRICT"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return f"<PromotionUse patient={self.patient_id} appointment={self.appointment_id}>"


from modules.payments.models_stripe import (  # noqa: E402, F401
    StripeAccount,
    StripeEvent,
    Subscription,
)
