"""Two deliveries of one event racing in two transactions that really commit (the live
database): the unique event id lets exactly one of them apply the effect (on PostgreSQL the
twin waits on the index and answers "duplicate")."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from engine.db import brand_session, make_sessionmaker
from engine.platform import Platform
from modules.payments import webhooks
from modules.payments.models import LedgerEntry, Payment
from modules.payments.models_stripe import StripeEvent
from tests.modules.payments.stripe_fixtures import (
    WEBHOOK_SECRET,
    event,
    paid_session,
    seed_held,
    sign,
)


def test_a_twin_delivery_racing_the_first_changes_nothing(
        platform: Platform, live_db_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WELLNESS_STRIPE_WEBHOOK", WEBHOOK_SECRET)
    config = platform.brands["wellness-corp"].loaded.config
    sessions = make_sessionmaker(live_db_engine)
    with brand_session(sessions, "wellness-corp") as session:
        held = seed_held(session, config)
        payment_id = held.payment.id
        body = event("checkout.session.completed", paid_session(held))
        session.commit()

    first_flushed = threading.Barrier(2, timeout=30)
    outcomes: dict[str, Any] = {}

    def first() -> None:
        with brand_session(sessions, "wellness-corp") as session:
            outcomes["first"] = webhooks.process(session, config, body, sign(body)).status
            first_flushed.wait()
            time.sleep(0.5)  # the twin is now waiting on the event id (or the write lock)
            session.commit()

    def twin() -> None:
        first_flushed.wait()
        with brand_session(sessions, "wellness-corp") as session:
            try:
                outcomes["twin"] = webhooks.process(session, config, body, sign(body)).status
                session.commit()
            except OperationalError:
                # SQLite (one writer) refuses the second writer outright: the request fails,
                # writes nothing, and Stripe's retry then finds the event done
                session.rollback()
                outcomes["twin"] = "refused"

    threads = [threading.Thread(target=first), threading.Thread(target=twin)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    postgres = live_db_engine.dialect.name == "postgresql"
    assert outcomes == {"first": "processed", "twin": "duplicate" if postgres else "refused"}
    with brand_session(sessions, "wellness-corp") as session:
        assert session.get(Payment, payment_id).status == "paid"
        assert session.scalar(select(func.count(LedgerEntry.id)).where(
            LedgerEntry.payment_id == payment_id)) == 6
        assert session.scalar(select(func.count(StripeEvent.id)).where(
            StripeEvent.object_id == held.payment.checkout_session_id)) == 1
