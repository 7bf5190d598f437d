"""Matching -> book: the shortlist offers "Book" with each match, the answers travel in an
encrypted, expiring token (never in a URL), and booking stores them with the appointment in
booking_intake_answers and nowhere else."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from engine import clock
from engine.identity.models import User
from engine.platform import Platform
from modules.booking import calendar, intake
from modules.booking.models import Appointment
from modules.booking.models_intake import IntakeAnswers
from modules.booking.schemas import AppointmentTypeInput, WeeklyRangeInput
from modules.directory.models import Profile
from tests.conftest import BrandClient

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday
MONDAY_9_MADRID = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SECRET = "nightmares since march qx4"

QUESTIONNAIRE = """\
  matching:
    shortlist_size: 3
    questions:
      - key: topic
        type: single
        required: true
        matches: specialty
        label: {en: What brings you here?, es: ¿Qué te trae por aquí?}
        choices:
          - {value: anxiety, label: {en: Anxiety, es: Ansiedad}}
          - {value: stress, label: {en: Stress, es: Estrés}}
      - key: notes
        type: text
        label: {en: Anything else?, es: ¿Algo más?}
        max_length: 60
"""
SESSION = AppointmentTypeInput(name="Session", duration_minutes=50, modality="video",
                               catalog_key="session", slot_interval_minutes=60)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


@pytest.fixture
def site(platform_from: Callable[..., Platform]) -> Platform:
    return platform_from(QUESTIONNAIRE)


@pytest.fixture
def bookable(db: Session, site: Platform, add_specialist: Callable[..., Profile],
             ) -> tuple[Profile, int]:
    """A wellness-corp specialist who works with anxiety, with Monday hours and a type."""
    profile = add_specialist("Dr Ana Anxiety", specialties=["anxiety"])
    specialist = db.get(User, profile.user_id)
    wellness = site.brands["wellness-corp"].loaded.config
    calendar.set_calendar_zone(db, specialist, wellness, "Europe/Madrid")
    calendar.set_weekly_rules(db, specialist, wellness, [
        WeeklyRangeInput(weekday=0, start_minute=540, end_minute=1020)])
    kind = calendar.save_appointment_type(db, specialist, wellness, SESSION)
    db.flush()
    return profile, kind.id


@pytest.fixture
def patient(db: Session, create_user: Callable[..., User]) -> User:
    user = create_user(role="patient", brand="wellness-corp", email="matched@example.com")
    user.locale = "en"
    db.flush()
    return user


def client_of(site: Platform, signin: Callable[..., Any] | None = None) -> BrandClient:
    client = BrandClient(site, "wellness.localhost")
    if signin is not None:
        signin(client, "matched@example.com")
    return client


def shortlist(client: BrandClient, notes: str = SECRET) -> str:
    resp = client.submit("/match/", {"topic": "anxiety", "notes": notes}, form_page="/match/")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def token_in(body: str) -> str:
    found = re.search(r'<script src="[^"]+/shortlist\.js" data-intake-token="([^"]+)"', body)
    assert found, "the shortlist carries no token"
    return html.unescape(found.group(1))


def tables_holding(db: Session, needle: str) -> set[str]:
    found: set[str] = set()
    for name in inspect(db.connection()).get_table_names():
        for row in db.execute(text(f'SELECT * FROM "{name}"')):
            if any(needle in str(value) for value in row):
                found.add(name)
    return found


def test_each_match_offers_book_without_answers_in_any_url(
        db: Session, site: Platform, bookable: tuple[Profile, int], patient: User,
        signin: Callable[..., Any]) -> None:
    profile, _kind = bookable
    body = shortlist(client_of(site, signin))
    links = re.findall(r'<a class="button button-small" href="([^"]+)" data-intake-book', body)
    assert links == [f"/appointments/book/{profile.user_id}"]
    token = token_in(body)
    assert SECRET not in html.unescape(body).split("<form", 1)[0]  # only the edit form echoes it
    assert SECRET not in token  # encrypted
    carried = intake.read_matching_token(site.brands["wellness-corp"].loaded.config, token)
    assert {a.key: a.values for a in carried.answers} == {"topic": ("anxiety",),
                                                          "notes": (SECRET,)}
    # showing the shortlist stores nothing
    assert tables_holding(db, SECRET) == set()


def test_booking_from_the_shortlist_stores_the_answers_with_the_appointment_only(
        db: Session, site: Platform, bookable: tuple[Profile, int], patient: User,
        signin: Callable[..., Any]) -> None:
    profile, kind = bookable
    client = client_of(site, signin)
    token = token_in(shortlist(client))
    path = f"/appointments/book/{profile.user_id}"
    page = client.get(f"{path}?type={kind}&start={MONDAY_9_MADRID.isoformat()}")
    assert page.status_code == 200 and 'name="intake_token"' in page.text
    booked = client.submit(path, {"appointment_type": kind, "start": MONDAY_9_MADRID.isoformat(),
                                  "intake_token": token}, form_page=path)
    assert booked.status_code == 302, booked.text
    appointment = db.scalar(select(Appointment).where(Appointment.patient_id == patient.id)
                            .execution_options(all_brands=True))
    assert appointment is not None
    row = db.scalar(select(IntakeAnswers).execution_options(all_brands=True))
    assert row is not None and (row.appointment_id, row.source) == (appointment.id, "matching")
    assert tables_holding(db, SECRET) == set()  # stored encrypted (engine.crypto)


def test_booking_with_a_tampered_token_is_refused_and_books_nothing(
        db: Session, site: Platform, bookable: tuple[Profile, int], patient: User,
        signin: Callable[..., Any]) -> None:
    profile, kind = bookable
    client = client_of(site, signin)
    token = token_in(shortlist(client))
    path = f"/appointments/book/{profile.user_id}"
    refused = client.submit(path, {"appointment_type": kind,
                                   "start": MONDAY_9_MADRID.isoformat(),
                                   "intake_token": token[:-3] + "abc"}, form_page=path)
    assert refused.status_code == 400
    assert "Your answers could not be read" in html.unescape(refused.text)
    counts = [db.scalar(select(func.count(m.id)).execution_options(all_brands=True))
              for m in (Appointment, IntakeAnswers)]
    assert counts == [0, 0]


def test_booking_with_an_expired_token_is_refused(
        db: Session, site: Platform, bookable: tuple[Profile, int], patient: User,
        signin: Callable[..., Any]) -> None:
    profile, kind = bookable
    client = client_of(site, signin)
    token = token_in(shortlist(client))
    path = f"/appointments/book/{profile.user_id}"
    with clock.freeze(NOW + timedelta(hours=2, minutes=1)):
        signin(client, "matched@example.com")  # the idle session itself ended meanwhile
        refused = client.submit(path, {"appointment_type": kind,
                                       "start": MONDAY_9_MADRID.isoformat(),
                                       "intake_token": token}, form_page=path)
    assert refused.status_code == 400
    assert db.scalar(select(func.count(IntakeAnswers.id))
                     .execution_options(all_brands=True)) == 0
