"""Stripe fixtures, imported by the test_stripe* and test_webhooks* files (conftest.py of this
folder belongs to the core payments tests): brand configs using Stripe in each mode (the example
YAML stays offline), the brand's secrets in the environment, and a recording HTTP client behind
every StripeClient."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.config.models import Payments
from engine.identity import services as identity
from engine.identity.models import User
from engine.platform import Platform
from modules.booking.models import Appointment, AppointmentType
from modules.payments.models import Payment
from modules.payments.models_stripe import StripeAccount
from modules.payments.stripe_client import use_http_client
from tests.conftest import PASSWORD
from tests.modules.payments.stripe_recorder import RecordingHTTPClient, fixture

SECRET_KEY = "sk_test_daraport_recorded"
WEBHOOK_SECRET = "whsec_daraport_test_secret"


def with_stripe(config: BrandConfig, mode: str, commission: str = "20") -> BrandConfig:
    """``config`` using Stripe in ``mode`` with keys named DARAPORT_TEST_* in the environment."""
    payments = Payments(provider="stripe", mode=mode, commission_percent=Decimal(commission),
                        stripe_secret_key="env:DARAPORT_TEST_STRIPE_KEY",
                        stripe_webhook_secret="env:DARAPORT_TEST_STRIPE_WEBHOOK")
    return config.model_copy(update={"payments": payments})


@pytest.fixture
def stripe_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DARAPORT_TEST_STRIPE_KEY", SECRET_KEY)
    monkeypatch.setenv("DARAPORT_TEST_STRIPE_WEBHOOK", WEBHOOK_SECRET)


@pytest.fixture
def recorder(stripe_env: None) -> Iterator[RecordingHTTPClient]:
    """Every StripeClient built during the test sends through this recorder."""
    client = RecordingHTTPClient()
    with use_http_client(client):
        yield client


@pytest.fixture
def stripe_brand(platform: Platform) -> Callable[..., BrandConfig]:
    def make(mode: str = "platform", slug: str = "acme-clinic", **kw: Any) -> BrandConfig:
        return with_stripe(platform.brands[slug].loaded.config, mode, **kw)

    return make


@pytest.fixture
def connected(db: Session) -> Callable[..., StripeAccount]:
    """Factory: a specialist's connected account on a brand (enabled unless told)."""

    def make(specialist: User, brand: str = "acme-clinic", account_id: str = "acct_spec1", *,
             status: str = "enabled", merchant_of_record: bool = False) -> StripeAccount:
        row = StripeAccount(brand_id=brand, specialist_id=specialist.id, account_id=account_id,
                            status=status, charges_enabled=status == "enabled",
                            payouts_enabled=status == "enabled",
                            details_submitted=status != "pending",
                            merchant_of_record=merchant_of_record)
        db.add(row)
        db.flush()
        return row

    return make


# --- signed events and a held payment, for webhook tests ----------------------------------------


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A Stripe-Signature header for ``payload`` (Stripe's scheme: HMAC-SHA256 of "t.body")."""
    t = int(clock.now().timestamp()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(type_: str, obj: dict[str, Any], *, account: str | None = None,
          created: int | None = None, event_id: str | None = None) -> bytes:
    """Stripe's example event, carrying ``obj`` as ``data.object``, as the raw body."""
    body = fixture("event", id=event_id or f"evt_{uuid.uuid4().hex[:16]}", type=type_,
                   created=created if created is not None else int(clock.now().timestamp()),
                   account=account, data={"object": obj})
    if account is None:
        body.pop("account", None)
    return json.dumps(body).encode()


@dataclass
class Held:
    payment: Payment
    appointment: Appointment
    specialist: User
    patient: User


def seed_held(session: Session, config: BrandConfig, amount: int = 9500,
              fee: int = 1900) -> Held:
    """A confirmed appointment on ``config``'s brand whose payment is held for online payment
    (what booking and pricing leave behind for a Stripe brand)."""
    brand = config.slug
    specialist = identity.create_user(session, config, role="specialist", name="Dr Vega",
                                      email=f"spec-{uuid.uuid4().hex[:8]}@example.com",
                                      password=PASSWORD)
    patient = identity.create_user(session, config, role="patient", name="Pat",
                                   email=f"pat-{uuid.uuid4().hex[:8]}@example.com",
                                   password=PASSWORD)
    session.flush()
    kind = AppointmentType(brand_id=brand, specialist_id=specialist.id, name="Session",
                           duration_minutes=50, modality="video", price_minor=amount,
                           currency="EUR")
    session.add(kind)
    session.flush()
    start = clock.now() + timedelta(days=3)
    end = start + timedelta(minutes=50)
    appointment = Appointment(
        brand_id=brand, specialist_id=specialist.id, patient_id=patient.id,
        appointment_type_id=kind.id, booked_by_id=patient.id, modality="video",
        start_at=start, end_at=end, blocked_start_at=start, blocked_end_at=end,
        status="confirmed", price_minor=amount, currency="EUR")
    session.add(appointment)
    session.flush()
    payment = Payment(
        brand_id=brand, purpose="appointment", appointment_id=appointment.id,
        patient_id=patient.id, specialist_id=specialist.id, amount_minor=amount,
        list_price_minor=amount, platform_fee_minor=fee, currency="EUR", status="held",
        pricing_rule="fixed", provider="stripe", provider_mode="platform",
        idempotency_key=f"{brand}:appointment:{appointment.id}",
        checkout_session_id=f"cs_test_{appointment.id}",
        hold_expires_at=clock.now() + timedelta(minutes=30))
    session.add(payment)
    session.flush()
    return Held(payment, appointment, specialist, patient)


@pytest.fixture
def held_payment(db: Session, platform: Platform) -> Callable[..., Held]:
    """Factory: ``held_payment(brand="wellness-corp", amount=9500, fee=1900)``."""

    def make(brand: str = "wellness-corp", amount: int = 9500, fee: int = 1900) -> Held:
        return seed_held(db, platform.brands[brand].loaded.config, amount, fee)

    return make


def paid_session(held: Held, **changes: Any) -> dict[str, Any]:
    """Stripe's example Checkout Session, completed and paid for ``held``'s payment."""
    p = held.payment
    fields: dict[str, Any] = dict(
        id=p.checkout_session_id, mode="payment", status="complete", payment_status="paid",
        amount_total=p.amount_minor, currency=p.currency.lower(),
        payment_intent=f"pi_for_{p.id}", client_reference_id=str(p.id),
        metadata={"payment_id": str(p.id), "brand": p.brand_id})
    return fixture("checkout.session", **{**fields, **changes})
