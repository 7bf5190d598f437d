# ruff: noqa: F811  (pytest fixtures imported from subscription_fixtures are parameters here)
"""The subscription on the patient's payments page (wellness-corp, Stripe): status in plain
words, sessions left this period, the renewal date in the patient's zone; cancelling at period
end through Stripe (the webhook confirms), a Stripe refusal, another patient's subscription,
CSRF; nothing on a manual brand; the operator console's counts; the patient's export."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.audit_models import AuditEvent
from engine.identity.models import User
from modules.payments import data_rights
from modules.payments.models import Credit, Payment
from modules.payments.models_stripe import Subscription
from tests.console.conftest import (  # noqa: F401  (fixtures)
    console,
    console_for,
    console_signin,
    operator,
    operator_console,
)
from tests.modules.payments.stripe_recorder import RecordingHTTPClient
from tests.modules.payments.subscription_fixtures import (  # noqa: F401
    SUB,
    at,
    deliver,
    first_payment,
    recorder,
    seed,
    stripe_subscription,
    wellness,
)

PAGE = "/payments/"
# 20:00 UTC on 31 October: already 1 November in Tokyo, still 31 October in New York
PERIOD_END = datetime(2026, 10, 31, 20, 0, tzinfo=UTC)


@pytest.fixture
def patient(db: Session, create_user: Callable[..., User]) -> User:
    user = create_user(role="patient", brand="wellness-corp", name="Pat")
    user.timezone = "Asia/Tokyo"
    db.flush()
    return user


@pytest.fixture
def browser(client_for: Callable[..., Any], signin: Callable[..., Any]) -> Callable[..., Any]:
    def make(user: User, brand: str = "wellness-corp") -> Any:
        client = client_for(brand)
        assert signin(client, user.email).status_code == 302
        return client

    return make


def section(html: str, row: Subscription) -> str:
    found = re.search(rf'<div class="subscription [^"]*" id="subscription-{row.id}">(.*?)</div>',
                      html, re.S)
    assert found, "the subscription is not on the page"
    return found.group(1)


def test_the_patient_sees_status_sessions_left_and_renewal_in_their_zone(
        db: Session, patient: User, first_payment: Callable[..., Payment],
        browser: Callable[..., Any], recorder: RecordingHTTPClient) -> None:
    row = seed(db, first_payment(patient), period_end=PERIOD_END)
    db.add(Credit(brand_id="wellness-corp", patient_id=patient.id, kind="subscription",
                  offer_key="monthly", sessions_total=4, sessions_used=1,
                  starts_at=clock.now() - timedelta(days=1),
                  expires_at=clock.now() + timedelta(days=29), source_key="test:period"))
    db.flush()
    html = browser(patient).get(PAGE).get_data(as_text=True)
    part = section(html, row)
    assert "Active" in part and "Renews on" in part
    assert "3 sessions left" in part
    assert "Nov 1, 2026" in part and "Oct 31" not in part  # Tokyo, not the brand's New York
    assert f'href="/payments/subscriptions/{row.id}/cancel"' in part


@pytest.mark.parametrize(("status", "words"), [
    ("past_due", "Payment overdue"), ("canceled", "Cancelled"), ("trialing", "Free trial"),
    ("on_hold_by_bank", "Unknown")])
def test_each_status_reads_in_plain_words(
        db: Session, patient: User, first_payment: Callable[..., Payment],
        browser: Callable[..., Any], recorder: RecordingHTTPClient, status: str,
        words: str) -> None:
    row = seed(db, first_payment(patient), status=status, period_end=PERIOD_END)
    page = browser(patient).get(PAGE)
    assert page.status_code == 200
    part = section(page.get_data(as_text=True), row)
    assert f'<span class="badge subscription-status">{words}</span>' in part
    assert ("/cancel" in part) == (status in ("past_due", "trialing"))


def test_cancel_at_period_end_asks_stripe_and_waits_for_its_webhook(
        db: Session, patient: User, first_payment: Callable[..., Payment],
        browser: Callable[..., Any], recorder: RecordingHTTPClient,
        wellness: Any) -> None:
    first = first_payment(patient)
    deliver(db, wellness, "customer.subscription.created",
            stripe_subscription(first, period_end=int(PERIOD_END.timestamp())), created=at(-1))
    row = db.scalar(select(Subscription).where(Subscription.subscription_id == SUB))
    client = browser(patient)
    cancel = f"/payments/subscriptions/{row.id}/cancel"
    confirm = client.get(cancel)
    assert confirm.status_code == 200
    assert "Nov 1, 2026" in confirm.get_data(as_text=True)

    done = client.submit(cancel)
    assert (done.status_code, done.headers["Location"]) == (302, PAGE)
    call = recorder.only("POST", f"/v1/subscriptions/{SUB}")
    assert call.params == {"cancel_at_period_end": "true"}
    assert "Stripe-Account" not in call.headers  # the platform's own subscription
    db.refresh(row)
    # only Stripe's webhook changes the record: meanwhile the page says it is requested
    assert (row.status, row.cancel_at_period_end) == ("active", False)
    assert row.cancel_requested_at == clock.now()
    part = section(client.get(PAGE).get_data(as_text=True), row)
    assert "Cancellation requested" in part and "/cancel" not in part
    assert db.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "payments.subscription.cancel_requested",
        AuditEvent.target_id == str(row.id))) == 1

    deliver(db, wellness, "customer.subscription.updated",
            stripe_subscription(first, period_end=int(PERIOD_END.timestamp()),
                                cancel_at_period_end=True), created=at(0.01))
    part = section(client.get(PAGE).get_data(as_text=True), row)
    assert "Ends on" in part and "Nov 1, 2026" in part
    assert "Cancellation requested" not in part and "/cancel" not in part


def test_cancel_on_a_connected_account_names_it(
        db: Session, patient: User, first_payment: Callable[..., Payment],
        browser: Callable[..., Any], recorder: RecordingHTTPClient) -> None:
    row = seed(db, first_payment(patient, mode="connect", account="acct_direct"),
               account="acct_direct")
    browser(patient).submit(f"/payments/subscriptions/{row.id}/cancel")
    call = recorder.only("POST", f"/v1/subscriptions/{SUB}")
    assert call.headers["Stripe-Account"] == "acct_direct"


def test_a_stripe_error_says_so_and_changes_nothing(
        db: Session, patient: User, first_payment: Callable[..., Payment],
        browser: Callable[..., Any], recorder: RecordingHTTPClient) -> None:
    row = seed(db, first_payment(patient))
    recorder.fail("POST", f"/v1/subscriptions/{SUB}", 500)
    client = browser(patient)
    done = client.submit(f"/payments/subscriptions/{row.id}/cancel")
    assert (done.status_code, done.headers["Location"]) == (302, PAGE)
    assert len(recorder.posts(f"/v1/subscriptions/{SUB}")) == 1
    html = client.get(PAGE).get_data(as_text=True)
    assert "We could not reach our payment provider to cancel your subscription." in html
    db.refresh(row)
    assert (row.status, row.cancel_at_period_end, row.cancel_requested_at) == (
        "active", False, None)
    assert "/cancel" in section(html, row)  # the patient may try again
    assert db.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "payments.subscription.cancel_requested")) == 0


def test_another_patient_cannot_see_or_cancel_it(
        db: Session, patient: User, first_payment: Callable[..., Payment],
        browser: Callable[..., Any], recorder: RecordingHTTPClient,
        create_user: Callable[..., User]) -> None:
    row = seed(db, first_payment(patient))
    other = browser(create_user(role="patient", brand="wellness-corp"))
    cancel = f"/payments/subscriptions/{row.id}/cancel"
    assert other.get(cancel).status_code == 404
    assert other.submit(cancel, form_page=PAGE).status_code == 404
    assert f"subscription-{row.id}" not in other.get(PAGE).get_data(as_text=True)
    assert recorder.calls == []
    db.refresh(row)
    assert row.cancel_requested_at is None


def test_cancelling_needs_the_csrf_token(
        db: Session, patient: User, first_payment: Callable[..., Payment],
        browser: Callable[..., Any], recorder: RecordingHTTPClient) -> None:
    row = seed(db, first_payment(patient))
    resp = browser(patient).post(f"/payments/subscriptions/{row.id}/cancel", data={})
    assert resp.status_code == 400
    assert recorder.calls == []
    db.refresh(row)
    assert row.cancel_requested_at is None


def test_an_ended_subscription_cannot_be_cancelled_again(
        db: Session, patient: User, first_payment: Callable[..., Payment],
        browser: Callable[..., Any], recorder: RecordingHTTPClient) -> None:
    row = seed(db, first_payment(patient), status="canceled", ended_at=PERIOD_END)
    client = browser(patient)
    part = section(client.get(PAGE).get_data(as_text=True), row)
    assert "Ended on" in part and "/cancel" not in part
    client.submit(f"/payments/subscriptions/{row.id}/cancel")
    assert recorder.calls == []
    assert "there is nothing to cancel" in client.get(PAGE).get_data(as_text=True)


def test_a_manual_brand_shows_nothing_new(
        db: Session, first_payment: Callable[..., Payment], browser: Callable[..., Any],
        create_user: Callable[..., User]) -> None:
    patient = create_user(role="patient", brand="acme-clinic")
    row = seed(db, first_payment(patient, brand="acme-clinic"))
    client = browser(patient, "acme-clinic")
    page = client.get(PAGE)
    assert page.status_code == 200
    assert 'id="subscriptions"' not in page.get_data(as_text=True)
    assert client.get(f"/payments/subscriptions/{row.id}/cancel").status_code == 404


def test_the_console_counts_subscriptions_by_status_overdue_highlighted(
        db: Session, first_payment: Callable[..., Payment], recorder: RecordingHTTPClient,
        operator_console: Any) -> None:
    overdue = seed(db, first_payment(), status="past_due", sub_id="sub_overdue")
    seed(db, first_payment(), sub_id="sub_a")
    seed(db, first_payment(), sub_id="sub_b")
    seed(db, first_payment(), status="canceled", sub_id="sub_c")
    page = operator_console.get("/m/payments/", query_string={"brand": "wellness-corp"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(
        r'<tr id="count-(\w+)"[^>]*>.*?<td class="num">(\d+)</td>', html, re.S)}
    assert counts == {"past_due": 1, "active": 2, "canceled": 1}
    assert '<tr id="count-past_due" class="bad">' in html
    rows = re.findall(r'<tr id="subscription-(\d+)"([^>]*)>', html)
    assert rows[0] == (str(overdue.id), ' class="bad past-due"')  # overdue first
    only = operator_console.get("/m/payments/", query_string={
        "brand": "wellness-corp", "subscription_status": "canceled"}).get_data(as_text=True)
    assert "sub_c" in only and "sub_a" not in only
    manual = operator_console.get("/m/payments/", query_string={"brand": "acme-clinic"})
    assert 'id="subscriptions"' not in manual.get_data(as_text=True)


def test_export_holds_the_subscription_and_erasure_keeps_only_a_running_one(
        db: Session, patient: User, first_payment: Callable[..., Payment],
        create_user: Callable[..., User]) -> None:
    first = first_payment(patient)
    running = seed(db, first, period_end=PERIOD_END)
    seed(db, first, status="canceled", sub_id="sub_old", ended_at=PERIOD_END)
    seed(db, first_payment(), sub_id="sub_someone_else")
    exported = data_rights.export_data(db, patient)["subscriptions"]
    assert [(s["stripe_subscription"], s["status"], s["plan"]) for s in exported] == [
        (SUB, "active", "monthly"), ("sub_old", "canceled", "monthly")]
    assert exported[0]["current_period_end"] == PERIOD_END.isoformat()
    assert data_rights.erase_data(db, patient, "all") == {
        "kept:payments": 1, "subscriptions": 1, "kept:subscriptions": 1}
    left = db.scalars(select(Subscription.subscription_id).where(
        Subscription.patient_id == patient.id)).all()
    assert left == [running.subscription_id]
