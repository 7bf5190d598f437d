"""Subscription fixtures, imported by test_subscriptions*.py: wellness-corp (a Stripe brand) with
its secrets in the environment and a recording HTTP client behind every StripeClient, a
patient's first subscription payment (whose id Stripe carries back in the metadata), Stripe's
example subscription and invoice objects for it, and a signed delivery through the webhook."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.platform import Platform
from modules.payments.models import Payment
from modules.payments.models_stripe import Subscription
from modules.payments.stripe_client import use_http_client
from modules.payments.webhooks import process
from tests.modules.payments.conftest import configured
from tests.modules.payments.stripe_fixtures import SECRET_KEY, WEBHOOK_SECRET, event, sign
from tests.modules.payments.stripe_recorder import RecordingHTTPClient, fixture

SUB = "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"  # the id of Stripe's example subscription


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingHTTPClient]:
    """wellness-corp's own variables and the test brands' (``with_stripe``) set; every
    StripeClient built in the test sends through the returned recorder."""
    for name, value in (("WELLNESS_STRIPE_KEY", SECRET_KEY),
                        ("WELLNESS_STRIPE_WEBHOOK", WEBHOOK_SECRET),
                        ("DARAPORT_TEST_STRIPE_KEY", SECRET_KEY),
                        ("DARAPORT_TEST_STRIPE_WEBHOOK", WEBHOOK_SECRET)):
        monkeypatch.setenv(name, value)
    client = RecordingHTTPClient()
    with use_http_client(client):
        yield client


PLAN = {"key": "monthly", "name": "Monthly care", "sessions_per_period": 4,
        "price_per_month": "120.00"}


@pytest.fixture
def wellness(platform: Platform) -> BrandConfig:
    """wellness-corp selling plan "monthly" (its own file sponsors sessions instead), as the
    webhook sees it: renewals grant the plan's sessions."""
    return configured(platform.brands["wellness-corp"].loaded.config,
                      pricing={"strategy": "subscription", "subscriptions": [PLAN],
                               "sponsored": [], "first_session": None})


@pytest.fixture
def first_payment(db: Session, create_user: Callable[..., User]) -> Callable[..., Payment]:
    """Factory: the paid first month of plan "monthly" for a new (or the given) patient."""

    def make(patient: User | None = None, brand: str = "wellness-corp", *,
             mode: str = "platform", account: str | None = None) -> Payment:
        patient = patient or create_user(role="patient", brand=brand)
        payment = Payment(brand_id=brand, purpose="subscription", patient_id=patient.id,
                          payer="patient", amount_minor=12000, list_price_minor=12000,
                          platform_fee_minor=2400, currency="USD", status="paid",
                          pricing_rule="subscription_purchase", offer_key="monthly",
                          provider="stripe", provider_mode=mode, provider_account=account,
                          idempotency_key=f"{brand}:subscription:{patient.id}",
                          paid_at=clock.now())
        db.add(payment)
        db.flush()
        return payment

    return make


def at(days: float = 0) -> int:
    """Epoch seconds ``days`` after the frozen now (Stripe's ``created`` and period ends)."""
    return int((clock.now() + timedelta(days=days)).timestamp())


def stripe_subscription(first: Payment, *, status: str = "active", period_end: int | None = None,
                        cancel_at_period_end: bool = False, sub_id: str = SUB,
                        **changes: Any) -> dict[str, Any]:
    """Stripe's example subscription as the one ``first`` bought (its period end on the item,
    where API versions since 2025-03-31 put it)."""
    fields: dict[str, Any] = dict(
        id=sub_id, status=status, cancel_at_period_end=cancel_at_period_end,
        metadata={"payment_id": str(first.id), "brand": first.brand_id})
    obj = fixture("subscription", **{**fields, **changes})
    item = obj["items"]["data"][0]
    item["current_period_end"] = period_end if period_end is not None else at(30)
    item["current_period_start"] = at(0)
    item["subscription"] = sub_id
    return obj


def stripe_invoice(first: Payment, invoice_id: str, reason: str = "subscription_cycle", *,
                   period_end: int | None = None, sub_id: str = SUB) -> dict[str, Any]:
    """Stripe's example invoice, billing ``first``'s subscription for one period."""
    obj = fixture("invoice", id=invoice_id, billing_reason=reason, amount_paid=12000,
                  currency="usd", status="paid", metadata={},
                  parent={"type": "subscription_details", "quote_details": None,
                          "subscription_details": {
                              "metadata": {"payment_id": str(first.id),
                                           "brand": first.brand_id},
                              "subscription": sub_id}})
    line = obj["lines"]["data"][0]
    line["period"] = {"start": at(0), "end": period_end if period_end is not None else at(30)}
    return obj


def deliver(db: Session, brand: BrandConfig, type_: str, obj: dict[str, Any], *,
            created: int | None = None, account: str | None = None,
            event_id: str | None = None) -> tuple[str, str]:
    """One signed delivery to ``brand``'s webhook: (outcome, reason)."""
    body = event(type_, obj, created=created if created is not None else at(0),
                 account=account, event_id=event_id)
    outcome = process(db, brand, body, sign(body))
    db.flush()  # what the request's commit would write, for pages read by other sessions
    return outcome.status, outcome.reason


def seed(db: Session, first: Payment, *, status: str = "active",
         period_end: datetime | None = None, sub_id: str = SUB,
         account: str | None = None, **changes: Any) -> Subscription:
    """A subscription record as the webhook leaves it (for page tests)."""
    row = Subscription(brand_id=first.brand_id, patient_id=first.patient_id, plan_key="monthly",
                       subscription_id=sub_id, account_id=account, status=status,
                       current_period_end=period_end or clock.now() + timedelta(days=30),
                       cancel_at_period_end=False, last_event_at=clock.now(), **changes)
    db.add(row)
    db.flush()
    return row
