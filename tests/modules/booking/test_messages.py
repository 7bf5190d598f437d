"""Booking's refusals are catalogue messages filled with their values, codes unchanged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.web import UserError
from modules.booking import services
from modules.booking.schemas import parse_zone
from tests.modules.booking.conftest import Practice, with_booking

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday
MONDAY_9 = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # 09:00 in Madrid


def test_the_upcoming_limit_message_counts_in_the_singular_and_plural(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice()
    patient = create_user(role="patient", brand="acme-clinic")
    for limit in (1, 2):
        acme = with_booking(brands["acme-clinic"], max_upcoming_per_patient=limit)
        with clock.freeze(NOW):
            services.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                          MONDAY_9 + timedelta(hours=limit - 1))
            with pytest.raises(UserError) as caught:
                services.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                              MONDAY_9 + timedelta(hours=5))
        assert caught.value.code == "too_many"
        assert caught.value.message == {
            1: "You already have 1 upcoming appointment, the most allowed here.",
            2: "You already have 2 upcoming appointments, the most allowed here."}[limit]


def test_an_unknown_zone_is_named_in_the_message() -> None:
    with pytest.raises(UserError) as caught:
        parse_zone("Mars/Olympus")
    assert (caught.value.code, caught.value.field) == ("invalid_timezone", "timezone")
    assert caught.value.message == "“Mars/Olympus” is not a time zone (e.g. Europe/Madrid)."
