"""The specialist's side of appointments through the services: the week of the one calendar,
status transitions (confirm, attendance, cancel) and retiring appointment types."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.notify import Email
from engine.platform import Platform
from engine.web import UserError
from modules.booking import attendance, calendar
from modules.booking import services as booking
from modules.booking.models import Appointment, AppointmentType
from modules.booking.schemas import AppointmentTypeInput, OverrideInput, WeeklyRangeInput
from tests.modules.booking.conftest import FIRST_VISIT, Practice, variant

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday
MONDAY_9_MADRID = "2026-03-02T09:00:00+01:00"
SESSION = AppointmentTypeInput(name="Counselling", duration_minutes=50, modality="video",
                               catalog_key="session", slot_interval_minutes=60)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


@pytest.fixture
def patient(create_user: Callable[..., User]) -> User:
    return create_user(role="patient", brand="acme-clinic", name="Ana Paciente")


def status_of(db: Session, appointment_id: int) -> str:
    db.expire_all()
    found = db.get(Appointment, appointment_id)
    assert found is not None
    return found.status


def refused(db: Session, appointment_id: int, code: str, call: Callable[[], object]) -> None:
    """``call`` fails with ``code`` and the appointment keeps its status."""
    before = status_of(db, appointment_id)
    with pytest.raises(UserError) as caught:
        call()
    assert caught.value.code == code, caught.value.message
    assert status_of(db, appointment_id) == before


def test_confirming_turns_a_requested_appointment_confirmed_and_tells_the_patient(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User, platform: Platform, outbox: Callable[[], list[Email]]) -> None:
    p = practice(appointment_type=variant(FIRST_VISIT, needs_confirmation=True))
    acme = brands["acme-clinic"]
    made = booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                        MONDAY_9_MADRID)
    assert made.status == "requested"
    before = len(outbox())
    with platform.app_for("acme-clinic").test_request_context():
        attendance.confirm_appointment(db, p.specialist, acme, made.id)
    assert status_of(db, made.id) == "confirmed"
    mails = outbox()[before:]
    assert [m.recipient for m in mails] == [patient.email]
    assert "Dr Vega" in (mails[0].body_text or "")
    event = (mails[0].attachments or [{}])[0]["content"]
    assert "METHOD:REQUEST" in event and "STATUS:CONFIRMED" in event
    assert "SEQUENCE:1" in event


def test_a_cancelled_appointment_cannot_be_confirmed(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User) -> None:
    p = practice(appointment_type=variant(FIRST_VISIT, needs_confirmation=True))
    acme = brands["acme-clinic"]
    made = booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                        MONDAY_9_MADRID)
    made.status = "cancelled"
    db.flush()
    refused(db, made.id, "invalid_status",
            lambda: attendance.confirm_appointment(db, p.specialist, acme, made.id))


def test_no_show_cannot_be_marked_before_the_start(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    made = booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                        MONDAY_9_MADRID)
    refused(db, made.id, "not_started",
            lambda: attendance.mark_attendance(db, p.specialist, acme, made.id, "no_show"))


def test_attendance_is_marked_once_started_and_can_be_corrected(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    made = booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                        MONDAY_9_MADRID)
    with clock.freeze(made.start_at + timedelta(minutes=5)):
        attendance.mark_attendance(db, p.specialist, acme, made.id, "no_show")
        assert status_of(db, made.id) == "no_show"
        attendance.mark_attendance(db, p.specialist, acme, made.id, "completed")
        assert status_of(db, made.id) == "completed"
        refused(db, made.id, "invalid",
                lambda: attendance.mark_attendance(db, p.specialist, acme, made.id,
                                                   "cancelled"))


def test_a_requested_appointment_cannot_be_marked_completed(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User) -> None:
    p = practice(appointment_type=variant(FIRST_VISIT, needs_confirmation=True))
    acme = brands["acme-clinic"]
    made = booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                        MONDAY_9_MADRID)
    with clock.freeze(made.end_at):
        refused(db, made.id, "invalid_status",
                lambda: attendance.mark_attendance(db, p.specialist, acme, made.id,
                                                   "completed"))
        refused(db, made.id, "started",
                lambda: attendance.confirm_appointment(db, p.specialist, acme, made.id))


def test_a_started_appointment_cannot_be_cancelled_by_the_specialist(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    made = booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                        MONDAY_9_MADRID)
    with clock.freeze(made.start_at):
        refused(db, made.id, "started",
                lambda: attendance.cancel_by_specialist(db, p.specialist, acme, made.id))


def test_another_specialists_appointment_is_not_found(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User) -> None:
    mine, theirs = practice(), practice()
    acme = brands["acme-clinic"]
    made = booking.book(db, patient, acme, theirs.specialist.id, theirs.appointment_type.id,
                        MONDAY_9_MADRID)
    for call in (lambda: attendance.appointment_detail(db, mine.specialist, acme, made.id),
                 lambda: attendance.confirm_appointment(db, mine.specialist, acme, made.id),
                 lambda: attendance.cancel_by_specialist(db, mine.specialist, acme, made.id)):
        with pytest.raises(UserError) as caught:
            call()
        assert caught.value.status == 404
    assert status_of(db, made.id) == "confirmed"


def test_an_appointment_of_another_brand_is_not_found_here(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice()
    wellness = brands["wellness-corp"]
    kind = calendar.save_appointment_type(db, p.specialist, wellness, SESSION)
    employee = create_user(role="patient", brand="wellness-corp")
    made = booking.book(db, employee, wellness, p.specialist.id, kind.id, MONDAY_9_MADRID)
    with pytest.raises(UserError) as caught:
        attendance.appointment_detail(db, p.specialist, brands["acme-clinic"], made.id)
    assert caught.value.status == 404
    assert attendance.appointment_detail(db, p.specialist, wellness, made.id).appointment is made


def test_week_holds_appointments_of_every_brand_with_working_and_blocked_time(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User, create_user: Callable[..., User]) -> None:
    p = practice()
    acme, wellness = brands["acme-clinic"], brands["wellness-corp"]
    kind = calendar.save_appointment_type(db, p.specialist, wellness, SESSION)
    employee = create_user(role="patient", brand="wellness-corp", name="Bob Employee")
    booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id, MONDAY_9_MADRID)
    booking.book(db, employee, wellness, p.specialist.id, kind.id,
                 "2026-03-02T11:00:00+01:00")
    calendar.add_override(db, p.specialist, acme, OverrideInput(
        kind="time_off", start_at=datetime(2026, 3, 2, 14, tzinfo=UTC),
        end_at=datetime(2026, 3, 2, 15, tzinfo=UTC)))

    week = attendance.specialist_week(db, p.specialist, acme, date(2026, 3, 4))
    monday = week.days[0]
    assert (week.monday, week.zone) == (date(2026, 3, 2), "Europe/Madrid")
    assert [(a.brand_id, a.patient_name, a.start_at.hour) for a in monday.appointments] == [
        ("acme-clinic", "Ana Paciente", 9), ("wellness-corp", "Bob Employee", 11)]
    assert [(s.start_at.hour, s.end_at.hour) for s in monday.working] == [(9, 17)]
    assert [(s.start_at.hour, s.end_at.hour) for s in monday.blocked] == [(15, 16)]
    assert all(not d.working and not d.appointments for d in week.days[1:])
    # the day's list (what a phone shows) is in time order
    assert [(kind, item.start_at.hour) for kind, item in monday.timeline()] == [
        ("working", 9), ("appointment", 9), ("appointment", 11), ("blocked", 15)]


def test_week_leaves_out_cancelled_appointments(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    made = booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                        MONDAY_9_MADRID)
    made.status = "cancelled"
    db.flush()
    week = attendance.specialist_week(db, p.specialist, acme, date(2026, 3, 2))
    assert week.days[0].appointments == []


def test_retiring_deletes_an_unused_type_and_deactivates_a_used_one(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    unused = calendar.save_appointment_type(db, p.specialist, acme,
                                            variant(FIRST_VISIT, name="Unused"))
    booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id, MONDAY_9_MADRID)
    assert attendance.retire_appointment_type(db, p.specialist, acme, unused.id) is True
    assert attendance.retire_appointment_type(db, p.specialist, acme,
                                              p.appointment_type.id) is False
    rows = db.scalars(select(AppointmentType).where(
        AppointmentType.specialist_id == p.specialist.id)).all()
    assert [(r.name, r.active) for r in rows] == [("First visit", False)]
    assert calendar.appointment_types(db, acme, p.specialist.id) == []


def test_patients_cannot_use_the_specialist_services(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    made = booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                        MONDAY_9_MADRID)
    with pytest.raises(UserError) as caught:
        attendance.appointment_detail(db, patient, acme, made.id)
    assert caught.value.status == 403


def test_overlapping_weekly_ranges_are_refused_by_the_calendar_service(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice]) -> None:
    p = practice()
    own = calendar.calendar_of(db, p.specialist.id)
    assert own is not None
    before = [(r.weekday, r.start_minute, r.end_minute) for r in calendar.weekly_rules(db, own)]
    with pytest.raises(UserError) as caught:
        calendar.set_weekly_rules(db, p.specialist, brands["acme-clinic"], [
            WeeklyRangeInput(weekday=1, start_minute=600, end_minute=720),
            WeeklyRangeInput(weekday=1, start_minute=540, end_minute=660)])
    assert caught.value.code == "overlap"
    assert [(r.weekday, r.start_minute, r.end_minute)
            for r in calendar.weekly_rules(db, own)] == before
    # touching ranges, and the same hours on two days, are fine
    calendar.set_weekly_rules(db, p.specialist, brands["acme-clinic"], [
        WeeklyRangeInput(weekday=1, start_minute=540, end_minute=600),
        WeeklyRangeInput(weekday=1, start_minute=600, end_minute=720),
        WeeklyRangeInput(weekday=2, start_minute=540, end_minute=600)])
    assert len(calendar.weekly_rules(db, own)) == 3
