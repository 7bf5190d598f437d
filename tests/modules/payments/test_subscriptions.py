# ruff: noqa: F811  (pytest fixtures imported from subscription_fixtures are parameters here)
"""The subscription record, kept from Stripe's events through the webhook on wellness-corp:
created, updated, deleted and the invoices each move it as Stripe says; an older event delivered
late, a redelivery and an event after the end change nothing; a status Stripe adds later is
stored as given and shown as unknown."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from modules.payments import subscriptions
from modules.payments.models import Payment
from modules.payments.models_stripe import Subscription
from tests.modules.payments.stripe_fixtures import connected, with_stripe  # noqa: F401
from tests.modules.payments.stripe_recorder import RecordingHTTPClient
from tests.modules.payments.subscription_fixtures import (  # noqa: F401
    SUB,
    at,
    deliver,
    first_payment,
    recorder,
    stripe_invoice,
    stripe_subscription,
    wellness,
)


def record(db: Session, sub_id: str = SUB) -> Subscription:
    row = db.scalar(select(Subscription).where(Subscription.subscription_id == sub_id))
    assert row is not None, f"no record of {sub_id}"
    return row


def when(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def test_created_records_an_active_subscription_for_the_buyer_and_plan(
        db: Session, wellness: BrandConfig, first_payment: Callable[..., Payment],
        recorder: RecordingHTTPClient) -> None:
    first = first_payment()
    sub = stripe_subscription(first, period_end=at(30))
    assert deliver(db, wellness, "customer.subscription.created", sub) == ("processed", "")
    row = record(db)
    assert (row.brand_id, row.patient_id, row.plan_key, row.account_id) == (
        "wellness-corp", first.patient_id, "monthly", None)
    assert (row.status, row.cancel_at_period_end, row.ended_at) == ("active", False, None)
    assert row.current_period_end == when(at(30))
    assert row.last_event_at == when(at(0))
    assert recorder.calls == []


def test_updated_moves_it_to_past_due_and_a_redelivery_changes_nothing(
        db: Session, wellness: BrandConfig, first_payment: Callable[..., Payment],
        recorder: RecordingHTTPClient) -> None:
    first = first_payment()
    deliver(db, wellness, "customer.subscription.created", stripe_subscription(first),
            created=at(0))
    overdue = stripe_subscription(first, status="past_due", period_end=at(60))
    assert deliver(db, wellness, "customer.subscription.updated", overdue, created=at(30),
                   event_id="evt_overdue")[0] == "processed"
    assert deliver(db, wellness, "customer.subscription.updated", overdue, created=at(30),
                   event_id="evt_overdue")[0] == "duplicate"
    row = record(db)
    assert (row.status, row.current_period_end, row.last_event_at) == (
        "past_due", when(at(60)), when(at(30)))


def test_an_older_event_delivered_late_is_ignored(
        db: Session, wellness: BrandConfig, first_payment: Callable[..., Payment],
        recorder: RecordingHTTPClient) -> None:
    first = first_payment()
    deliver(db, wellness, "customer.subscription.updated",
            stripe_subscription(first, status="past_due", period_end=at(60)), created=at(31))
    late = stripe_subscription(first, status="active", period_end=at(30))
    status, reason = deliver(db, wellness, "customer.subscription.updated", late,
                             created=at(29))
    assert (status, reason) == (
        "ignored", "no change to payments; an older event than the subscription's last")
    late_invoice = stripe_invoice(first, "in_late", period_end=at(30))
    assert deliver(db, wellness, "invoice.paid", late_invoice, created=at(30))[0] == "processed"
    row = record(db)  # the late invoice still paid its renewal, but the state stays newer
    assert (row.status, row.current_period_end, row.last_event_at) == (
        "past_due", when(at(60)), when(at(31)))


def test_the_created_event_loses_a_tie_with_any_other_event_of_its_second(
        db: Session, wellness: BrandConfig, first_payment: Callable[..., Payment],
        recorder: RecordingHTTPClient) -> None:
    first = first_payment()
    deliver(db, wellness, "customer.subscription.updated", stripe_subscription(first),
            created=at(0))
    status, _ = deliver(db, wellness, "customer.subscription.created",
                        stripe_subscription(first, status="incomplete"), created=at(0))
    assert status == "ignored" and record(db).status == "active"


def test_deleted_ends_it_and_no_later_event_brings_it_back(
        db: Session, wellness: BrandConfig, first_payment: Callable[..., Payment],
        recorder: RecordingHTTPClient) -> None:
    first = first_payment()
    deliver(db, wellness, "customer.subscription.created", stripe_subscription(first),
            created=at(0))
    ended = stripe_subscription(first, status="canceled", ended_at=at(30))
    assert deliver(db, wellness, "customer.subscription.deleted", ended,
                   created=at(30))[0] == "processed"
    row = record(db)
    assert (row.status, row.ended_at) == ("canceled", when(at(30)))
    # Stripe's final state: nothing after it (a stray invoice, a resent update) revives it
    assert deliver(db, wellness, "invoice.paid", stripe_invoice(first, "in_after"),
                   created=at(31))[0] == "processed"  # the renewal payment is still recorded
    assert deliver(db, wellness, "customer.subscription.updated", stripe_subscription(first),
                   created=at(32)) == ("ignored", "no change to payments; the subscription "
                                                  "has ended")
    assert record(db).status == "canceled"


def test_invoices_move_it_as_stripe_does(
        db: Session, wellness: BrandConfig, first_payment: Callable[..., Payment],
        recorder: RecordingHTTPClient) -> None:
    first = first_payment()
    # a renewal invoice that failed: overdue (and the invoice alone creates the record)
    assert deliver(db, wellness, "invoice.payment_failed",
                   stripe_invoice(first, "in_2", period_end=at(60)), created=at(30)) == (
        "processed", "")
    row = record(db)
    assert (row.status, row.current_period_end) == ("past_due", when(at(60)))
    # Stripe's retry succeeds: active again, the period unchanged
    assert deliver(db, wellness, "invoice.paid", stripe_invoice(first, "in_2", period_end=at(60)),
                   created=at(33))[0] == "processed"
    assert (row.status, row.current_period_end) == ("active", when(at(60)))
    # a paid invoice leaves a trial or a pause alone: only Stripe's own update changes those
    deliver(db, wellness, "customer.subscription.updated",
            stripe_subscription(first, status="paused", period_end=at(60)), created=at(40))
    deliver(db, wellness, "invoice.paid", stripe_invoice(first, "in_3", period_end=at(90)),
            created=at(41))
    assert (row.status, row.current_period_end) == ("paused", when(at(90)))


def test_a_failed_first_invoice_leaves_it_incomplete(
        db: Session, wellness: BrandConfig, first_payment: Callable[..., Payment],
        recorder: RecordingHTTPClient) -> None:
    first = first_payment()
    deliver(db, wellness, "invoice.payment_failed",
            stripe_invoice(first, "in_1", "subscription_create"), created=at(0))
    assert record(db).status == "incomplete"


def test_an_unknown_status_is_stored_as_given_and_shown_as_unknown(
        db: Session, wellness: BrandConfig, first_payment: Callable[..., Payment],
        recorder: RecordingHTTPClient, create_user: Callable[..., User],
        caplog: pytest.LogCaptureFixture) -> None:
    patient = create_user(role="patient", brand="wellness-corp")
    first = first_payment(patient)
    with caplog.at_level(logging.WARNING, logger="modules.payments.subscriptions"):
        assert deliver(db, wellness, "customer.subscription.updated",
                       stripe_subscription(first, status="on_hold_by_bank"))[0] == "processed"
    assert record(db).status == "on_hold_by_bank"
    assert "'on_hold_by_bank'" in caplog.text and "unknown" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="modules.payments.subscriptions"):
        [line] = subscriptions.of_patient(db, patient, wellness)
    assert (line.status, line.label, line.can_cancel) == ("unknown", "Unknown", False)
    assert "on_hold_by_bank" in caplog.text


def test_an_event_on_a_connected_account_records_the_account(
        db: Session, platform, first_payment: Callable[..., Payment],
        create_user: Callable[..., User], connected: Callable[..., object],
        recorder: RecordingHTTPClient) -> None:
    brand = with_stripe(platform.brands["wellness-corp"].loaded.config, "connect")
    specialist = create_user(role="specialist", brand="wellness-corp")
    connected(specialist, brand="wellness-corp", account_id="acct_direct")
    first = first_payment(mode="connect", account="acct_direct")
    assert deliver(db, brand, "customer.subscription.created", stripe_subscription(first),
                   account="acct_direct")[0] == "processed"
    assert record(db).account_id == "acct_direct"


def test_events_of_no_purchase_here_create_nothing(
        db: Session, wellness: BrandConfig, first_payment: Callable[..., Payment],
        recorder: RecordingHTTPClient) -> None:
    first = first_payment()
    stranger = stripe_subscription(first, metadata={"payment_id": "999999"})
    assert deliver(db, wellness, "customer.subscription.created", stranger)[0] == "ignored"
    other_brand = stripe_subscription(first, metadata={"payment_id": str(first.id),
                                                       "brand": "acme-clinic"})
    assert deliver(db, wellness, "customer.subscription.created", other_brand)[0] == "ignored"
    assert db.scalar(select(func.count(Subscription.id))) == 0


def test_a_confirmed_cancellation_settles_the_request(
        db: Session, wellness: BrandConfig, first_payment: Callable[..., Payment],
        recorder: RecordingHTTPClient, create_user: Callable[..., User]) -> None:
    patient = create_user(role="patient", brand="wellness-corp")
    first = first_payment(patient)
    deliver(db, wellness, "customer.subscription.created", stripe_subscription(first),
            created=at(-1))
    row = record(db)
    subscriptions.request_cancellation(db, patient, wellness, row.id)
    assert row.cancel_requested_at is not None and not row.cancel_at_period_end
    # an update from before the request says nothing of it: still requested
    deliver(db, wellness, "customer.subscription.updated", stripe_subscription(first),
            created=at(-0.5))
    assert row.cancel_requested_at is not None
    deliver(db, wellness, "customer.subscription.updated",
            stripe_subscription(first, cancel_at_period_end=True), created=at(0.01))
    assert row.cancel_at_period_end and row.cancel_requested_at is None
    [line] = subscriptions.of_patient(db, patient, wellness)
    assert (line.date_kind, line.cancel_requested, line.can_cancel) == ("ends", False, False)


def test_no_event_recreates_a_subscription_erased_with_the_patients_data(
        db: Session, wellness: BrandConfig, first_payment: Callable[..., Payment],
        recorder: RecordingHTTPClient, create_user: Callable[..., User]) -> None:
    from modules.payments import data_rights

    patient = create_user(role="patient", brand="wellness-corp")
    first = first_payment(patient)
    ended = stripe_subscription(first, status="canceled", ended_at=at(0))
    deliver(db, wellness, "customer.subscription.deleted", ended, created=at(0))
    assert data_rights.erase_data(db, patient, "all")["subscriptions"] == 1
    db.expire_all()
    status, reason = deliver(db, wellness, "customer.subscription.updated", ended,
                             created=at(1))
    assert (status, reason) == ("ignored", "no change to payments; the patient's payments "
                                           "are restricted (erasure asked)")
    assert db.scalar(select(func.count(Subscription.id))) == 0
