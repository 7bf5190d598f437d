# ruff: noqa: F811  (pytest fixtures imported from stripe_fixtures are parameters here)
"""Outgoing Stripe calls, per charge type: the exact parameters and headers the official library
sends through StripeClient (recorded, answered with Stripe's own example objects)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from modules.payments.models import Payment
from modules.payments.providers import ProviderError, provider_named
from modules.payments.stripe_client import StripeNotConfigured
from modules.payments.stripe_provider import StripeProvider
from tests.modules.payments.stripe_fixtures import (  # noqa: F401
    SECRET_KEY,
    connected,
    recorder,
    stripe_brand,
    stripe_env,
)
from tests.modules.payments.stripe_recorder import RecordingHTTPClient, fixture

NOW = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
SESSIONS = "/v1/checkout/sessions"


def payment_for(specialist: User, **changes: object) -> Payment:
    fields: dict[str, object] = dict(
        id=41, brand_id="acme-clinic", purpose="appointment", appointment_id=7, patient_id=3,
        specialist_id=specialist.id, amount_minor=6000, list_price_minor=6000,
        platform_fee_minor=1200, refunded_minor=0, currency="EUR", status="held",
        pricing_rule="fixed", provider="stripe", idempotency_key="pay-acme-41",
        hold_expires_at=NOW + timedelta(minutes=30))
    fields.update(changes)
    return Payment(**fields)


def checkout(db: Session, brand: BrandConfig, payment: Payment) -> object:
    with clock.freeze(NOW):
        return provider_named("stripe").start_checkout(
            db, brand, payment, success_url="https://acme.example/paid",
            cancel_url="https://acme.example/cancelled")


@pytest.fixture
def specialist(create_user: Callable[..., User]) -> User:
    return create_user(role="specialist", brand="acme-clinic", name="Dr Vega")


def test_platform_mode_is_a_destination_charge_with_the_platform_fee(
        db: Session, recorder: RecordingHTTPClient, stripe_brand, connected, specialist) -> None:
    connected(specialist, account_id="acct_vega")
    result = checkout(db, stripe_brand("platform"), payment_for(specialist))

    call = recorder.only("POST", SESSIONS)
    assert call.headers["Idempotency-Key"] == "checkout-pay-acme-41"
    assert "Stripe-Account" not in call.headers  # on the platform account
    assert call.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    p = call.params
    assert p["mode"] == "payment"
    assert p["payment_intent_data[transfer_data][destination]"] == "acct_vega"
    assert p["payment_intent_data[application_fee_amount]"] == "1200"
    assert "payment_intent_data[on_behalf_of]" not in p
    assert p["line_items[0][price_data][unit_amount]"] == "6000"
    assert p["line_items[0][price_data][currency]"] == "eur"
    assert p["line_items[0][quantity]"] == "1"
    assert p["client_reference_id"] == "41"
    assert p["metadata[payment_id]"] == "41"
    assert p["payment_intent_data[metadata][payment_id]"] == "41"
    assert p["payment_intent_data[metadata][brand]"] == "acme-clinic"
    # Stripe's shortest session is 30 minutes: ours is held 30, the session lives 31
    assert int(p["expires_at"]) == int((NOW + timedelta(minutes=31)).timestamp())
    sample = fixture("checkout.session")
    assert result.redirect_url == sample["url"]
    assert result.checkout_session_id == sample["id"]
    assert (result.provider_mode, result.provider_account) == ("platform", "acct_vega")


def test_platform_mode_merchant_of_record_adds_on_behalf_of(
        db: Session, recorder: RecordingHTTPClient, stripe_brand, connected, specialist) -> None:
    connected(specialist, account_id="acct_vega", merchant_of_record=True)
    checkout(db, stripe_brand("platform"), payment_for(specialist))
    p = recorder.only("POST", SESSIONS).params
    assert p["payment_intent_data[on_behalf_of]"] == "acct_vega"
    assert p["payment_intent_data[transfer_data][destination]"] == "acct_vega"


def test_platform_mode_without_a_connected_account_charges_the_platform_alone(
        db: Session, recorder: RecordingHTTPClient, stripe_brand, specialist) -> None:
    result = checkout(db, stripe_brand("platform"), payment_for(specialist))
    p = recorder.only("POST", SESSIONS).params
    assert not any(k.startswith("payment_intent_data[transfer_data]") for k in p)
    assert "payment_intent_data[application_fee_amount]" not in p
    assert result.provider_account is None


def test_connect_mode_is_a_direct_charge_on_the_connected_account(
        db: Session, recorder: RecordingHTTPClient, stripe_brand, connected, specialist) -> None:
    connected(specialist, account_id="acct_vega")
    result = checkout(db, stripe_brand("connect"), payment_for(specialist))
    call = recorder.only("POST", SESSIONS)
    assert call.headers["Stripe-Account"] == "acct_vega"
    assert call.headers["Idempotency-Key"] == "checkout-pay-acme-41"
    assert call.params["payment_intent_data[application_fee_amount]"] == "1200"
    assert not any("transfer_data" in k for k in call.params)
    assert (result.provider_mode, result.provider_account) == ("connect", "acct_vega")


def test_connect_mode_subscription_takes_the_commission_as_a_percent(
        db: Session, recorder: RecordingHTTPClient, stripe_brand, connected, specialist) -> None:
    connected(specialist, account_id="acct_vega")
    brand = stripe_brand("connect", commission="12.5")
    payment = payment_for(specialist, purpose="subscription", appointment_id=None,
                          offer_key="monthly", pricing_rule="subscription_purchase")
    checkout(db, brand, payment)
    call = recorder.only("POST", SESSIONS)
    assert call.headers["Stripe-Account"] == "acct_vega"
    p = call.params
    assert p["mode"] == "subscription"
    assert p["subscription_data[application_fee_percent]"] == "12.5"
    assert p["line_items[0][price_data][recurring][interval]"] == "month"
    assert not any(k.startswith("payment_intent_data") for k in p)


def test_connect_mode_refuses_a_specialist_without_an_enabled_account(
        db: Session, recorder: RecordingHTTPClient, stripe_brand, connected, specialist) -> None:
    connected(specialist, account_id="acct_vega", status="restricted")
    with pytest.raises(ProviderError, match="cannot take online payments"):
        checkout(db, stripe_brand("connect"), payment_for(specialist))
    assert recorder.calls == []


@pytest.mark.parametrize(("merchant", "expected_mode"), [(True, "connect"), (False, "platform")])
def test_hybrid_mode_is_chosen_per_specialist(
        db: Session, recorder: RecordingHTTPClient, stripe_brand, connected, specialist,
        merchant: bool, expected_mode: str) -> None:
    connected(specialist, account_id="acct_vega", merchant_of_record=merchant)
    result = checkout(db, stripe_brand("hybrid"), payment_for(specialist))
    call = recorder.only("POST", SESSIONS)
    assert result.provider_mode == expected_mode
    assert ("Stripe-Account" in call.headers) is (expected_mode == "connect")
    assert ("payment_intent_data[transfer_data][destination]" in call.params) is (
        expected_mode == "platform")


def test_a_free_payment_starts_no_checkout(
        db: Session, recorder: RecordingHTTPClient, stripe_brand, specialist) -> None:
    assert checkout(db, stripe_brand("platform"),
                    payment_for(specialist, amount_minor=0, platform_fee_minor=0)) is None
    assert recorder.calls == []


def test_refund_of_a_destination_charge_reverses_transfer_and_fee(
        db: Session, recorder: RecordingHTTPClient, stripe_brand, specialist) -> None:
    payment = payment_for(specialist, status="paid", payment_intent_id="pi_vega",
                          provider_mode="platform", provider_account="acct_vega")
    result = provider_named("stripe").refund(db, stripe_brand("platform"), payment, 3000,
                                             reason="cancelled inside the window")
    call = recorder.only("POST", "/v1/refunds")
    assert call.headers["Idempotency-Key"] == "refund-pay-acme-41-0-3000"
    assert "Stripe-Account" not in call.headers
    assert call.params["payment_intent"] == "pi_vega"
    assert call.params["amount"] == "3000"
    assert call.params["reverse_transfer"] == "true"
    assert call.params["refund_application_fee"] == "true"
    assert result.reference == fixture("refund")["id"]
    assert result.settled is True  # the example refund has status "succeeded"


def test_refund_of_a_direct_charge_goes_to_the_connected_account(
        db: Session, recorder: RecordingHTTPClient, stripe_brand, specialist) -> None:
    payment = payment_for(specialist, status="paid", payment_intent_id="pi_vega",
                          provider_mode="connect", provider_account="acct_vega",
                          refunded_minor=1000)
    provider_named("stripe").refund(db, stripe_brand("connect"), payment, 5000, reason="staff")
    call = recorder.only("POST", "/v1/refunds")
    assert call.headers["Stripe-Account"] == "acct_vega"
    assert call.headers["Idempotency-Key"] == "refund-pay-acme-41-1000-5000"
    assert "reverse_transfer" not in call.params


def test_refund_beyond_what_is_left_is_refused_before_calling_stripe(
        db: Session, recorder: RecordingHTTPClient, stripe_brand, specialist) -> None:
    payment = payment_for(specialist, status="paid", payment_intent_id="pi_vega",
                          refunded_minor=5000)
    with pytest.raises(ProviderError):
        provider_named("stripe").refund(db, stripe_brand("platform"), payment, 1001, reason="x")
    assert recorder.calls == []


def test_cancel_checkout_expires_the_session_on_its_account(
        db: Session, recorder: RecordingHTTPClient, stripe_brand, specialist) -> None:
    payment = payment_for(specialist, checkout_session_id="cs_test_1", provider_mode="connect",
                          provider_account="acct_vega")
    provider_named("stripe").cancel_checkout(db, stripe_brand("connect"), payment)
    call = recorder.only("POST", "/v1/checkout/sessions/cs_test_1/expire")
    assert call.headers["Stripe-Account"] == "acct_vega"


def test_a_missing_key_is_a_clear_error_and_no_call(
        db: Session, stripe_brand, specialist, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DARAPORT_TEST_STRIPE_KEY", raising=False)
    client = RecordingHTTPClient()
    with pytest.raises(StripeNotConfigured) as err:
        StripeProvider(http_client=client).start_checkout(
            db, stripe_brand("platform"), payment_for(specialist),
            success_url="https://a.example/ok", cancel_url="https://a.example/no")
    assert "DARAPORT_TEST_STRIPE_KEY" in str(err.value)
    assert client.calls == []
