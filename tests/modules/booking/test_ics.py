"""The iCalendar text of an appointment: stable UID, SEQUENCE, METHOD, UTC times, organizer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from icalendar import Calendar as ICalendar
from sqlalchemy.orm import Session

from engine.notify import Email, deliver_email, send_email
from engine.platform import Platform
from modules.booking import ics
from modules.booking.models import Appointment
from tests.identity.conftest import SmtpSink, runtime_settings, smtp_server  # noqa: F401


def _appointment(**changes: object) -> Appointment:
    fields: dict[str, object] = dict(
        id=41, brand_id="acme-clinic", start_at=datetime(2026, 3, 2, 8, tzinfo=UTC),
        end_at=datetime(2026, 3, 2, 9, tzinfo=UTC), ics_sequence=0, modality="video",
        status="confirmed")
    fields.update(changes)
    return Appointment(**fields)


def _parsed(text: str) -> tuple[ICalendar, ICalendar]:
    cal = ICalendar.from_ical(text)
    return cal, cal.walk("VEVENT")[0]


def _event(platform: Platform, appointment: Appointment, method: ics.Method,
           location: str | None = None) -> str:
    brand = platform.brands["acme-clinic"].loaded.config
    return ics.appointment_event(brand, appointment, method=method, summary="First visit",
                                 patient_email="ana@example.com", patient_name="Ana",
                                 location=location)


def test_request_carries_uid_sequence_and_utc_times(platform: Platform) -> None:
    cal, event = _parsed(_event(platform, _appointment(), "REQUEST"))
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == "appointment-41@acme.localhost"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert "DTSTART:20260302T080000Z" in _event(platform, _appointment(), "REQUEST")
    assert str(event["LOCATION"]) == "Video"
    brand = platform.brands["acme-clinic"].loaded.config
    assert str(event["ORGANIZER"]).lower() == \
        "mailto:" + brand.communications.sender.split("<")[-1].rstrip(">").lower()


def test_cancel_keeps_the_uid_and_carries_the_bumped_sequence(platform: Platform) -> None:
    _, booked = _parsed(_event(platform, _appointment(), "REQUEST"))
    cal, cancelled = _parsed(_event(platform, _appointment(ics_sequence=2), "CANCEL"))
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert str(cancelled["UID"]) == str(booked["UID"])
    assert int(cancelled["SEQUENCE"]) == 2


def test_a_requested_appointment_is_tentative_until_confirmed(platform: Platform) -> None:
    _, requested = _parsed(_event(platform, _appointment(status="requested"), "REQUEST"))
    _, confirmed = _parsed(_event(platform, _appointment(), "REQUEST"))
    assert (str(requested["STATUS"]), str(confirmed["STATUS"])) == ("TENTATIVE", "CONFIRMED")


def test_in_person_event_names_the_place(platform: Platform) -> None:
    _, event = _parsed(_event(platform, _appointment(modality="in_person"), "REQUEST",
                              location="Calle Mayor 1, Madrid"))
    assert str(event["LOCATION"]) == "Calle Mayor 1, Madrid"


def test_smtp_delivery_attaches_the_ics_as_a_calendar_part(
        platform: Platform, db: Session, runtime_settings: Callable[..., None],  # noqa: F811
        smtp_server: SmtpSink) -> None:  # noqa: F811
    runtime_settings(smtp_url=smtp_server.url)
    brand = platform.brands["acme-clinic"].loaded.config
    content = _event(platform, _appointment(ics_sequence=1), "CANCEL")
    with platform.app_for("acme-clinic").test_request_context():
        email = send_email(db, brand_id=brand.slug, sender=brand.communications.sender,
                           to="ana@example.com", template="verify", locale="en",
                           attachments=[ics.ics_attachment(content)], user=None, brand=brand,
                           link="http://acme.localhost/x")
    assert email.attachments == [{"filename": "appointment.ics",
                                  "content_type": "text/calendar", "content": content}]
    deliver_email(email.id)
    [message] = smtp_server.messages
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_filename() == "appointment.ics"
    assert part.get_param("method") == "CANCEL"
    assert "UID:appointment-41@acme.localhost" in part.get_content()
    db.expire_all()
    assert db.get(Email, email.id).attachments is None  # type: ignore[union-attr]
