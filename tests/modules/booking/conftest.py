"""Booking fixtures: brand configs with the module switched on (the example brand files stay
untouched), brand-scoped sessions joining the test's transaction, and a specialist with a
calendar, weekly hours and an appointment type."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.db import brand_session
from engine.identity import services as identity
from engine.identity.models import User
from engine.platform import Platform
from modules.booking import BookingSettings, calendar
from modules.booking.models import AppointmentType
from modules.booking.schemas import AppointmentTypeInput, WeeklyRangeInput


def with_booking(config: BrandConfig, **settings: Any) -> BrandConfig:
    """``config`` with the booking module enabled (and ``settings``)."""
    modules = config.modules.model_copy(update={"booking": BookingSettings(**settings)})
    return config.model_copy(update={"modules": modules})


@pytest.fixture
def brands(platform: Platform) -> dict[str, BrandConfig]:
    """The example brands with booking enabled (both list specialists of care-collective)."""
    return {slug: with_booking(platform.brands[slug].loaded.config)
            for slug in ("acme-clinic", "wellness-corp")}


@pytest.fixture
def session_of(platform: Platform, db: Session) -> Iterator[Callable[[str], Session]]:
    """Factory: a session scoped to one brand, inside the test's rolled-back transaction."""
    opened: list[Session] = []

    def make(slug: str) -> Session:
        session = brand_session(platform.runtime.sessions, slug)
        opened.append(session)
        return session

    yield make
    for session in reversed(opened):  # savepoints nest: release the innermost first
        session.close()


def variant(base: AppointmentTypeInput, **changes: Any) -> AppointmentTypeInput:
    """``base`` with ``changes``, validated again."""
    return AppointmentTypeInput.model_validate({**base.model_dump(), **changes})


FIRST_VISIT = AppointmentTypeInput(name="First visit", duration_minutes=60, modality="video",
                                   catalog_key="first-visit", slot_interval_minutes=60)


@dataclass
class Practice:
    specialist: User
    appointment_type: AppointmentType


@pytest.fixture
def practice(db: Session, brands: dict[str, BrandConfig], create_user: Callable[..., User],
             ) -> Callable[..., Practice]:
    """Factory: a care-collective specialist on acme-clinic (and ``also_on``), with a calendar in
    ``zone``, weekly ``hours`` and one appointment type on acme-clinic."""

    def make(*, zone: str = "Europe/Madrid",
             hours: tuple[tuple[int, str, str], ...] = ((0, "09:00", "17:00"),),
             also_on: tuple[str, ...] = ("wellness-corp",),
             appointment_type: AppointmentTypeInput = FIRST_VISIT) -> Practice:
        acme = brands["acme-clinic"]
        specialist = create_user(role="specialist", brand="acme-clinic", name="Dr Vega")
        for slug in also_on:
            identity.add_membership(db, brands[slug], specialist)
        calendar.set_calendar_zone(db, specialist, acme, zone)
        calendar.set_weekly_rules(db, specialist, acme, [
            WeeklyRangeInput(weekday=d, start_minute=s, end_minute=e) for d, s, e in hours])
        kind = calendar.save_appointment_type(db, specialist, acme, appointment_type)
        db.flush()
        return Practice(specialist, kind)

    return make
