"""Payments fixtures: brand configs with chosen pricing and payment settings (the example brand
files stay untouched), a specialist with Monday hours, patients, and booking at a chosen time
with the clock frozen at 2026-10-01 so every ledger entry falls in October 2026."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.config.models import Payments, Pricing
from engine.identity.models import User
from engine.privacy import consent
from engine.settings import ROOT
from modules.booking import services as booking
from modules.booking.models import Appointment
from modules.payments import PaymentsSettings
from tests.modules.booking.conftest import (  # noqa: F401  (fixtures used by these tests)
    FIRST_VISIT,
    Practice,
    brands,
    practice,
    session_of,
    variant,
    with_booking,
)

NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)  # a Thursday


def configured(config: BrandConfig, *, pricing: dict[str, Any] | None = None,
               payments: dict[str, Any] | None = None, **settings: Any) -> BrandConfig:
    """``config`` with payments on (``settings``), and its pricing / provider changed (both
    validated as a brand file would be)."""
    update: dict[str, Any] = {"modules": config.modules.model_copy(update={
        "payments": PaymentsSettings(**settings)})}
    if pricing is not None:
        update["pricing"] = Pricing.model_validate({**config.pricing.model_dump(), **pricing})
    if payments is not None:
        update["payments"] = Payments.model_validate({**config.payments.model_dump(),
                                                      **payments})
    return config.model_copy(update=update)


def monday(week: int = 0, hour: int = 10) -> datetime:
    """Monday of the ``week``-th week after 2026-10-05, ``hour`` o'clock in Madrid (UTC+2 until
    25 October, then UTC+1)."""
    day = datetime(2026, 10, 5, tzinfo=UTC) + timedelta(weeks=week)
    offset = 2 if day < datetime(2026, 10, 25, tzinfo=UTC) else 1
    return day.replace(hour=hour - offset)


@pytest.fixture(autouse=True)
def october() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


@pytest.fixture
def acme(brands: dict[str, BrandConfig]) -> BrandConfig:  # noqa: F811
    return configured(brands["acme-clinic"])


@pytest.fixture
def book(db: Session) -> Callable[..., Appointment]:
    """Factory: ``book(brand, patient, practice, start)`` through booking's own service."""

    consented: set[tuple[int, str]] = set()

    def make(brand: BrandConfig, patient: User, practice: Practice,  # noqa: F811
             start: datetime) -> Appointment:
        if (patient.id, brand.slug) not in consented:
            for action in ("booking", "video"):
                for doc in consent.required_for(brand, action):
                    consent.record(db, patient, brand, doc.key, granted=True, method="web",
                                   brands_dir=ROOT / "brands")
            consented.add((patient.id, brand.slug))
        appointment = booking.book(db, patient, brand, practice.specialist.id,
                                   practice.appointment_type.id, start)
        db.flush()
        return appointment

    return make
