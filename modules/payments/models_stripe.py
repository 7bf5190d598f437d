"""Stripe-side data: each specialist's connected account on a brand, the webhook events
already processed (the unique event id is written in the same transaction as the event's effect,
so a redelivered event finds its id taken and changes nothing), and patients' subscriptions as
Stripe's events describe them.

Payments themselves are :class:`modules.payments.models.Payment` rows (their
``checkout_session_id`` / ``payment_intent_id`` / ``charge_id`` link them to Stripe).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.db import Base, BrandScoped

# pending: created, onboarding not finished; restricted: Stripe needs more information or has
# paused charges; enabled: can take charges and receive payouts; rejected: Stripe refused it.
ACCOUNT_STATUSES = ("pending", "restricted", "enabled", "rejected")
EVENT_OUTCOMES = ("processed", "ignored")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({','.join(repr(v) for v in values)})"


class StripeAccount(BrandScoped, Base):
    """A specialist's Stripe connected account on one brand (each brand is its own platform
    account, so a specialist listed on two brands onboards on each)."""

    __tablename__ = "payments_stripe_account"
    __table_args__ = (
        CheckConstraint(_in("status", ACCOUNT_STATUSES), name="status"),
        UniqueConstraint("brand_id", "specialist_id"),
        UniqueConstraint("account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    specialist_id: Mapped[int] = mapped_column(
        ForeignKey("identity_user.id", ondelete="RESTRICT"))
    account_id: Mapped[str] = mapped_column(String(64))  # acct_...
    status: Mapped[str] = mapped_column(String(12), default="pending")
    charges_enabled: Mapped[bool] = mapped_column(default=False)
    payouts_enabled: Mapped[bool] = mapped_column(default=False)
    details_submitted: Mapped[bool] = mapped_column(default=False)
    # the specialist sells in their own name: in platform mode the charge is made
    # on_behalf_of their account; in hybrid mode their appointments are direct charges
    merchant_of_record: Mapped[bool] = mapped_column(default=False)
    # what Stripe still asks for (requirements.currently_due), comma-separated field names
    requirements_due: Mapped[str] = mapped_column(String(2000), default="")
    # Stripe `created` (epoch seconds) of the event the status was last taken from: an older
    # account.updated delivered late never overwrites a newer state
    status_as_of: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    @property
    def can_charge(self) -> bool:
        return self.status == "enabled"

    def __repr__(self) -> str:
        return (f"<StripeAccount {self.account_id} {self.status} specialist={self.specialist_id} "
                f"brand={self.brand_id}>")


class StripeEvent(BrandScoped, Base):
    """A webhook event this platform has taken into account, once."""

    __tablename__ = "payments_stripe_event"
    __table_args__ = (
        CheckConstraint(_in("outcome", EVENT_OUTCOMES), name="outcome"),
        UniqueConstraint("event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255))  # evt_...
    type: Mapped[str] = mapped_column(String(80))
    account_id: Mapped[str | None] = mapped_column(String(64))  # connected account, if any
    object_id: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(10))
    event_created_at: Mapped[datetime]
    processed_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return f"<StripeEvent {self.event_id} {self.type} {self.outcome} brand={self.brand_id}>"


class Subscription(BrandScoped, Base):
    """A patient's Stripe subscription to one of the brand's plans, as Stripe last told us.

    Kept from webhook events only (``customer.subscription.*``, ``invoice.paid`` /
    ``invoice.payment_failed``): ``last_event_at`` is the Stripe ``created`` of the newest event
    taken in, so an older event delivered late never overwrites a newer state. ``status`` is
    Stripe's word, stored as given (no check constraint: a status Stripe adds later is kept, and
    shown as unknown). ``cancel_requested_at`` is ours: the patient asked Stripe to end it at the
    period's end and Stripe has not yet confirmed it through a webhook.
    """

    __tablename__ = "payments_subscription"
    __table_args__ = (UniqueConstraint("brand_id", "subscription_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("identity_user.id", ondelete="RESTRICT"), index=True)
    plan_key: Mapped[str] = mapped_column(String(63))
    subscription_id: Mapped[str] = mapped_column(String(255))  # sub_...
    # the connected account it lives on (connect mode: direct charges); None on the platform
    account_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(40))
    current_period_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    ended_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]
    last_event_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    def __repr__(self) -> str:
        return (f"<Subscription {self.subscription_id} {self.status} plan={self.plan_key} "
                f"patient={self.patient_id} brand={self.brand_id}>")
