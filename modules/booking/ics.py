"""iCalendar (RFC 5546) messages for an appointment: one stable UID per appointment, SEQUENCE
bumped on every change, METHOD:REQUEST for a booking or a new time and METHOD:CANCEL for a
cancellation, so a patient's calendar updates the one event instead of adding another."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Literal

from icalendar import Calendar as ICalendar
from icalendar import Event, vCalAddress, vText

from engine import clock
from engine.config import BrandConfig
from engine.notify import Attachment
from modules.booking.models import Appointment

Method = Literal["REQUEST", "CANCEL"]
PRODID = "-//Daraport//Booking//EN"


def appointment_uid(brand: BrandConfig, appointment: Appointment) -> str:
    """The appointment's iCalendar UID: the same for every message about it."""
    return f"appointment-{appointment.id}@{brand.domains[0]}"


def _address(value: str, name: str | None = None) -> vCalAddress:
    display, email = parseaddr(value)
    address = vCalAddress(f"mailto:{email or value}")
    if name or display:
        address.params["cn"] = vText(name or display)
    return address


def appointment_event(brand: BrandConfig, appointment: Appointment, *, method: Method,
                      summary: str, patient_email: str, patient_name: str,
                      location: str | None) -> str:
    """The iCalendar text of ``appointment`` (times in UTC) for ``method``.

    ``location`` is the in-person address, or None for a video appointment ("Video").
    """
    cal = ICalendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    event = Event()
    event.add("uid", appointment_uid(brand, appointment))
    event.add("sequence", appointment.ics_sequence)
    event.add("dtstamp", clock.now().astimezone(UTC))
    event.add("dtstart", _utc(appointment.start_at))
    event.add("dtend", _utc(appointment.end_at))
    event.add("summary", summary)
    event.add("location", location or "Video")
    event.add("organizer", _address(brand.communications.sender, brand.name))
    attendee = _address(patient_email, patient_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee)
    event.add("status", "CANCELLED" if method == "CANCEL" else
              "TENTATIVE" if appointment.status == "requested" else "CONFIRMED")
    cal.add_component(event)
    return cal.to_ical().decode()


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def ics_attachment(content: str) -> Attachment:
    """The email attachment carrying an appointment's iCalendar text."""
    return Attachment(filename="appointment.ics", content_type="text/calendar",
                      content=content)
