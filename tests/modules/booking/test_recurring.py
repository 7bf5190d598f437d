"""Recurring series: every occurrence is checked before the patient confirms, the free ones are
booked one by one (a taken one does not fail the others), and the local time survives DST."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.web import UserError
from modules.booking import calendar, recurring
from modules.booking import services as booking
from modules.booking.models import Appointment
from modules.booking.models_waitlist import Series, SeriesMember
from modules.booking.recurring import SeriesRule
from modules.booking.schemas import OverrideInput
from tests.conftest import BrandClient
from tests.modules.booking.conftest import Practice

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday; Madrid moves to summer time on Mar 29
MADRID = ZoneInfo("Europe/Madrid")


def monday_9(day: int, month: int = 3) -> datetime:
    """09:00 in Madrid on a Monday of 2026, as UTC."""
    return datetime(2026, month, day, 9, 0, tzinfo=MADRID).astimezone(UTC)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)
                     .execution_options(all_brands=True)) or 0


@pytest.fixture
def busy_practice(db: Session, brands: dict[str, BrandConfig],
                  practice: Callable[..., Practice],
                  create_user: Callable[..., User]) -> Practice:
    """Mondays 09:00-17:00 in Madrid; Mar 9 09:00 booked by someone else; Mar 16 a day off."""
    p = practice()
    acme = brands["acme-clinic"]
    other = create_user(role="patient", brand="acme-clinic")
    booking.book(db, other, acme, p.specialist.id, p.appointment_type.id, monday_9(9))
    calendar.add_override(db, p.specialist, acme,
                          OverrideInput(kind="day_off", on_date=date(2026, 3, 16)))
    return p


def test_preview_marks_each_occurrence_free_or_clashing_with_the_reason(
        db: Session, brands: dict[str, BrandConfig], busy_practice: Practice,
        create_user: Callable[..., User]) -> None:
    patient = create_user(role="patient", brand="acme-clinic")
    p = busy_practice
    found = recurring.preview_series(db, patient, brands["acme-clinic"], p.specialist.id,
                                     p.appointment_type.id, monday_9(2),
                                     SeriesRule(frequency="weekly", count=4))
    assert [(o.start_at, o.free, o.code) for o in found] == [
        (monday_9(2), True, None),
        (monday_9(9), False, "slot_taken"),       # another patient's appointment
        (monday_9(16), False, "not_available"),   # the specialist's day off
        (monday_9(23), True, None),
    ]
    assert all(o.reason for o in found if not o.free)
    assert count(db, Series) == 0  # a preview writes nothing


def test_booking_the_free_occurrences_links_them_in_one_series(
        db: Session, brands: dict[str, BrandConfig], busy_practice: Practice,
        create_user: Callable[..., User]) -> None:
    patient = create_user(role="patient", brand="acme-clinic")
    p, acme = busy_practice, brands["acme-clinic"]
    rule = SeriesRule(frequency="weekly", count=4)
    result = recurring.book_series(db, patient, acme, p.specialist.id, p.appointment_type.id,
                                   monday_9(2), rule, [monday_9(2), monday_9(23)])
    assert [a.start_at for a in result.booked] == [monday_9(2), monday_9(23)]
    assert all(a.patient_id == patient.id and a.status == "confirmed" for a in result.booked)
    assert result.series is not None
    members = set(db.scalars(select(SeriesMember.appointment_id)
                             .where(SeriesMember.series_id == result.series.id)))
    assert members == {a.id for a in result.booked}


def test_an_occurrence_taken_meanwhile_is_reported_and_the_others_still_book(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p, acme = practice(), brands["acme-clinic"]
    patient = create_user(role="patient", brand="acme-clinic")
    rule = SeriesRule(frequency="weekly", count=3)
    previewed = recurring.preview_series(db, patient, acme, p.specialist.id,
                                         p.appointment_type.id, monday_9(2), rule)
    assert all(o.free for o in previewed)
    rival = create_user(role="patient", brand="acme-clinic")
    booking.book(db, rival, acme, p.specialist.id, p.appointment_type.id, monday_9(9))
    result = recurring.book_series(db, patient, acme, p.specialist.id, p.appointment_type.id,
                                   monday_9(2), rule, [o.start_at for o in previewed])
    assert [(o.start_at, o.appointment is not None, o.code) for o in result.outcomes] == [
        (monday_9(2), True, None), (monday_9(9), False, "slot_taken"),
        (monday_9(16), True, None)]
    assert len(result.booked) == 2


def test_a_series_of_500_occurrences_is_refused_and_changes_nothing(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p, acme = practice(), brands["acme-clinic"]
    patient = create_user(role="patient", brand="acme-clinic")
    before = count(db, Appointment)
    rule = SeriesRule(frequency="weekly", count=500)
    for call in (
            lambda: recurring.preview_series(db, patient, acme, p.specialist.id,
                                             p.appointment_type.id, monday_9(2), rule),
            lambda: recurring.book_series(db, patient, acme, p.specialist.id,
                                          p.appointment_type.id, monday_9(2), rule,
                                          [monday_9(2)])):
        with pytest.raises(UserError) as caught:
            call()
        assert caught.value.code == "too_many"
        assert "26" in caught.value.message  # the brand's maximum, named
    assert (count(db, Appointment), count(db, Series)) == (before, 0)


def test_a_time_that_is_not_an_occurrence_is_refused(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p, acme = practice(), brands["acme-clinic"]
    patient = create_user(role="patient", brand="acme-clinic")
    with pytest.raises(UserError) as caught:
        recurring.book_series(db, patient, acme, p.specialist.id, p.appointment_type.id,
                              monday_9(2), SeriesRule(count=2),
                              [monday_9(2), monday_9(2) + timedelta(hours=1)])
    assert caught.value.code == "invalid"
    assert count(db, Appointment) == 0


def test_every_two_weeks_across_the_dst_change_keeps_the_local_time(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p, acme = practice(), brands["acme-clinic"]
    patient = create_user(role="patient", brand="acme-clinic")
    found = recurring.preview_series(db, patient, acme, p.specialist.id, p.appointment_type.id,
                                     monday_9(16), SeriesRule(frequency="biweekly", count=3))
    assert [o.start_at for o in found] == [monday_9(16), monday_9(30), monday_9(13, 4)]
    # 08:00 UTC in winter, 07:00 UTC in summer: always 09:00 in Madrid
    assert [o.start_at.hour for o in found] == [8, 7, 7]
    assert {o.start_at.astimezone(MADRID).hour for o in found} == {9}
    assert all(o.free for o in found)


def test_until_a_date_across_the_dst_change_keeps_the_local_time_and_books(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p, acme = practice(), brands["acme-clinic"]
    patient = create_user(role="patient", brand="acme-clinic")
    rule = SeriesRule(frequency="weekly", until=date(2026, 4, 6))
    found = recurring.preview_series(db, patient, acme, p.specialist.id, p.appointment_type.id,
                                     monday_9(23), rule)
    assert [o.start_at for o in found] == [monday_9(23), monday_9(30), monday_9(6, 4)]
    result = recurring.book_series(db, patient, acme, p.specialist.id, p.appointment_type.id,
                                   monday_9(23), rule, [o.start_at for o in found])
    assert {a.start_at.astimezone(MADRID).hour for a in result.booked} == {9}
    assert len(result.booked) == 3


def test_patient_previews_in_their_zone_and_books_the_free_ones_from_the_page(
        db: Session, busy_practice: Practice, create_user: Callable[..., User],
        client: BrandClient, signin: Callable[..., object]) -> None:
    p = busy_practice
    patient = create_user(role="patient", brand="acme-clinic")
    patient.timezone = "America/New_York"
    db.flush()
    signin(client, patient.email)
    path = f"/appointments/series/{p.specialist.id}/{p.appointment_type.id}"
    query = {"start": monday_9(2).isoformat(), "frequency": "weekly", "count": "4"}
    page = client.get(path, query_string=query)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('name="chosen"') == 2  # only the free ones can be chosen
    # 09:00 in Madrid is 03:00 in New York, 04:00 once New York is on summer time (Mar 8)
    assert re.findall(r"\b(\d{1,2}):00:00", html) == ["3", "4", "4", "4"]
    answer = client.submit(path, {**query, "chosen": [monday_9(2).isoformat(),
                                                      monday_9(23).isoformat()]},
                           form_page=f"{path}?{urlencode(query)}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    booked = list(db.scalars(select(Appointment.start_at).where(
        Appointment.patient_id == patient.id).order_by(Appointment.start_at)))
    assert booked == [monday_9(2), monday_9(23)]
    assert count(db, Series) == 1
