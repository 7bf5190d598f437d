"""The waitlist: a freed slot is offered first come, first offered, held for one patient at a
time; the hold ends by the clock alone; accepting books through the one booking path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.notify import Email
from engine.platform import Platform
from engine.web import UserError
from modules.booking import services as booking
from modules.booking import waitlist
from modules.booking.models import Appointment
from modules.booking.models_waitlist import WaitlistEntry, WaitlistOffer
from tests.conftest import BrandClient, link_in
from tests.modules.booking.conftest import Practice

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday
SLOT = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # Monday 09:00 in Madrid
HOLD = timedelta(minutes=30)  # BookingSettings.waitlist_hold_minutes (default)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


@dataclass
class Line:
    practice: Practice
    cancelled: Appointment
    waiting: list[User]
    brand: BrandConfig
    app: Flask


@pytest.fixture
def line(db: Session, platform: Platform, brands: dict[str, BrandConfig],
         practice: Callable[..., Practice], create_user: Callable[..., User]) -> Line:
    """SLOT booked by one patient; three others join the waitlist in order."""
    p, acme = practice(), brands["acme-clinic"]
    holder = create_user(role="patient", brand="acme-clinic")
    made = booking.book(db, holder, acme, p.specialist.id, p.appointment_type.id, SLOT)
    waiting = [create_user(role="patient", brand="acme-clinic", name=f"Waiting {i}")
               for i in range(3)]
    for patient in waiting:
        waitlist.join_waitlist(db, patient, acme, p.specialist.id, p.appointment_type.id)
    return Line(p, made, waiting, acme, platform.app_for("acme-clinic"))


def cancel(db: Session, line: Line) -> WaitlistOffer | None:
    """What the cancellation code does: the status changes, then the slot is offered."""
    line.cancelled.status = "cancelled"
    db.flush()
    with in_request(line):
        return waitlist.slot_freed(db, line.brand, line.cancelled)


def in_request(line: Line) -> AbstractContextManager[object]:
    """Offers are emailed from the brand's templates, as in the request that frees a slot."""
    return line.app.test_request_context("/", base_url="http://acme.localhost")


def offers(db: Session) -> list[WaitlistOffer]:
    return list(db.scalars(select(WaitlistOffer).order_by(WaitlistOffer.id)
                           .execution_options(all_brands=True)))


def offer_mails(db: Session) -> list[Email]:
    return list(db.scalars(select(Email).where(Email.template == "booking/mail/waitlist_offer")
                           .order_by(Email.id)))


def token_of(mail: Email) -> str:
    return link_in(mail).rstrip("/").rsplit("/", 1)[1]


def appointments_at(db: Session, start: datetime) -> list[Appointment]:
    return list(db.scalars(select(Appointment).where(
        Appointment.start_at == start, Appointment.status.in_(("requested", "confirmed")))
        .execution_options(all_brands=True)))


def free_starts(db: Session, line: Line) -> list[datetime]:
    p = line.practice
    return [s.start_at for s in booking.available_slots(
        db, line.brand, p.specialist.id, p.appointment_type.id, SLOT, SLOT + timedelta(hours=1))]


def test_a_freed_slot_is_offered_to_the_first_in_line_by_email(
        db: Session, line: Line) -> None:
    offer = cancel(db, line)
    assert offer is not None and offer.patient_id == line.waiting[0].id
    assert (offer.status, offer.expires_at) == ("held", NOW + HOLD)
    [mail] = offer_mails(db)
    assert mail.recipient == line.waiting[0].email
    assert "/appointments/series/waitlist/offer/" in link_in(mail)


def test_other_patients_cannot_take_a_held_slot(db: Session, line: Line) -> None:
    cancel(db, line)
    assert free_starts(db, line) == []
    p = line.practice
    with pytest.raises(UserError) as caught:
        booking.book(db, line.waiting[1], line.brand, p.specialist.id, p.appointment_type.id,
                     SLOT)
    assert caught.value.code == "slot_taken"
    assert appointments_at(db, SLOT) == []
    with clock.freeze(NOW + HOLD):  # the hold ends by the clock alone, no worker needed
        assert free_starts(db, line) == [SLOT]


def test_an_expired_hold_passes_the_slot_to_the_next_in_line(
        db: Session, line: Line) -> None:
    first = cancel(db, line)
    with clock.freeze(NOW + HOLD + timedelta(minutes=1)), in_request(line):
        assert waitlist.advance(db, line.brand) == 1
        assert waitlist.advance(db, line.brand) == 0  # running it again changes nothing
        assert free_starts(db, line) == []  # held again, for the next patient
    assert first is not None and first.status == "expired"
    assert [(o.patient_id, o.status) for o in offers(db)] == [
        (line.waiting[0].id, "expired"), (line.waiting[1].id, "held")]
    assert [m.recipient for m in offer_mails(db)] == [line.waiting[0].email,
                                                       line.waiting[1].email]


