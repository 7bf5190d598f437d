# ruff: noqa: F811  (pytest fixtures imported from stripe_fixtures are parameters here)
"""Specialist onboarding to Stripe Connect from the specialist portal: one connected account
per specialist per brand (created once, with an idempotency key), a fresh onboarding link, the
status re-read on return, and the merchant-of-record choice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.identity.models import User
from engine.platform import Platform
from modules.payments import connect
from modules.payments.models_stripe import StripeAccount
from tests.modules.payments.stripe_fixtures import WEBHOOK_SECRET
from tests.modules.payments.stripe_recorder import RecordingHTTPClient, fixture

BASE = "/specialist/payments/stripe"


@pytest.fixture
def wellness_stripe(monkeypatch: pytest.MonkeyPatch) -> Any:
    from modules.payments.stripe_client import use_http_client

    monkeypatch.setenv("WELLNESS_STRIPE_KEY", "sk_test_wellness")
    monkeypatch.setenv("WELLNESS_STRIPE_WEBHOOK", WEBHOOK_SECRET)
    client = RecordingHTTPClient()
    with use_http_client(client):
        yield client


@pytest.fixture
def specialist(create_user: Callable[..., User]) -> User:
    return create_user(role="specialist", brand="wellness-corp", name="Dr Vega")


@pytest.fixture
def portal(client_for: Callable[..., Any], signin: Callable[..., Any],
           specialist: User) -> Any:
    client = client_for("wellness-corp")
    signin(client, specialist.email)
    return client


def test_onboarding_creates_one_account_and_sends_the_specialist_to_stripe(
        db: Session, wellness_stripe: RecordingHTTPClient, portal: Any,
        specialist: User) -> None:
    page = portal.get(f"{BASE}/")
    assert page.status_code == 200
    assert "Set up my Stripe account" in page.get_data(as_text=True)

    first = portal.submit(f"{BASE}/onboard", {}, form_page=f"{BASE}/")
    again = portal.submit(f"{BASE}/onboard", {}, form_page=f"{BASE}/")
    link = fixture("account_link")["url"]
    assert (first.status_code, first.headers["Location"]) == (303, link)
    assert again.headers["Location"] == link

    create = wellness_stripe.only("POST", "/v1/accounts")  # the second click reuses it
    assert create.headers["Idempotency-Key"] == f"account-wellness-corp-{specialist.id}"
    assert create.params["controller[stripe_dashboard][type]"] == "express"
    assert create.params["capabilities[transfers][requested]"] == "true"
    assert create.params["metadata[brand]"] == "wellness-corp"
    assert create.params["metadata[specialist_id]"] == str(specialist.id)
    links = wellness_stripe.posts("/v1/account_links")
    assert len(links) == 2
    account_id = fixture("account")["id"]
    assert links[0].params["account"] == account_id
    assert links[0].params["type"] == "account_onboarding"
    assert links[0].params["return_url"] == f"http://wellness.localhost{BASE}/return"
    assert links[0].params["refresh_url"] == f"http://wellness.localhost{BASE}/refresh"
    assert links[0].headers["Idempotency-Key"].startswith(f"account-link-{account_id}-")

    rows = db.scalars(select(StripeAccount).where(
        StripeAccount.specialist_id == specialist.id)).all()
    assert [(r.brand_id, r.account_id, r.status) for r in rows] == [
        ("wellness-corp", account_id, "pending")]


def test_return_page_rereads_the_account_and_shows_its_status(
        db: Session, wellness_stripe: RecordingHTTPClient, portal: Any,
        specialist: User, platform: Platform) -> None:
    portal.submit(f"{BASE}/onboard", {}, form_page=f"{BASE}/")
    account_id = fixture("account")["id"]
    wellness_stripe.answer("GET", f"/v1/accounts/{account_id}", fixture(
        "account", charges_enabled=True, payouts_enabled=True, details_submitted=True,
        requirements={"currently_due": [], "disabled_reason": None}))
    back = portal.get(f"{BASE}/return")
    assert back.status_code == 303
    page = portal.get(f"{BASE}/").get_data(as_text=True)
    assert "Ready to receive payments" in page
    row = connect.account_of(db, platform.brands["wellness-corp"].loaded.config, specialist)
    assert row is not None and row.can_charge
    assert wellness_stripe.only("GET", f"/v1/accounts/{account_id}")


def test_merchant_of_record_choice_is_saved(
        db: Session, wellness_stripe: RecordingHTTPClient, portal: Any,
        specialist: User) -> None:
    portal.submit(f"{BASE}/onboard", {}, form_page=f"{BASE}/")
    answer = portal.submit(f"{BASE}/merchant", {"merchant_of_record": "yes"},
                           form_page=f"{BASE}/")
    assert answer.status_code == 303
    row = db.scalar(select(StripeAccount).where(StripeAccount.specialist_id == specialist.id))
    db.refresh(row)
    assert row.merchant_of_record is True
    bad = portal.submit(f"{BASE}/merchant", {"merchant_of_record": "maybe"},
                        form_page=f"{BASE}/")
    assert bad.status_code == 303
    db.refresh(row)
    assert row.merchant_of_record is True


def test_without_the_key_the_page_says_so_and_onboarding_is_refused(
        db: Session, portal: Any, specialist: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WELLNESS_STRIPE_KEY", raising=False)
    page = portal.get(f"{BASE}/").get_data(as_text=True)
    assert "Online payment is not available right now" in page
    answer = portal.submit(f"{BASE}/onboard", {}, form_page=f"{BASE}/")
    assert answer.status_code == 503
    assert db.scalar(select(StripeAccount.id).where(
        StripeAccount.specialist_id == specialist.id)) is None


def test_patients_cannot_reach_onboarding(
        client_for: Callable[..., Any], signin: Callable[..., Any],
        create_user: Callable[..., User]) -> None:
    client = client_for("wellness-corp")
    patient = create_user(role="patient", brand="wellness-corp")
    signin(client, patient.email)
    assert client.get(f"{BASE}/").status_code in (403, 404)


def test_account_status_mapping() -> None:
    assert connect.status_of({"details_submitted": False}) == "pending"
    assert connect.status_of({"details_submitted": True}) == "restricted"
    assert connect.status_of({"details_submitted": True, "charges_enabled": True,
                              "payouts_enabled": True}) == "enabled"
    assert connect.status_of({"requirements": {"disabled_reason": "rejected.fraud"}}) == \
        "rejected"


def test_a_brand_without_stripe_has_no_onboarding(
        client_for: Callable[..., Any], signin: Callable[..., Any],
        create_user: Callable[..., User]) -> None:
    client = client_for("acme-clinic")
    specialist = create_user(role="specialist", brand="acme-clinic")
    signin(client, specialist.email)
    assert client.get(f"{BASE}/").status_code == 404
    assert client.submit(f"{BASE}/onboard", {}, form_page="/specialist/").status_code == 404


def test_the_earnings_page_leads_to_onboarding_where_the_brand_pays_through_stripe(
        portal: Any, client_for: Callable[..., Any], signin: Callable[..., Any],
        create_user: Callable[..., User]) -> None:
    earnings = portal.get("/specialist/earnings/").get_data(as_text=True)
    assert f'href="{BASE}/"' in earnings
    acme = client_for("acme-clinic")  # manual payments: nothing to set up
    signin(acme, create_user(role="specialist", brand="acme-clinic").email)
    page = acme.get("/specialist/earnings/")
    assert page.status_code == 200 and BASE not in page.get_data(as_text=True)
