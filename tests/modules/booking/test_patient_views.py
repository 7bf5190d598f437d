"""The patient's booking pages over HTTP on acme-clinic: availability in the patient's zone,
booking with an emailed .ics, clear errors that change nothing, "My appointments", cancel and
reschedule pages, the public next-slots JSON and the booking fragment on directory profiles."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar as ICalendar
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.identity.models import User
from engine.notify import Email
from engine.platform import Platform
from modules.booking import services as booking
from modules.booking.models import Appointment
from modules.directory import services as directory
from modules.directory.schemas import ProfileInput
from tests.conftest import BrandClient
from tests.modules.booking.conftest import Practice

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday
MONDAY_9_MADRID = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 03:00 in New York
NEXT_MONDAY_9_MADRID = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


@pytest.fixture
def patient_client(client: BrandClient, create_user: Callable[..., User], db: Session,
                   signin: Callable[..., Any]) -> tuple[BrandClient, User]:
    """A signed-in acme-clinic patient in New York who reads English."""
    patient = create_user(role="patient")
    patient.timezone, patient.locale = "America/New_York", "en"
    db.flush()
    signin(client, patient.email)
    return client, patient


def count(db: Session) -> int:
    return db.scalar(select(func.count(Appointment.id))
                     .execution_options(all_brands=True)) or 0


def test_booking_page_shows_slots_in_the_patients_zone(
        patient_client: tuple[BrandClient, User], practice: Callable[..., Practice]) -> None:
    client, _ = patient_client
    p = practice()
    page = client.get(f"/appointments/book/{p.specialist.id}").get_data(as_text=True)
    assert '<time datetime="2026-03-02T08:00:00+00:00">03:00</time>' in page
    assert "America/New_York" in page
    # the zone selector changes the display only
    page = client.get(f"/appointments/book/{p.specialist.id}?tz=Europe/Madrid"
                      ).get_data(as_text=True)
    assert '<time datetime="2026-03-02T08:00:00+00:00">09:00</time>' in page


def test_booking_over_http_confirms_and_emails_an_ics(
        patient_client: tuple[BrandClient, User], practice: Callable[..., Practice],
        outbox: Callable[[], list[Email]], db: Session) -> None:
    client, patient = patient_client
    p = practice()
    path = f"/appointments/book/{p.specialist.id}"
    resp = client.submit(path, {"appointment_type": p.appointment_type.id,
                                "start": MONDAY_9_MADRID.isoformat()})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    appointment = db.scalar(select(Appointment).where(Appointment.patient_id == patient.id))
    assert appointment is not None and appointment.status == "confirmed"
    assert resp.headers["Location"].endswith(f"/appointments/{appointment.id}")
    mail = [m for m in outbox() if m.recipient == patient.email][-1]
    assert mail.template == "booking/mail/confirmed"
    assert "03:00" in (mail.body_text or "")  # the patient's zone
    assert mail.attachments is not None
    cal = ICalendar.from_ical(mail.attachments[0]["content"])
    event = cal.walk("VEVENT")[0]
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == f"appointment-{appointment.id}@acme.localhost"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == MONDAY_9_MADRID
    listing = client.get("/appointments/").get_data(as_text=True)
    assert "Confirmed" in listing and "First visit" in listing


def test_a_type_needing_confirmation_is_requested_and_the_mail_says_so(
        patient_client: tuple[BrandClient, User], practice: Callable[..., Practice],
        outbox: Callable[[], list[Email]], db: Session) -> None:
    client, patient = patient_client
    p = practice()
    p.appointment_type.needs_confirmation = True
    db.flush()
    client.submit(f"/appointments/book/{p.specialist.id}",
                  {"appointment_type": p.appointment_type.id,
                   "start": MONDAY_9_MADRID.isoformat()})
    mail = [m for m in outbox() if m.recipient == patient.email][-1]
    assert "awaits the specialist's confirmation" in (mail.body_text or "")
    assert mail.subject.startswith("Appointment requested")


def test_slot_taken_between_page_and_post_is_a_clear_error_that_changes_nothing(
        patient_client: tuple[BrandClient, User], practice: Callable[..., Practice],
        create_user: Callable[..., User], platform: Platform, db: Session) -> None:
    client, patient = patient_client
    p = practice()
    path = f"/appointments/book/{p.specialist.id}"
    assert client.get(path).status_code == 200
    rival = create_user(role="patient")
    booking.book(db, rival, platform.brands["acme-clinic"].loaded.config, p.specialist.id,
                 p.appointment_type.id, MONDAY_9_MADRID)
    db.flush()
    before = count(db)
    resp = client.submit(path, {"appointment_type": p.appointment_type.id,
                                "start": MONDAY_9_MADRID.isoformat()}, form_page=path)
    assert resp.status_code == 409
    assert "This time has just been taken" in resp.get_data(as_text=True)
    assert count(db) == before


@pytest.mark.parametrize(("start", "status", "message"), [
    ("2026-02-27T08:00:00+00:00", 400, "This time is in the past."),
    ("next monday", 400, "This is not a time"),
    ("2026-03-02T08:30:00+00:00", 400, "This time is not available."),
])
def test_bad_times_re_render_the_page_with_the_reason(
        patient_client: tuple[BrandClient, User], practice: Callable[..., Practice],
        db: Session, start: str, status: int, message: str) -> None:
    client, _ = patient_client
    p = practice()
    before = count(db)
    resp = client.submit(f"/appointments/book/{p.specialist.id}",
                         {"appointment_type": p.appointment_type.id, "start": start})
    assert resp.status_code == status
    assert message in resp.get_data(as_text=True)
    assert count(db) == before


@pytest.mark.parametrize("form", [
    {"appointment_type": "first", "start": "2026-03-02T08:00:00+00:00"},
    {"start": "2026-03-02T08:00:00+00:00"},
    {"appointment_type": "1", "start": ""},
])
def test_malformed_booking_forms_re_render_the_page_and_book_nothing(
        patient_client: tuple[BrandClient, User], practice: Callable[..., Practice],
        db: Session, form: dict[str, str]) -> None:
    client, _ = patient_client
    p = practice()
    before = count(db)
    resp = client.submit(f"/appointments/book/{p.specialist.id}", form)
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert 'role="alert"' in page and "Free times" in page
    assert count(db) == before


def test_the_upcoming_limit_is_a_clear_error(
        patient_client: tuple[BrandClient, User], practice: Callable[..., Practice],
        platform: Platform, db: Session) -> None:
    client, patient = patient_client
    p = practice(hours=tuple((d, "09:00", "17:00") for d in range(5)))
    acme = platform.brands["acme-clinic"].loaded.config
    limit = acme.module_settings("booking").max_upcoming_per_patient
    for i in range(limit):
        booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id,
                     NEXT_MONDAY_9_MADRID + timedelta(days=i % 5, hours=i // 5))
    db.flush()
    resp = client.submit(f"/appointments/book/{p.specialist.id}",
                         {"appointment_type": p.appointment_type.id,
                          "start": MONDAY_9_MADRID.isoformat()})
    assert resp.status_code == 400
    assert "the most allowed here" in resp.get_data(as_text=True)


def test_cancel_page_explains_late_cancellation_and_marks_it_late(
        patient_client: tuple[BrandClient, User], practice: Callable[..., Practice],
        platform: Platform, db: Session, outbox: Callable[[], list[Email]]) -> None:
    client, patient = patient_client
    p = practice()
    appointment = booking.book(db, patient, platform.brands["acme-clinic"].loaded.config,
                               p.specialist.id, p.appointment_type.id, MONDAY_9_MADRID)
    db.flush()
    path = f"/appointments/{appointment.id}/cancel"
    page = client.get(path).get_data(as_text=True)
    assert "marked as cancelled late" in page
    resp = client.submit(path)
    assert resp.status_code == 302
    db.refresh(appointment)
    assert appointment.status == "late_cancelled"
    cal = ICalendar.from_ical(outbox()[-1].attachments[0]["content"])  # type: ignore[index]
    assert str(cal["METHOD"]) == "CANCEL"
    assert "Cancelled late" in client.get("/appointments/").get_data(as_text=True)


def test_reschedule_over_http_moves_the_same_appointment(
        patient_client: tuple[BrandClient, User], practice: Callable[..., Practice],
        platform: Platform, db: Session) -> None:
    client, patient = patient_client
    p = practice()
    appointment = booking.book(db, patient, platform.brands["acme-clinic"].loaded.config,
                               p.specialist.id, p.appointment_type.id, NEXT_MONDAY_9_MADRID)
    db.flush()
    path = f"/appointments/{appointment.id}/reschedule"
    page = client.get(f"{path}?week=1").get_data(as_text=True)
    assert '<time datetime="2026-03-09T09:00:00+00:00">05:00</time>' in page
    new_start = NEXT_MONDAY_9_MADRID + timedelta(hours=1)
    resp = client.submit(path, {"start": new_start.isoformat()})
    assert resp.status_code == 302
    db.refresh(appointment)
    assert (appointment.start_at, appointment.ics_sequence) == (new_start, 1)


def test_another_patients_appointment_answers_404(
        patient_client: tuple[BrandClient, User], practice: Callable[..., Practice],
        create_user: Callable[..., User], platform: Platform, db: Session) -> None:
    client, _ = patient_client
    p = practice()
    other = create_user(role="patient")
    theirs = booking.book(db, other, platform.brands["acme-clinic"].loaded.config,
                          p.specialist.id, p.appointment_type.id, NEXT_MONDAY_9_MADRID)
    db.flush()
    for path in (f"/appointments/{theirs.id}", f"/appointments/{theirs.id}/cancel",
                 f"/appointments/{theirs.id}/reschedule"):
        assert client.get(path).status_code == 404
    assert client.submit(f"/appointments/{theirs.id}/cancel",
                         form_page="/appointments/").status_code == 404
    db.refresh(theirs)
    assert theirs.status == "confirmed"


def test_next_json_answers_the_next_slots_in_the_visitors_zone(
        client: BrandClient, practice: Callable[..., Practice]) -> None:
    p = practice()
    data = client.get(f"/appointments/book/{p.specialist.id}/next.json"
                      "?tz=America/New_York").get_json()
    assert data["zone"] == "America/New_York"
    assert [s["start"] for s in data["slots"]] == [
        "2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"]
    assert "03:00" in data["slots"][0]["label"]
    assert data["slots"][0]["url"].startswith(f"/appointments/book/{p.specialist.id}?type=")
    assert data["types"] == [{"id": p.appointment_type.id, "name": p.appointment_type.name}]


def test_next_json_lists_the_bookable_types_even_when_nothing_is_free(
        client: BrandClient, practice: Callable[..., Practice], db: Session) -> None:
    p = practice(hours=[])  # no working hours: no free slot at all
    data = client.get(f"/appointments/book/{p.specialist.id}/next.json").get_json()
    assert data["slots"] == []
    assert data["types"] == [{"id": p.appointment_type.id, "name": p.appointment_type.name}]


def _listed_profile(db: Session, platform: Platform, specialist: User) -> int:
    acme = platform.brands["acme-clinic"].loaded.config
    profile = directory.save_profile(db, specialist, acme, ProfileInput(
        display_name="Dr Vega", languages=("es",), modalities=("video",)))
    directory.set_visible(db, profile, "acme-clinic", True)
    db.flush()
    return profile.id


def test_directory_profile_shows_the_booking_fragment_where_booking_is_on(
        client: BrandClient, practice: Callable[..., Practice], platform: Platform,
        db: Session, brands_dir: Path, platform_on: Callable[..., Platform]) -> None:
    p = practice()
    profile_id = _listed_profile(db, platform, p.specialist)
    page = client.get(f"/specialists/{profile_id}").get_data(as_text=True)
    assert "profile-booking" in page
    assert f'href="/appointments/book/{p.specialist.id}"' in page
    assert f"/appointments/book/{p.specialist.id}/next.json" in page

    yaml = brands_dir / "acme-clinic.yaml"
    text = yaml.read_text()
    assert "\n  booking:" in text
    text = text.replace("\n  booking:", "\n  booking:\n    enabled: false", 1)
    # modules that require booking go off with it
    text = re.sub(r"\n  (api|assisted|matching): \{\}", r"\n  \1: {enabled: false}", text)
    for section in ("payments", "video"):  # and those written as a block of settings
        text = text.replace(f"\n  {section}:", f"\n  {section}:\n    enabled: false", 1)
    yaml.write_text(text)
    off = BrandClient(platform_on(brands_dir), "acme.localhost")
    page = off.get(f"/specialists/{profile_id}").get_data(as_text=True)
    assert "Dr Vega" in page
    assert "profile-booking" not in page and "/appointments/book/" not in page
