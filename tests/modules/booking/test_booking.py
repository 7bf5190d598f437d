"""Booking through the services: availability from the database, one calendar across brands,
and every refusal is a clear error that writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import SpecialistMembership, User
from engine.web import UserError
from modules.booking import calendar
from modules.booking import services as booking
from modules.booking.models import Appointment
from modules.booking.schemas import AppointmentTypeInput, OverrideInput, WeeklyRangeInput
from tests.modules.booking.conftest import FIRST_VISIT, Practice, variant, with_booking

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday
MONDAY_9_MADRID = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
WEEK = (NOW, NOW + timedelta(days=7))


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


def appointments(db: Session) -> int:
    return db.scalar(select(func.count(Appointment.id)).execution_options(all_brands=True)) or 0


def refused(db: Session, code: str, call: Callable[[], Any]) -> UserError:
    """``call`` fails with ``code`` and leaves no appointment behind."""
    before = appointments(db)
    with pytest.raises(UserError) as caught:
        call()
    assert caught.value.code == code, caught.value.message
    assert appointments(db) == before
    return caught.value


def test_available_slots_follow_weekly_hours_in_the_specialists_zone(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice]) -> None:
    p = practice(zone="America/Santiago", hours=((0, "09:00", "11:00"),))
    found = booking.available_slots(db, brands["acme-clinic"], p.specialist.id,
                                    p.appointment_type.id, *WEEK)
    # Santiago is UTC-3 in March (summer time)
    assert [s.start_at for s in found] == [datetime(2026, 3, 2, 12, tzinfo=UTC),
                                           datetime(2026, 3, 2, 13, tzinfo=UTC)]


def test_booking_confirms_the_slot_and_takes_it_off_availability(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice()
    patient = create_user(role="patient", brand="acme-clinic")
    acme = brands["acme-clinic"]
    made = booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                        "2026-03-02T09:00:00+01:00")
    assert (made.status, made.brand_id, made.patient_id, made.booked_by_id) == (
        "confirmed", "acme-clinic", patient.id, patient.id)
    assert (made.start_at, made.end_at) == (MONDAY_9_MADRID, MONDAY_9_MADRID + timedelta(hours=1))
    assert (made.price_minor, made.currency, made.modality) == (8000, "EUR", "video")
    starts = [s.start_at for s in booking.available_slots(db, acme, p.specialist.id,
                                                          p.appointment_type.id, *WEEK)]
    assert MONDAY_9_MADRID not in starts and len(starts) == 7


def test_type_needing_confirmation_books_as_requested(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice(appointment_type=variant(FIRST_VISIT, needs_confirmation=True))
    patient = create_user(role="patient", brand="acme-clinic")
    made = booking.book(db, patient, brands["acme-clinic"], p.specialist.id,
                        p.appointment_type.id, MONDAY_9_MADRID)
    assert made.status == "requested"


def test_a_booking_on_one_brand_removes_the_slot_on_the_other(
        brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User], session_of: Callable[[str], Session]) -> None:
    buffered = variant(FIRST_VISIT, buffer_after_minutes=30, slot_interval_minutes=30)
    p = practice(appointment_type=buffered)
    wellness_db, acme_db = session_of("wellness-corp"), session_of("acme-clinic")
    wellness = brands["wellness-corp"]
    counselling = calendar.save_appointment_type(
        wellness_db, wellness_db.get(User, p.specialist.id), wellness,
        AppointmentTypeInput(name="Counselling", duration_minutes=50, modality="video",
                             catalog_key="session", slot_interval_minutes=30))
    patient = wellness_db.get(User, create_user(role="patient", brand="wellness-corp").id)
    made = booking.book(wellness_db, patient, wellness, p.specialist.id, counselling.id,
                        "2026-03-02T11:00:00+01:00")
    wellness_db.flush()
    assert (made.brand_id, made.price_minor, made.currency) == ("wellness-corp", 9500, "USD")
    # acme's own queries never see wellness rows...
    assert acme_db.scalar(select(func.count(Appointment.id))) == 0
    # ...but acme's availability does: an acme slot blocks 60 minutes plus 30 of buffer, so
    # 10:00 to 11:30 (Madrid) would run into the 11:00-11:50 appointment
    madrid = ZoneInfo("Europe/Madrid")
    starts = [s.start_at.astimezone(madrid).strftime("%H:%M")
              for s in booking.available_slots(acme_db, brands["acme-clinic"], p.specialist.id,
                                               p.appointment_type.id, *WEEK)]
    assert starts == ["09:00", "09:30", "12:00", "12:30", "13:00", "13:30", "14:00", "14:30",
                      "15:00", "15:30", "16:00"]
    acme_patient = acme_db.get(User, create_user(role="patient", brand="acme-clinic").id)
    refused(acme_db, "slot_taken", lambda: booking.book(
        acme_db, acme_patient, brands["acme-clinic"], p.specialist.id, p.appointment_type.id,
        "2026-03-02T10:30:00+01:00"))


def test_buffers_are_stored_as_the_blocked_interval(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice(appointment_type=variant(FIRST_VISIT, buffer_before_minutes=10,
                                          buffer_after_minutes=15))
    made = booking.book(db, create_user(role="patient"), brands["acme-clinic"],
                        p.specialist.id, p.appointment_type.id, "2026-03-02T10:00:00+01:00")
    assert made.blocked_start_at == made.start_at - timedelta(minutes=10)
    assert made.blocked_end_at == made.end_at + timedelta(minutes=15)


def test_day_off_and_extra_hours_saved_by_the_specialist_change_availability(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice]) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    calendar.add_override(db, p.specialist, acme,
                         OverrideInput(kind="day_off", on_date=date(2026, 3, 2)))
    extra = calendar.add_override(db, p.specialist, acme, OverrideInput(
        kind="extra_hours", on_date=date(2026, 3, 4), start_minute="18:00", end_minute="19:00"))
    found = booking.available_slots(db, acme, p.specialist.id, p.appointment_type.id, *WEEK)
    assert [s.start_at for s in found] == [datetime(2026, 3, 4, 17, tzinfo=UTC)]
    calendar.remove_override(db, p.specialist, acme, extra.id)
    assert booking.available_slots(db, acme, p.specialist.id, p.appointment_type.id,
                                   *WEEK) == []


def test_time_off_saved_by_the_specialist_removes_slots(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice]) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    calendar.add_override(db, p.specialist, acme, OverrideInput(
        kind="time_off", start_at="2026-03-02T09:30:00+01:00", end_at="2026-03-02T16:00:00+01:00"))
    found = booking.available_slots(db, acme, p.specialist.id, p.appointment_type.id, *WEEK)
    assert [s.start_at for s in found] == [datetime(2026, 3, 2, 15, tzinfo=UTC)]


def test_saving_weekly_rules_replaces_the_previous_ones(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice]) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    rules = calendar.set_weekly_rules(db, p.specialist, acme, [
        WeeklyRangeInput(weekday=1, start_minute="08:00", end_minute="09:00"),
        WeeklyRangeInput(weekday=1, start_minute="18:00", end_minute="24:00")])
    assert [(r.weekday, r.start_minute, r.end_minute) for r in rules] == [(1, 480, 540),
                                                                          (1, 1080, 1440)]
    found = booking.available_slots(db, acme, p.specialist.id, p.appointment_type.id, *WEEK)
    assert len(found) == 7 and found[0].start_at == datetime(2026, 3, 3, 7, tzinfo=UTC)


def test_weekly_rules_allow_at_most_twelve_ranges_a_day(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice]) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    ranges = [WeeklyRangeInput(weekday=2, start_minute=60 * h, end_minute=60 * h + 30)
              for h in range(13)]
    refused(db, "too_many", lambda: calendar.set_weekly_rules(db, p.specialist, acme, ranges))
    saved = calendar.set_weekly_rules(db, p.specialist, acme, ranges[:12] + [
        WeeklyRangeInput(weekday=3, start_minute=0, end_minute=60)])
    assert len(saved) == 13


def test_only_specialists_of_the_brand_manage_availability(
        db: Session, brands: dict[str, BrandConfig], create_user: Callable[..., User]) -> None:
    patient = create_user(role="patient")
    refused(db, "forbidden", lambda: calendar.set_calendar_zone(
        db, patient, brands["acme-clinic"], "Europe/Madrid"))
    specialist = create_user(role="specialist", brand="acme-clinic")
    refused(db, "forbidden", lambda: calendar.set_weekly_rules(
        db, specialist, brands["wellness-corp"], []))
    refused(db, "invalid_timezone", lambda: calendar.set_calendar_zone(
        db, specialist, brands["acme-clinic"], "Mars/Olympus"))


# --- prices under the brand's rules ------------------------------------------------------------


def test_fixed_price_brand_takes_the_price_from_its_catalogue_in_minor_units(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice]) -> None:
    p = practice()
    assert (p.appointment_type.price_minor, p.appointment_type.currency) == (8000, "EUR")
    acme = brands["acme-clinic"]
    custom = variant(FIRST_VISIT, catalog_key=None, price="10.00")
    refused(db, "price_fixed", lambda: calendar.save_appointment_type(db, p.specialist, acme,
                                                                      custom))
    other = variant(FIRST_VISIT, price="81.00")
    refused(db, "price_fixed", lambda: calendar.save_appointment_type(db, p.specialist, acme,
                                                                      other))


def test_specialist_defined_prices_stay_within_the_brands_bounds(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice]) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    pricing = type(acme.pricing).model_validate({
        **acme.pricing.model_dump(), "strategy": "specialist_defined",
        "specialist_price_min": "40", "specialist_price_max": "120"})
    open_prices = acme.model_copy(update={"pricing": pricing})
    mine = variant(FIRST_VISIT, catalog_key=None, price="55.50")
    assert calendar.save_appointment_type(db, p.specialist, open_prices, mine).price_minor == 5550
    too_high = variant(mine, price="150.00")
    refused(db, "invalid_price", lambda: calendar.save_appointment_type(
        db, p.specialist, open_prices, too_high))


@pytest.mark.parametrize("strategy", ["sponsored", "package", "subscription"])
def test_only_specialist_defined_pricing_lets_a_specialist_name_a_price(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        strategy: str) -> None:
    p = practice()
    wellness = brands["wellness-corp"]
    offers = {  # package and subscription strategies sell prepaid sessions
        "packages": [{"key": "five", "name": "Five", "sessions": 5, "price": "200",
                      "valid_days": 90}],
        "subscriptions": [{"key": "monthly", "name": "Monthly", "sessions_per_period": 2,
                           "price_per_month": "120"}]}
    pricing = type(wellness.pricing).model_validate({**wellness.pricing.model_dump(),
                                                     "strategy": strategy, **offers})
    brand = wellness.model_copy(update={"pricing": pricing})
    own_price = variant(FIRST_VISIT, catalog_key=None, price="10.00")
    refused(db, "price_fixed", lambda: calendar.save_appointment_type(
        db, p.specialist, brand, own_price))


def test_in_person_types_need_a_location() -> None:
    with pytest.raises(ValueError, match="location"):
        AppointmentTypeInput(name="Visit", duration_minutes=30, modality="in_person")


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("start, code", [
    ("2026-03-01T09:00:00+01:00", "past"),
    ("next monday at nine", "invalid_time"),
    ("2026-03-02T09:00:00", "invalid_time"),  # no zone offset: which 09:00?
    ("2026-02-30T09:00:00Z", "invalid_time"),
    ("2026-03-02T09:15:00+01:00", "not_available"),  # not on the slot grid
    ("2026-03-02T17:00:00+01:00", "not_available"),  # outside working hours
    ("2026-03-03T09:00:00+01:00", "not_available"),  # Tuesday: no hours
    ("2027-03-01T09:00:00+01:00", "not_available"),  # beyond 60 days ahead
])
def test_booking_a_bad_time_is_refused(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User], start: str, code: str) -> None:
    p = practice()
    patient = create_user(role="patient")
    refused(db, code, lambda: booking.book(db, patient, brands["acme-clinic"], p.specialist.id,
                                           p.appointment_type.id, start))


def test_booking_a_taken_slot_is_refused_as_slot_taken(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    booking.book(db, create_user(role="patient"), acme, p.specialist.id, p.appointment_type.id,
                 MONDAY_9_MADRID)
    error = refused(db, "slot_taken", lambda: booking.book(
        db, create_user(role="patient"), acme, p.specialist.id, p.appointment_type.id,
        MONDAY_9_MADRID))
    assert error.status == 409


def test_appointment_type_of_another_specialist_is_refused(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    mine, theirs = practice(), practice()
    refused(db, "not_found", lambda: booking.book(
        db, create_user(role="patient"), brands["acme-clinic"], mine.specialist.id,
        theirs.appointment_type.id, MONDAY_9_MADRID))


def test_appointment_type_of_another_brand_is_refused(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice()  # the type is offered on acme-clinic
    refused(db, "not_found", lambda: booking.book(
        db, create_user(role="patient", brand="wellness-corp"), brands["wellness-corp"],
        p.specialist.id, p.appointment_type.id, MONDAY_9_MADRID))


def test_specialist_no_longer_working_on_the_brand_cannot_be_booked(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice()
    membership = db.scalar(select(SpecialistMembership).where(
        SpecialistMembership.user_id == p.specialist.id,
        SpecialistMembership.brand_id == "acme-clinic"))
    assert membership is not None
    membership.active = False
    db.flush()
    refused(db, "not_found", lambda: booking.book(
        db, create_user(role="patient"), brands["acme-clinic"], p.specialist.id,
        p.appointment_type.id, MONDAY_9_MADRID))
    assert booking.available_slots(db, brands["acme-clinic"], p.specialist.id,
                                   p.appointment_type.id, *WEEK) == []


def test_a_patient_cannot_book_for_someone_else(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice()
    me, other = create_user(role="patient"), create_user(role="patient")
    refused(db, "forbidden", lambda: booking.book(
        db, me, brands["acme-clinic"], p.specialist.id, p.appointment_type.id, MONDAY_9_MADRID,
        patient_id=other.id))


def test_a_patient_of_another_brand_cannot_book_here(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice()
    refused(db, "forbidden", lambda: booking.book(
        db, create_user(role="patient", brand="wellness-corp"), brands["acme-clinic"],
        p.specialist.id, p.appointment_type.id, MONDAY_9_MADRID))


def test_staff_only_types_refuse_patients_and_accept_staff_for_a_patient(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice(appointment_type=variant(FIRST_VISIT, bookable_by="staff"))
    acme = brands["acme-clinic"]
    patient = create_user(role="patient")
    refused(db, "staff_only", lambda: booking.book(
        db, patient, acme, p.specialist.id, p.appointment_type.id, MONDAY_9_MADRID))
    made = booking.book(db, p.specialist, acme, p.specialist.id, p.appointment_type.id,
                        MONDAY_9_MADRID, patient_id=patient.id)
    assert (made.patient_id, made.booked_by_id) == (patient.id, p.specialist.id)
    admin = create_user(role="org_admin", organization="acme-madrid")
    later = booking.book(db, admin, acme, p.specialist.id, p.appointment_type.id,
                         MONDAY_9_MADRID + timedelta(hours=1), patient_id=patient.id)
    assert later.booked_by_id == admin.id


def test_staff_must_name_a_patient_of_this_brand_and_only_book_their_own_calendar(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p, colleague = practice(), practice()
    acme = brands["acme-clinic"]
    outsider = create_user(role="patient", brand="wellness-corp")
    refused(db, "not_found", lambda: booking.book(
        db, p.specialist, acme, p.specialist.id, p.appointment_type.id, MONDAY_9_MADRID,
        patient_id=outsider.id))
    refused(db, "not_found", lambda: booking.book(
        db, p.specialist, acme, p.specialist.id, p.appointment_type.id, MONDAY_9_MADRID))
    refused(db, "forbidden", lambda: booking.book(
        db, colleague.specialist, acme, p.specialist.id, p.appointment_type.id,
        MONDAY_9_MADRID, patient_id=create_user(role="patient").id))


def test_modality_must_be_chosen_for_types_offered_both_ways(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    both = variant(FIRST_VISIT, modality="both", location="Calle Mayor 1")
    p = practice(appointment_type=both)
    acme, patient = brands["acme-clinic"], create_user(role="patient")
    refused(db, "invalid", lambda: booking.book(
        db, patient, acme, p.specialist.id, p.appointment_type.id, MONDAY_9_MADRID))
    made = booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                        MONDAY_9_MADRID, modality="in_person")
    assert made.modality == "in_person"


def test_a_patient_may_hold_only_the_brands_limit_of_upcoming_appointments(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice()
    strict = with_booking(brands["acme-clinic"], max_upcoming_per_patient=1)
    patient = create_user(role="patient")
    booking.book(db, patient, strict, p.specialist.id, p.appointment_type.id, MONDAY_9_MADRID)
    refused(db, "too_many", lambda: booking.book(
        db, patient, strict, p.specialist.id, p.appointment_type.id,
        MONDAY_9_MADRID + timedelta(hours=1)))


def test_booking_is_not_available_on_a_brand_without_the_module(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User], platform: Any) -> None:
    p = practice()
    config = platform.brands["acme-clinic"].loaded.config
    without = config.model_copy(update={"modules": config.modules.model_copy(
        update={"booking": None})})
    assert without.module_settings("booking") is None
    error = refused(db, "not_found", lambda: booking.book(
        db, create_user(role="patient"), without, p.specialist.id, p.appointment_type.id,
        MONDAY_9_MADRID))
    assert error.status == 404


def test_daily_cap_is_enforced_when_booking(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice(appointment_type=variant(FIRST_VISIT, daily_cap=1))
    acme = brands["acme-clinic"]
    booking.book(db, create_user(role="patient"), acme, p.specialist.id, p.appointment_type.id,
                 MONDAY_9_MADRID)
    error = refused(db, "fully_booked", lambda: booking.book(
        db, create_user(role="patient"), acme, p.specialist.id, p.appointment_type.id,
        MONDAY_9_MADRID + timedelta(hours=3)))
    assert error.status == 409
