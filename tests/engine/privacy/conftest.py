"""Privacy fixtures: patients with appointments and intake answers on acme-clinic (rows written
directly, so past appointments can exist), a specialist with a video appointment type, and a
scan of every table and the data dir for a person's email and name."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from engine.platform import Platform
from modules.booking import calendar
from modules.booking.models import Appointment, AppointmentType
from modules.booking.models_intake import IntakeAnswers
from modules.booking.schemas import AppointmentTypeInput, WeeklyRangeInput

VIDEO = AppointmentTypeInput(name="Video check-in", duration_minutes=20, modality="video",
                             slot_interval_minutes=20, catalog_key="video-check-in")


@pytest.fixture
def acme(platform: Platform) -> BrandConfig:
    return platform.brands["acme-clinic"].loaded.config


@pytest.fixture
def wellness(platform: Platform) -> BrandConfig:
    return platform.brands["wellness-corp"].loaded.config


def unique_name() -> str:
    return f"Quillon Vantablack {uuid.uuid4().hex[:6]}"


@dataclass
class Practice:
    specialist: User
    video: AppointmentType


@pytest.fixture
def practice(db: Session, acme: BrandConfig, create_user: Callable[..., User]) -> Practice:
    """A specialist on acme-clinic taking video appointments Monday to Friday, 09:00-17:00."""
    specialist = create_user(role="specialist", brand="acme-clinic", name="Dr Ortega")
    calendar.set_calendar_zone(db, specialist, acme, "Europe/Madrid")
    calendar.set_weekly_rules(db, specialist, acme, [
        WeeklyRangeInput(weekday=d, start_minute=9 * 60, end_minute=17 * 60) for d in range(5)])
    kind = calendar.save_appointment_type(db, specialist, acme, VIDEO)
    db.flush()
    return Practice(specialist, kind)


def next_weekday_at(hour_utc: int, days_ahead: int = 7) -> datetime:
    """A weekday at least ``days_ahead`` days from now, at ``hour_utc``:00 UTC."""
    from engine import clock

    day = (clock.now() + timedelta(days=days_ahead)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC)


@pytest.fixture
def appointment_with_answers(db: Session, practice: Practice
                             ) -> Callable[..., tuple[Appointment, IntakeAnswers]]:
    """Factory: an appointment of ``patient`` at ``start`` (past allowed) with intake answers
    given at ``answered_at``."""

    def make(patient: User, start: datetime, *, answer: str,
             answered_at: datetime | None = None) -> tuple[Appointment, IntakeAnswers]:
        kind = practice.video
        appt = Appointment(
            brand_id="acme-clinic", specialist_id=practice.specialist.id, patient_id=patient.id,
            appointment_type_id=kind.id, booked_by_id=patient.id, modality="video",
            start_at=start, end_at=start + timedelta(minutes=30), blocked_start_at=start,
            blocked_end_at=start + timedelta(minutes=30), status="completed"
            if start < datetime.now(UTC) else "confirmed", price_minor=3000, currency="EUR",
            created_at=answered_at or start)
        db.add(appt)
        db.flush()
        answers = IntakeAnswers(brand_id="acme-clinic", appointment_id=appt.id,
                                source="intake_form", form_key="first-visit",
                                answers=[{"key": "reason", "label": "Reason", "value": answer}],
                                created_at=answered_at or start)
        db.add(answers)
        db.flush()
        return appt, answers

    return make
