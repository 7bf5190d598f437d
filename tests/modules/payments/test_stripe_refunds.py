# ruff: noqa: F811  (pytest fixtures imported from stripe_fixtures are parameters here)
"""Refunds through Stripe under the brand's cancellation policy, from the cancellation flow:
the exact refund request, the ledger entry under Stripe's refund id, and the later
``charge.refunded`` webhook listing the same refund changing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.platform import Platform
from modules.payments import ledger, services
from modules.payments.models import LedgerEntry
from modules.payments.webhooks import process
from tests.modules.payments.conftest import configured
from tests.modules.payments.stripe_fixtures import (  # noqa: F401
    Held,
    event,
    paid_session,
    recorder,
    seed_held,
    sign,
    stripe_env,
    with_stripe,
)
from tests.modules.payments.stripe_recorder import RecordingHTTPClient, fixture


def brand_with(platform: Platform, policy: str) -> BrandConfig:
    base = with_stripe(platform.brands["wellness-corp"].loaded.config, "platform")
    return configured(base, refund_inside_window=policy, partial_refund_percent=50)


def paid(db: Session, brand: BrandConfig) -> Held:
    held = seed_held(db, brand)
    held.payment.provider_account = None
    body = event("checkout.session.completed", paid_session(held))
    assert process(db, brand, body, sign(body)).status == "processed"
    assert held.payment.status == "paid"
    return held


@pytest.mark.parametrize(("policy", "status", "refunded"), [
    ("partial", "late_cancelled", 4750),
    ("full", "late_cancelled", 9500),
    ("none", "cancelled", 9500),  # a free cancellation is always refunded in full
])
def test_cancellation_refunds_through_stripe_by_policy(
        db: Session, platform: Platform, recorder: RecordingHTTPClient, policy: str,
        status: str, refunded: int) -> None:
    brand = brand_with(platform, policy)
    held = paid(db, brand)
    refund_id = fixture("refund")["id"]
    held.appointment.status = status
    services.appointment_cancelled(db, brand, held.appointment)

    call = recorder.only("POST", "/v1/refunds")
    p = held.payment
    assert call.params["payment_intent"] == f"pi_for_{p.id}"
    assert call.params["amount"] == str(refunded)
    assert call.headers["Idempotency-Key"] == f"refund-{p.idempotency_key}-0-{refunded}"
    assert (p.refunded_minor, p.status) == (
        refunded, "refunded" if refunded == 9500 else "partially_refunded")
    assert ledger.transaction_posted(db, f"refund:{refund_id}")

    # Stripe then reports the refund it made: the same id, nothing new
    recorder.answer("GET", "/v1/refunds", {
        "object": "list", "url": "/v1/refunds", "has_more": False,
        "data": [fixture("refund", id=refund_id, amount=refunded, status="succeeded")]})
    charge = fixture("charge", id=f"ch_for_{p.id}", amount=9500, currency="eur", paid=True,
                     payment_intent=f"pi_for_{p.id}", amount_refunded=refunded)
    body = event("charge.refunded", charge)
    assert process(db, brand, body, sign(body)).status == "ignored"
    assert p.refunded_minor == refunded
    entries = db.scalars(select(LedgerEntry).where(LedgerEntry.payment_id == p.id)).all()
    assert {e.transaction_key for e in entries} == {f"payment:{p.id}", f"refund:{refund_id}"}
    assert ledger.unbalanced_payments(db, "wellness-corp") == []


def test_no_refund_inside_the_window_calls_nothing(
        db: Session, platform: Platform, recorder: RecordingHTTPClient) -> None:
    brand = brand_with(platform, "none")
    held = paid(db, brand)
    held.appointment.status = "late_cancelled"
    services.appointment_cancelled(db, brand, held.appointment)
    assert recorder.posts("/v1/refunds") == []
    assert (held.payment.status, held.payment.refunded_minor) == ("paid", 0)


def test_staff_refund_goes_through_stripe(
        db: Session, platform: Platform, recorder: RecordingHTTPClient,
        create_user: Any) -> None:
    brand = brand_with(platform, "none")
    held = paid(db, brand)
    staff = create_user(role="org_admin", brand="wellness-corp")
    services.refund(db, staff, brand, held.payment.id, 2500, reason="goodwill")
    call = recorder.only("POST", "/v1/refunds")
    assert call.params["amount"] == "2500"
    assert call.params["metadata[reason]"] == "goodwill"
    assert held.payment.status == "partially_refunded"