def test_accepting_within_the_hold_books_the_slot_once(db: Session, line: Line) -> None:
    cancel(db, line)
    token = token_of(offer_mails(db)[0])
    first = line.waiting[0]
    with clock.freeze(NOW + HOLD - timedelta(minutes=1)):
        made = waitlist.accept_offer(db, first, line.brand, token)
        assert (made.patient_id, made.start_at, made.status) == (first.id, SLOT, "confirmed")
        with pytest.raises(UserError) as again:
            waitlist.accept_offer(db, first, line.brand, token)
    assert again.value.code == "used_token"
    assert [a.id for a in appointments_at(db, SLOT)] == [made.id]
    entry = db.scalar(select(WaitlistEntry).where(WaitlistEntry.patient_id == first.id))
    assert entry is not None and entry.status == "booked"


def test_accepting_after_the_hold_expired_is_refused_and_books_nothing(
        db: Session, line: Line) -> None:
    cancel(db, line)
    token = token_of(offer_mails(db)[0])
    with clock.freeze(NOW + HOLD), pytest.raises(UserError) as caught:
        waitlist.accept_offer(db, line.waiting[0], line.brand, token)
    assert caught.value.code == "expired_token"
    assert appointments_at(db, SLOT) == []


def test_another_patient_cannot_use_an_offer_link(db: Session, line: Line) -> None:
    cancel(db, line)
    token = token_of(offer_mails(db)[0])
    with pytest.raises(UserError) as caught:
        waitlist.accept_offer(db, line.waiting[1], line.brand, token)
    assert caught.value.code == "invalid_token"
    assert appointments_at(db, SLOT) == []


def test_slot_freed_twice_for_one_appointment_offers_once(db: Session, line: Line) -> None:
    assert cancel(db, line) is not None
    assert waitlist.slot_freed(db, line.brand, line.cancelled) is None
    assert len(offers(db)) == 1 and len(offer_mails(db)) == 1


def test_entries_wanting_an_earlier_date_are_skipped(
        db: Session, line: Line, create_user: Callable[..., User]) -> None:
    p = line.practice
    # the first in line only wants slots before Mar 5: the Mar 9 slot goes to the second
    waitlist.join_waitlist(db, line.waiting[0], line.brand, p.specialist.id,
                           p.appointment_type.id, before=datetime(2026, 3, 5).date())
    offer = cancel(db, line)
    assert offer is not None and offer.patient_id == line.waiting[1].id


def test_patient_opens_the_emailed_offer_and_books_it(
        db: Session, line: Line, client: BrandClient,
        signin: Callable[..., object]) -> None:
    cancel(db, line)
    path = "/appointments/series/waitlist/offer/" + token_of(offer_mails(db)[0])
    signin(client, line.waiting[0].email)
    page = client.get(path)
    assert page.status_code == 200 and line.practice.specialist.name in page.get_data(True)
    answer = client.submit(path)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    [made] = appointments_at(db, SLOT)
    assert made.patient_id == line.waiting[0].id
    assert db.scalar(select(func.count(WaitlistOffer.id)).where(
        WaitlistOffer.status == "held").execution_options(all_brands=True)) == 0


def test_cancelling_an_appointment_offers_its_time_to_the_waitlist(
        db: Session, line: Line) -> None:
    from modules.booking import changes

    holder = db.get(User, line.cancelled.patient_id)
    assert holder is not None
    with in_request(line):
        changes.cancel(db, holder, line.brand, line.cancelled.id)
    assert [(o.patient_id, o.status) for o in offers(db)] == [(line.waiting[0].id, "held")]


def test_patient_joins_the_waitlist_from_a_form_and_sees_the_entry(
        db: Session, practice: Callable[..., Practice], create_user: Callable[..., User],
        client: BrandClient, signin: Callable[..., object]) -> None:
    p = practice()
    patient = create_user(role="patient", brand="acme-clinic")
    signin(client, patient.email)
    answer = client.submit("/appointments/series/waitlist", {
        "specialist_id": p.specialist.id, "appointment_type_id": p.appointment_type.id,
        "before": "2026-04-01"})
    assert answer.status_code == 302
    [entry] = db.scalars(select(WaitlistEntry).where(WaitlistEntry.patient_id == patient.id))
    assert (entry.status, str(entry.before)) == ("waiting", "2026-04-01")
    page = client.get("/appointments/series/waitlist").get_data(as_text=True)
    assert p.appointment_type.name in page and "2026-04-01" in page
    refused = client.submit("/appointments/series/waitlist", {
        "specialist_id": p.specialist.id, "appointment_type_id": p.appointment_type.id,
        "before": "not a date"}, form_page="/appointments/series/waitlist")
    assert refused.status_code == 400
