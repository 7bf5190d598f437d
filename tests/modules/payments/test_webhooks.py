# ruff: noqa: F811  (pytest fixtures imported from stripe_fixtures are parameters here)
"""Stripe webhooks on a brand's endpoint: verified on the raw body, applied once, in any order,
and only for the brand's own money. Outgoing re-fetches go through the recording client."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from modules.booking.models import Appointment
from modules.payments import ledger
from modules.payments.models import LedgerEntry, Payment
from modules.payments.models_stripe import StripeEvent
from tests.modules.payments.stripe_fixtures import (  # noqa: F401
    WEBHOOK_SECRET,
    Held,
    connected,
    event,
    held_payment,
    paid_session,
    sign,
)
from tests.modules.payments.stripe_recorder import RecordingHTTPClient, fixture

URL = "/payments/stripe/webhook"


@pytest.fixture
def wellness_stripe(monkeypatch: pytest.MonkeyPatch) -> RecordingHTTPClient:
    """wellness-corp's YAML names WELLNESS_STRIPE_KEY / _WEBHOOK: set them, record calls."""
    from modules.payments.stripe_client import use_http_client

    monkeypatch.setenv("WELLNESS_STRIPE_KEY", "sk_test_wellness")
    monkeypatch.setenv("WELLNESS_STRIPE_WEBHOOK", WEBHOOK_SECRET)
    client = RecordingHTTPClient()
    with use_http_client(client):
        yield client  # type: ignore[misc]


@pytest.fixture
def deliver(client_for: Callable[..., Any]) -> Callable[..., Any]:
    def post(body: bytes, signature: str | None = None, brand: str = "wellness-corp") -> Any:
        headers = {"Stripe-Signature": signature if signature is not None else sign(body)}
        return client_for(brand).post(URL, data=body, headers=headers,
                                      content_type="application/json")

    return post


def snapshot(db: Session, payment: Payment) -> tuple[Any, ...]:
    db.expire_all()
    fresh = db.get(Payment, payment.id)
    assert fresh is not None
    entries = db.scalar(select(func.count(LedgerEntry.id)))
    events = db.scalar(select(func.count(StripeEvent.id)))
    return fresh.status, fresh.refunded_minor, entries, events


