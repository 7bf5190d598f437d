"""Cancelling and rescheduling under the brand's cancellation policy (brand YAML): free until
the window, inside it marked late or refused; a reschedule keeps the appointment and its UID and
bumps its SEQUENCE; each change emails the patient an updated .ics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar as ICalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.notify import Email
from engine.platform import Platform
from engine.web import UserError
from modules.booking import calendar, changes
from modules.booking import services as booking
from modules.booking.models import Appointment
from modules.booking.schemas import AppointmentTypeInput
from tests.modules.booking.conftest import Practice

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday
SOON = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday 09:00 Madrid: 20 h ahead
LATER = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # a week later: outside every window


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


def yaml_config(platform: Platform, slug: str) -> BrandConfig:
    """The brand as its YAML says (acme: 24 h, mark late; wellness: 48 h, refuse)."""
    return platform.brands[slug].loaded.config


def ics_of(email: Email) -> tuple[ICalendar, ICalendar]:
    assert email.attachments and email.attachments[0]["content_type"] == "text/calendar"
    cal = ICalendar.from_ical(email.attachments[0]["content"])
    return cal, cal.walk("VEVENT")[0]


def last_mail(db: Session, to: str) -> Email:
    found = db.scalars(select(Email).where(Email.recipient == to).order_by(Email.id.desc()))
    return next(iter(found))


@pytest.fixture
def booked(platform: Platform, db: Session, practice: Callable[..., Practice],
           create_user: Callable[..., User], session_of: Callable[[str], Session],
           ) -> Callable[..., tuple[Session, User, Appointment]]:
    """Factory: a patient's appointment at ``start`` on ``slug``, booked through changes."""

    def make(start: datetime, slug: str = "acme-clinic") -> tuple[Session, User, Appointment]:
        p = practice()
        cfg = yaml_config(platform, slug)
        kind = p.appointment_type
        if slug != "acme-clinic":
            kind = calendar.save_appointment_type(db, p.specialist, cfg, AppointmentTypeInput(
                name="Session", duration_minutes=50, modality="video", catalog_key="session",
                slot_interval_minutes=60))
        patient = create_user(role="patient", brand=slug)
        session = session_of(slug)
        with platform.app_for(slug).test_request_context():
            appointment = changes.book_appointment(session, patient, cfg, p.specialist.id,
                                                   kind.id, start)
        session.flush()
        return session, patient, appointment

    return make


def test_cancelling_before_the_window_is_free_and_sends_a_cancel_ics(
        platform: Platform, db: Session, booked: Callable[..., tuple[Session, User, Appointment]],
) -> None:
    session, patient, appointment = booked(LATER)
    _, first = ics_of(last_mail(db, patient.email))
    with platform.app_for("acme-clinic").test_request_context():
        done = changes.cancel(session, patient, yaml_config(platform, "acme-clinic"),
                              appointment.id)
    assert done.status == "cancelled"
    cal, event = ics_of(last_mail(db, patient.email))
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(event["UID"]) == str(first["UID"])
    assert int(event["SEQUENCE"]) == int(first["SEQUENCE"]) + 1


def test_cancelling_inside_the_window_marks_it_late_where_the_policy_says_mark_late(
        platform: Platform, booked: Callable[..., tuple[Session, User, Appointment]]) -> None:
    session, patient, appointment = booked(SOON)
    with platform.app_for("acme-clinic").test_request_context():
        done = changes.cancel(session, patient, yaml_config(platform, "acme-clinic"),
                              appointment.id)
    assert done.status == "late_cancelled"


def test_cancelling_inside_the_window_is_refused_where_the_policy_says_refuse(
        platform: Platform, db: Session,
        booked: Callable[..., tuple[Session, User, Appointment]]) -> None:
    session, patient, appointment = booked(SOON, "wellness-corp")
    mails = len(list(db.scalars(select(Email.id))))
    with platform.app_for("wellness-corp").test_request_context(), \
            pytest.raises(UserError) as caught:
        changes.cancel(session, patient, yaml_config(platform, "wellness-corp"), appointment.id)
    assert caught.value.code == "too_late"
    assert "48" in caught.value.message
    session.refresh(appointment)
    assert (appointment.status, appointment.ics_sequence) == ("confirmed", 0)
    assert len(list(db.scalars(select(Email.id)))) == mails


def test_cancelled_slot_is_free_again(
        platform: Platform, booked: Callable[..., tuple[Session, User, Appointment]]) -> None:
    session, patient, appointment = booked(LATER)
    cfg = yaml_config(platform, "acme-clinic")
    window = (LATER, LATER + timedelta(hours=1))

    def free() -> bool:
        return any(s.start_at == LATER for s in booking.available_slots(
            session, cfg, appointment.specialist_id, appointment.appointment_type_id, *window))

    assert not free()
    with platform.app_for("acme-clinic").test_request_context():
        changes.cancel(session, patient, cfg, appointment.id)
    assert free()


