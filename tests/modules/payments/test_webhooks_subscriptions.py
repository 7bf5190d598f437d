# ruff: noqa: F811  (pytest fixtures imported from stripe_fixtures are parameters here)
"""Subscription events, through :func:`modules.payments.webhooks.process` with a brand that
sells a monthly plan: the first month from Checkout, renewals from ``invoice.paid`` (one
payment and one period each, once), failures and cancellations. The subscription record these
events keep is tested in test_subscriptions.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.platform import Platform
from modules.payments import ledger
from modules.payments.models import Credit, LedgerEntry, Payment, Subscription
from modules.payments.webhooks import process
from tests.modules.payments.conftest import configured
from tests.modules.payments.stripe_fixtures import (  # noqa: F401
    event,
    recorder,
    sign,
    stripe_env,
    with_stripe,
)
from tests.modules.payments.stripe_recorder import RecordingHTTPClient, fixture

PLAN = {"key": "monthly", "name": "Monthly care", "sessions_per_period": 4,
        "price_per_month": "120.00"}


@pytest.fixture
def brand(platform: Platform) -> BrandConfig:
    base = with_stripe(platform.brands["wellness-corp"].loaded.config, "platform")
    return configured(base, pricing={"strategy": "subscription", "subscriptions": [PLAN],
                                     "sponsored": [], "first_session": None})


@pytest.fixture
def subscription(db: Session, brand: BrandConfig,
                 create_user: Callable[..., User]) -> Payment:
    patient = create_user(role="patient", brand="wellness-corp")
    payment = Payment(brand_id=brand.slug, purpose="subscription", patient_id=patient.id,
                      payer="patient", amount_minor=12000, list_price_minor=12000,
                      platform_fee_minor=2400, currency="EUR", status="held",
                      pricing_rule="subscription_purchase", offer_key="monthly",
                      provider="stripe", provider_mode="platform",
                      idempotency_key="wellness-corp:subscription:test",
                      checkout_session_id="cs_sub", hold_expires_at=clock.now()
                      + timedelta(minutes=30))
    db.add(payment)
    db.flush()
    return payment


def deliver(db: Session, brand: BrandConfig, type_: str, obj: dict[str, Any]) -> str:
    body = event(type_, obj)
    return process(db, brand, body, sign(body)).status


def invoice(payment: Payment, invoice_id: str, reason: str, amount: int = 12000
            ) -> dict[str, Any]:
    meta = {"payment_id": str(payment.id), "brand": payment.brand_id}
    return fixture("invoice", id=invoice_id, billing_reason=reason, amount_paid=amount,
                   currency="eur", status="paid", metadata={},
                   parent={"type": "subscription_details", "quote_details": None,
                           "subscription_details": {"metadata": meta,
                                                    "subscription": "sub_1"}})


def test_first_month_then_renewals_each_once(
        db: Session, brand: BrandConfig, subscription: Payment,
        recorder: RecordingHTTPClient) -> None:
    session_obj = fixture("checkout.session", id="cs_sub", mode="subscription",
                          status="complete", payment_status="paid", amount_total=12000,
                          currency="eur", payment_intent=None, subscription="sub_1",
                          metadata={"payment_id": str(subscription.id),
                                    "brand": "wellness-corp"})
    assert deliver(db, brand, "checkout.session.completed", session_obj) == "processed"
    first_invoice = invoice(subscription, "in_first", "subscription_create")
    # already paid: the invoice only records the subscription (active), once
    assert deliver(db, brand, "invoice.paid", first_invoice) == "processed"
    assert deliver(db, brand, "invoice.paid", first_invoice) == "ignored"
    assert subscription.status == "paid"
    assert db.scalar(select(Subscription.status).where(
        Subscription.subscription_id == "sub_1")) == "active"

    renewal = invoice(subscription, "in_second", "subscription_cycle")
    assert deliver(db, brand, "invoice.paid", renewal) == "processed"
    # Stripe may send the same invoice in another event (e.g. a resend): still once
    assert deliver(db, brand, "invoice.paid", renewal) == "ignored"

    payments = db.scalars(select(Payment).where(Payment.patient_id == subscription.patient_id)
                          .order_by(Payment.id)).all()
    assert [(p.status, p.amount_minor, p.idempotency_key) for p in payments] == [
        ("paid", 12000, "wellness-corp:subscription:test"),
        ("paid", 12000, "wellness-corp:invoice:in_second")]
    assert db.scalar(select(func.count(Credit.id)).where(
        Credit.patient_id == subscription.patient_id)) == 2
    assert db.scalar(select(func.count(LedgerEntry.id)).where(
        LedgerEntry.payment_id.in_([p.id for p in payments]))) == 8
    assert ledger.balance(db, "wellness-corp", "platform", "platform", "EUR") >= 4800
    assert ledger.unbalanced_payments(db, "wellness-corp") == []
    assert recorder.calls == []


def test_a_failed_first_invoice_fails_the_purchase_and_renewal_failures_move_nothing(
        db: Session, brand: BrandConfig, subscription: Payment,
        recorder: RecordingHTTPClient) -> None:
    # a failed renewal moves no money (the subscription is recorded as overdue)
    assert deliver(db, brand, "invoice.payment_failed",
                   invoice(subscription, "in_f", "subscription_cycle")) == "processed"
    assert subscription.status == "held"
    assert db.scalar(select(func.count(LedgerEntry.id)).where(
        LedgerEntry.payment_id == subscription.id)) == 0
    assert deliver(db, brand, "invoice.payment_failed",
                   invoice(subscription, "in_first", "subscription_create")) == "processed"
    assert subscription.status == "failed"


def test_a_cancelled_subscription_before_payment_fails_the_purchase(
        db: Session, brand: BrandConfig, subscription: Payment,
        recorder: RecordingHTTPClient) -> None:
    sub = fixture("subscription", id="sub_1", status="active",
                  metadata={"payment_id": str(subscription.id), "brand": "wellness-corp"})
    assert deliver(db, brand, "customer.subscription.updated", sub) == "processed"
    assert subscription.status == "held"  # the subscription is recorded; the payment waits
    assert deliver(db, brand, "customer.subscription.deleted",
                   {**sub, "status": "canceled"}) == "processed"
    assert subscription.status == "failed"