def test_a_valid_event_is_processed_once_when_delivered_three_times(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    body = event("checkout.session.completed", paid_session(held))
    answers = [deliver(body) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json["status"] for a in answers] == ["processed", "duplicate", "duplicate"]
    db.expire_all()
    payment = db.get(Payment, held.payment.id)
    assert payment.status == "paid"
    assert payment.payment_intent_id == f"pi_for_{payment.id}"
    entries = db.scalars(select(LedgerEntry).where(LedgerEntry.payment_id == payment.id)).all()
    assert {e.transaction_key for e in entries} == {f"payment:{payment.id}"}
    assert ledger.balance(db, "wellness-corp", "specialist", str(held.specialist.id),
                          "EUR") == 9500 - 1900
    assert ledger.balance(db, "wellness-corp", "platform", "platform", "EUR") == 1900
    assert db.scalar(select(func.count(StripeEvent.id))) == 1
    assert wellness_stripe.calls == []  # nothing needed re-fetching


def test_bad_signature_is_refused_and_changes_nothing(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    before = snapshot(db, held.payment)
    body = event("checkout.session.completed", paid_session(held))
    answer = deliver(body, sign(body, secret="whsec_someone_else"))
    assert answer.status_code == 400
    assert answer.json["error"] == "bad_signature"
    tampered = body.replace(b'"payment_status": "paid"', b'"payment_status": "paid" ')
    assert deliver(tampered, sign(body)).status_code == 400
    assert deliver(body, "").status_code == 400
    assert snapshot(db, held.payment) == before


def test_stale_timestamp_is_refused_and_changes_nothing(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    before = snapshot(db, held.payment)
    body = event("checkout.session.completed", paid_session(held))
    now = int(clock.now().timestamp())
    answer = deliver(body, sign(body, at=now - 301))
    assert answer.status_code == 400
    assert answer.json["error"] == "stale"
    assert snapshot(db, held.payment) == before
    assert deliver(body, sign(body, at=now - 299)).json["status"] == "processed"


def test_unknown_event_type_is_ignored_and_changes_nothing(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    before = snapshot(db, held.payment)
    answer = deliver(event("customer.created", fixture("customer")))
    assert answer.status_code == 200
    assert answer.json["status"] == "ignored"
    assert snapshot(db, held.payment) == before


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"object": "event", "id": 1}',
                                  json.dumps(fixture("checkout.session")).encode()])
def test_malformed_body_with_a_good_signature_is_refused(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment,
        body: bytes) -> None:
    held: Held = held_payment()
    before = snapshot(db, held.payment)
    answer = deliver(body)
    assert answer.status_code == 400
    assert answer.json["error"] == "malformed"
    assert snapshot(db, held.payment) == before


def test_another_brands_connected_account_is_ignored(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment,
        connected) -> None:
    held: Held = held_payment()
    other = held_payment(brand="acme-clinic")
    connected(other.specialist, brand="acme-clinic", account_id="acct_acme_only",
              status="pending")
    before = snapshot(db, held.payment)
    account = fixture("account", id="acct_acme_only", charges_enabled=True,
                      payouts_enabled=True, details_submitted=True)
    answers = [
        deliver(event("account.updated", account, account="acct_acme_only")),
        # a payment of another brand, on this brand's endpoint
        deliver(event("checkout.session.completed", paid_session(other))),
        # an account nobody here has
        deliver(event("charge.refunded", fixture("charge"), account="acct_unknown")),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert {a.json["status"] for a in answers} == {"ignored"}
    assert snapshot(db, held.payment) == before
    assert snapshot(db, other.payment)[0] == "held"
    assert wellness_stripe.calls == []


def refunds_list(charge_id: str, *refunds: tuple[str, int]) -> dict[str, Any]:
    return {"object": "list", "url": "/v1/refunds", "has_more": False,
            "data": [fixture("refund", id=rid, amount=amount, charge=charge_id,
                             status="succeeded") for rid, amount in refunds]}


def refunded_charge(held: Held, refunded: int) -> dict[str, Any]:
    p = held.payment
    return fixture("charge", id=f"ch_for_{p.id}", amount=p.amount_minor, currency="eur",
                   paid=True, status="succeeded", captured=True,
                   payment_intent=f"pi_for_{p.id}", amount_refunded=refunded,
                   refunded=refunded == p.amount_minor, metadata={})


def test_charge_refunded_before_checkout_completed_ends_refunded(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    p = held.payment
    intent = fixture("payment_intent", id=f"pi_for_{p.id}", amount=p.amount_minor,
                     metadata={"payment_id": str(p.id), "brand": "wellness-corp"})
    wellness_stripe.answer("GET", f"/v1/payment_intents/pi_for_{p.id}", intent)
    wellness_stripe.answer("GET", "/v1/refunds", refunds_list(f"ch_for_{p.id}",
                                                              ("re_full", 9500)))
    now = int(clock.now().timestamp())
    first = deliver(event("charge.refunded", refunded_charge(held, 9500), created=now))
    late = deliver(event("checkout.session.completed", paid_session(held), created=now - 60))

    assert (first.json["status"], late.json["status"]) == ("processed", "ignored")
    db.expire_all()
    payment = db.get(Payment, p.id)
    assert (payment.status, payment.refunded_minor) == ("refunded", 9500)
    keys = sorted(e.transaction_key for e in db.scalars(
        select(LedgerEntry).where(LedgerEntry.payment_id == p.id)))
    assert set(keys) == {f"payment:{p.id}", "refund:re_full"}
    assert ledger.balance(db, "wellness-corp", "patient", str(held.patient.id), "EUR") == 0
    assert ledger.balance(db, "wellness-corp", "specialist", str(held.specialist.id),
                          "EUR") == 0
    assert ledger.unbalanced_payments(db, "wellness-corp") == []
    refetch = wellness_stripe.only("GET", "/v1/refunds")
    assert refetch.params == {"charge": f"ch_for_{p.id}", "limit": "100"}


def test_partial_refunds_in_any_order_add_up_once_each(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    p = held.payment
    deliver(event("checkout.session.completed", paid_session(held)))
    wellness_stripe.answer("GET", "/v1/refunds", refunds_list(
        f"ch_for_{p.id}", ("re_b", 2000), ("re_a", 1000)))
    # the second refund's event arrives first; it already lists both refunds
    second = deliver(event("charge.refunded", refunded_charge(held, 3000)))
    first = deliver(event("charge.refunded", refunded_charge(held, 1000)))
    assert (second.json["status"], first.json["status"]) == ("processed", "ignored")
    db.expire_all()
    payment = db.get(Payment, p.id)
    assert (payment.status, payment.refunded_minor) == ("partially_refunded", 3000)
    assert ledger.balance(db, "wellness-corp", "patient", str(held.patient.id),
                          "EUR") == -(9500 - 3000)
    assert ledger.unbalanced_payments(db, "wellness-corp") == []


def test_dispute_posts_a_chargeback_once(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    p = held.payment
    deliver(event("checkout.session.completed", paid_session(held)))
    dispute = fixture("dispute", id="dp_1", amount=9500, currency="eur",
                      charge=f"ch_for_{p.id}", payment_intent=f"pi_for_{p.id}")
    body = event("charge.dispute.created", dispute)
    assert [deliver(body).json["status"] for _ in range(2)] == ["processed", "duplicate"]
    db.expire_all()
    payment = db.get(Payment, p.id)
    assert (payment.status, payment.refunded_minor) == ("disputed", 9500)
    assert ledger.transaction_posted(db, "dispute:dp_1")
    assert ledger.unbalanced_payments(db, "wellness-corp") == []


def test_async_payment_failure_marks_the_payment_failed(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    pending = paid_session(held, payment_status="unpaid")
    assert deliver(event("checkout.session.completed", pending)).json["status"] == "ignored"
    assert deliver(event("checkout.session.async_payment_failed", pending)).json[
        "status"] == "processed"
    db.expire_all()
    assert db.get(Payment, held.payment.id).status == "failed"


def test_amount_that_differs_from_the_payment_is_not_confirmed(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    answer = deliver(event("checkout.session.completed", paid_session(held, amount_total=1)))
    assert answer.json["status"] == "ignored"
    db.expire_all()
    assert db.get(Payment, held.payment.id).status == "held"


def test_account_updated_keeps_the_newest_state(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment,
        connected) -> None:
    held: Held = held_payment()
    row = connected(held.specialist, brand="wellness-corp", account_id="acct_w",
                    status="pending")
    now = int(clock.now().timestamp())
    enabled = fixture("account", id="acct_w", charges_enabled=True, payouts_enabled=True,
                      details_submitted=True)
    stale = fixture("account", id="acct_w", charges_enabled=False, payouts_enabled=False,
                    details_submitted=False)
    assert deliver(event("account.updated", enabled, account="acct_w",
                         created=now)).json["status"] == "processed"
    assert deliver(event("account.updated", stale, account="acct_w",
                         created=now - 30)).json["status"] == "ignored"
    db.expire_all()
    assert db.get(type(row), row.id).status == "enabled"


def test_missing_webhook_secret_answers_503_so_stripe_retries(
        db: Session, deliver, held_payment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WELLNESS_STRIPE_WEBHOOK", raising=False)
    held: Held = held_payment()
    answer = deliver(event("checkout.session.completed", paid_session(held)))
    assert answer.status_code == 503
    db.expire_all()
    assert db.get(Payment, held.payment.id).status == "held"


def test_a_brand_without_stripe_has_no_webhook(db: Session, deliver) -> None:
    body = event("checkout.session.completed", fixture("checkout.session"))
    assert deliver(body, brand="acme-clinic").status_code == 404


def test_stripe_unreachable_during_a_refetch_answers_503_and_keeps_nothing(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    before = snapshot(db, held.payment)
    wellness_stripe.fail("GET", f"/v1/payment_intents/pi_for_{held.payment.id}", 500)
    answer = deliver(event("charge.refunded", refunded_charge(held, 9500)))
    assert answer.status_code == 503
    assert answer.json["error"] == "stripe_unavailable"
    assert snapshot(db, held.payment) == before  # no event row: Stripe's retry will apply it


def test_a_charge_whose_intent_stripe_does_not_know_is_ignored(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    wellness_stripe.fail("GET", f"/v1/payment_intents/pi_for_{held.payment.id}", 404,
                         "invalid_request_error")
    answer = deliver(event("charge.refunded", refunded_charge(held, 9500)))
    assert (answer.status_code, answer.json["status"]) == (200, "ignored")
    db.expire_all()
    assert db.get(Payment, held.payment.id).status == "held"


def test_checkout_expired_frees_a_hold_that_has_run_out(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    running = deliver(event("checkout.session.expired", paid_session(
        held, status="expired", payment_status="unpaid")))
    assert running.json["status"] == "ignored"  # our hold still runs: its own expiry frees it
    held.payment.hold_expires_at = clock.now() - timedelta(minutes=1)
    db.flush()
    answer = deliver(event("checkout.session.expired", paid_session(
        held, status="expired", payment_status="unpaid")))
    assert answer.json["status"] == "processed"
    db.expire_all()
    assert db.get(Payment, held.payment.id).status == "expired"
    assert db.get(Appointment, held.appointment.id).status == "cancelled"


def test_a_declined_card_inside_checkout_leaves_the_hold_for_a_retry(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver, held_payment) -> None:
    held: Held = held_payment()
    intent = fixture("payment_intent", id="pi_declined", status="requires_payment_method",
                     metadata={"payment_id": str(held.payment.id), "brand": "wellness-corp"})
    answer = deliver(event("payment_intent.payment_failed", intent))
    assert answer.json["status"] == "ignored"
    db.expire_all()
    assert db.get(Payment, held.payment.id).status == "held"


def test_an_oversized_body_is_refused_unread(
        db: Session, wellness_stripe: RecordingHTTPClient, deliver) -> None:
    body = b'{"object": "event", "pad": "' + b"x" * (600 * 1024) + b'"}'
    assert deliver(body).status_code == 413
    assert db.scalar(select(func.count(StripeEvent.id))) == 0