def test_reschedule_keeps_the_appointment_and_uid_and_bumps_the_sequence(
        platform: Platform, db: Session,
        booked: Callable[..., tuple[Session, User, Appointment]]) -> None:
    session, patient, appointment = booked(LATER)
    cfg = yaml_config(platform, "acme-clinic")
    _, first = ics_of(last_mail(db, patient.email))
    new_start = LATER + timedelta(hours=2)
    with platform.app_for("acme-clinic").test_request_context():
        moved = changes.reschedule(session, patient, cfg, appointment.id, new_start)
    assert moved.id == appointment.id
    assert (moved.start_at, moved.end_at) == (new_start, new_start + timedelta(hours=1))
    mail = last_mail(db, patient.email)
    assert mail.template == "booking/mail/rescheduled"
    cal, event = ics_of(mail)
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == str(first["UID"])
    assert int(event["SEQUENCE"]) == 1
    assert event.decoded("DTSTART") == new_start
    # the old time is free, the new one is not
    slots = {s.start_at for s in booking.available_slots(
        session, cfg, moved.specialist_id, moved.appointment_type_id, LATER,
        LATER + timedelta(hours=4))}
    assert LATER in slots and new_start not in slots


def test_reschedule_onto_a_taken_time_is_refused_and_changes_nothing(
        platform: Platform, db: Session, create_user: Callable[..., User],
        booked: Callable[..., tuple[Session, User, Appointment]]) -> None:
    session, patient, appointment = booked(LATER)
    cfg = yaml_config(platform, "acme-clinic")
    other = create_user(role="patient")
    taken = LATER + timedelta(hours=3)
    booking.book(session, other, cfg, appointment.specialist_id,
                 appointment.appointment_type_id, taken)
    with platform.app_for("acme-clinic").test_request_context(), pytest.raises(UserError) as caught:
        changes.reschedule(session, patient, cfg, appointment.id, taken)
    assert caught.value.code == "slot_taken"
    session.refresh(appointment)
    assert (appointment.start_at, appointment.ics_sequence) == (LATER, 0)


def test_reschedule_inside_the_window_is_refused_unless_the_policy_allows_it(
        platform: Platform, booked: Callable[..., tuple[Session, User, Appointment]]) -> None:
    session, patient, appointment = booked(SOON)
    cfg = yaml_config(platform, "acme-clinic")
    assert cfg.module_settings("booking").cancellation.reschedule_inside_window is False
    with platform.app_for("acme-clinic").test_request_context(), pytest.raises(UserError) as caught:
        changes.reschedule(session, patient, cfg, appointment.id, SOON + timedelta(hours=2))
    assert caught.value.code == "too_late"


def test_another_patients_appointment_is_not_found(
        platform: Platform, create_user: Callable[..., User],
        booked: Callable[..., tuple[Session, User, Appointment]]) -> None:
    session, _, appointment = booked(LATER)
    stranger = create_user(role="patient")
    cfg = yaml_config(platform, "acme-clinic")
    for attempt in (lambda: changes.cancel(session, stranger, cfg, appointment.id),
                    lambda: changes.reschedule(session, stranger, cfg, appointment.id,
                                               LATER + timedelta(hours=2))):
        with pytest.raises(UserError) as caught:
            attempt()
        assert caught.value.status == 404
    assert appointment.status == "confirmed"


def test_next_slots_span_the_patient_bookable_types_soonest_first(
        platform: Platform, db: Session, practice: Callable[..., Practice],
        session_of: Callable[[str], Session]) -> None:
    p = practice(hours=((0, "09:00", "11:00"), (2, "09:00", "10:00")))
    cfg = yaml_config(platform, "acme-clinic")
    calendar.save_appointment_type(db, p.specialist, cfg, AppointmentTypeInput(
        name="Staff only", duration_minutes=30, modality="video", catalog_key="first-visit",
        slot_interval_minutes=30, bookable_by="staff"))
    found = changes.next_slots(session_of("acme-clinic"), cfg, p.specialist.id, 3)
    assert [s.start_at for _, s in found] == [
        datetime(2026, 3, 2, 8, tzinfo=UTC), datetime(2026, 3, 2, 9, tzinfo=UTC),
        datetime(2026, 3, 4, 8, tzinfo=UTC)]
    assert {t.id for t, _ in found} == {p.appointment_type.id}
