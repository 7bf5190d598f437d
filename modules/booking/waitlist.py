"""The waitlist: patients ask to be told when an earlier slot of a specialist's appointment type
opens; a cancelled appointment's time is offered to them in order (first come, first offered,
per specialist and type), one hold at a time.

A hold keeps the slot for the offered patient until it expires: availability and booking see it
as taken (:func:`held_intervals`, read by the booking services) while ``expires_at`` is in the
future, judged against :func:`engine.clock.now` on every read, so a hold ends on time without any
worker. Passing an expired hold to the next patient in line happens in :func:`advance`, which
runs lazily whenever the waitlist is read, an offer is opened or a slot is freed (and may be
run by any periodic job: it is idempotent).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app, has_request_context, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.identity.services import is_member
from engine.notify import send_email
from engine.web import UserError
from modules.booking import hooks
from modules.booking.availability import Existing
from modules.booking.calendar import appointment_type_for, booking_settings, calendar_of
from modules.booking.models import Appointment, AppointmentType
from modules.booking.models_waitlist import FreedSlot, WaitlistEntry, WaitlistOffer

OFFER_ENDPOINT = "booking_series.offer"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _settings(brand: BrandConfig):  # type: ignore[no-untyped-def]
    settings = booking_settings(brand)
    if not settings.waitlist:
        raise UserError(str(_l("This site has no waitlist.")), code="not_found", status=404)
    return settings


def _require_patient(actor: User, brand: BrandConfig) -> None:
    if actor.role != "patient" or actor.brand_id != brand.slug:
        raise UserError(str(_l("Only patients of this site can use the waitlist.")),
                        code="forbidden", status=403)


# --- holds, read by availability --------------------------------------------------------------


def held_intervals(session: Session, specialist_id: int, start: datetime,
                   end: datetime) -> list[Existing]:
    """The specialist's slots held for a waitlisted patient (any brand) touching
    ``[start, end)``, as blocking calendar entries. A hold past its expiry holds nothing."""
    rows = session.execute(
        select(FreedSlot.start_at, FreedSlot.blocked_start_at, FreedSlot.blocked_end_at)
        .join(WaitlistOffer, WaitlistOffer.freed_slot_id == FreedSlot.id)
        .where(WaitlistOffer.specialist_id == specialist_id, WaitlistOffer.status == "held",
               WaitlistOffer.expires_at > clock.now(),
               FreedSlot.blocked_end_at > start, FreedSlot.blocked_start_at < end)
        .execution_options(all_brands=True))
    # "requested" blocks like an appointment; no type id, so a hold counts towards no cap
    return [Existing(s, bs, be, "requested", None) for s, bs, be in rows]


# --- joining and leaving ----------------------------------------------------------------------


def join_waitlist(session: Session, actor: User, brand: BrandConfig, specialist_id: int,
                  appointment_type_id: int, before: date | None = None) -> WaitlistEntry:
    """Put the actor (a patient) on the waitlist of one of the specialist's appointment types,
    optionally only for slots before the local date ``before``. Joining twice keeps one place
    in line (the first), with the new date."""
    _settings(brand)
    _require_patient(actor, brand)
    appointment_type_for(session, brand, appointment_type_id, specialist_id)
    specialist = session.get(User, specialist_id)
    if specialist is None or not is_member(session, brand, specialist):
        raise UserError(str(_l("This specialist is not listed here.")), code="not_found",
                        status=404)
    if before is not None and before <= clock.now().date():
        raise UserError(str(_l("Choose a date in the future.")), code="invalid",
                        field="before")
    entry = session.scalar(select(WaitlistEntry).where(
        WaitlistEntry.brand_id == brand.slug, WaitlistEntry.patient_id == actor.id,
        WaitlistEntry.specialist_id == specialist_id,
        WaitlistEntry.appointment_type_id == appointment_type_id,
        WaitlistEntry.status == "waiting"))
    if entry is None:
        entry = WaitlistEntry(brand_id=brand.slug, patient_id=actor.id,
                              specialist_id=specialist_id,
                              appointment_type_id=appointment_type_id, status="waiting")
        session.add(entry)
    entry.before = before
    session.flush()
    return entry


def leave_waitlist(session: Session, actor: User, brand: BrandConfig, entry_id: int) -> None:
    """Take the actor's entry off the waitlist; a slot held for it passes on."""
    _settings(brand)
    entry = session.get(WaitlistEntry, entry_id)
    if entry is None or entry.patient_id != actor.id or entry.brand_id != brand.slug \
            or entry.status != "waiting":
        raise UserError(str(_l("This waitlist entry does not exist.")), code="not_found",
                        status=404)
    entry.status = "left"
    for offer in session.scalars(select(WaitlistOffer).where(
            WaitlistOffer.entry_id == entry.id, WaitlistOffer.status == "held")):
        offer.expires_at = min(offer.expires_at, clock.now())
    session.flush()
    advance(session, brand)


@dataclass(frozen=True)
class WaitlistView:
    entry: WaitlistEntry
    appointment_type: AppointmentType
    specialist: User
    offer: WaitlistOffer | None  # a slot held for this entry right now
    offered_start_at: datetime | None


def my_waitlist(session: Session, actor: User, brand: BrandConfig) -> list[WaitlistView]:
    """The actor's waiting entries, oldest first, each with the slot held for it (if any)."""
    _settings(brand)
    _require_patient(actor, brand)
    advance(session, brand)
    now = clock.now()
    views = []
    for entry in session.scalars(select(WaitlistEntry).where(
            WaitlistEntry.brand_id == brand.slug, WaitlistEntry.patient_id == actor.id,
            WaitlistEntry.status == "waiting").order_by(WaitlistEntry.id)):
        offer = session.scalar(select(WaitlistOffer).where(
            WaitlistOffer.entry_id == entry.id, WaitlistOffer.status == "held",
            WaitlistOffer.expires_at > now))
        freed = session.get(FreedSlot, offer.freed_slot_id) if offer else None
        appointment_type = session.get(AppointmentType, entry.appointment_type_id)
        specialist = session.get(User, entry.specialist_id)
        assert appointment_type is not None and specialist is not None
        views.append(WaitlistView(entry, appointment_type, specialist, offer,
                                  freed.start_at if freed else None))
    return views


# --- offering a freed slot --------------------------------------------------------------------


def slot_freed(session: Session, brand: BrandConfig, appointment: Appointment) -> (
        WaitlistOffer | None):
    """``appointment`` was cancelled: offer its time to the first patient in line for the same
    specialist and type, held for the brand's ``waitlist_hold_minutes``, and email them.

    Idempotent: a second call for the same appointment offers nothing more. Runs inside the
    brand's app context (the email is rendered there); the caller commits.
    """
    settings = booking_settings(brand)
    hooks.appointment_cancelled(session, brand, appointment)  # e.g. payments refunds it
    if not settings.waitlist:
        return None
    advance(session, brand)
    if session.scalar(select(FreedSlot.id).where(FreedSlot.appointment_id == appointment.id)
                      .execution_options(all_brands=True)) is not None:
        return None
    freed = FreedSlot(brand_id=brand.slug, appointment_id=appointment.id,
                      specialist_id=appointment.specialist_id,
                      appointment_type_id=appointment.appointment_type_id,
                      start_at=appointment.start_at, end_at=appointment.end_at,
                      blocked_start_at=appointment.blocked_start_at,
                      blocked_end_at=appointment.blocked_end_at)
    try:
        with session.begin_nested():
            session.add(freed)
            session.flush()
    except IntegrityError:
        return None  # freed at the same moment by another transaction: offered there
    return _offer_next(session, brand, freed, skip_patient=appointment.patient_id)


def _still_free(session: Session, freed: FreedSlot) -> bool:
    from modules.booking import services  # services reads holds from here

    calendar = calendar_of(session, freed.specialist_id)
    appointment_type = session.get(AppointmentType, freed.appointment_type_id)
    if calendar is None or appointment_type is None or not appointment_type.active:
        return False
    window = (freed.start_at, freed.start_at + timedelta(minutes=1))
    return any(s.start_at == freed.start_at
               for s in services._free_slots(session, calendar, appointment_type, *window))


def _offer_next(session: Session, brand: BrandConfig, freed: FreedSlot, *,
                skip_patient: int | None = None) -> WaitlistOffer | None:
    """Hold ``freed`` for the next entry in line that wants it, or close it."""
    settings = booking_settings(brand)
    if not _still_free(session, freed):
        freed.closed = True
        session.flush()
        return None
    offered = select(WaitlistOffer.entry_id).where(WaitlistOffer.freed_slot_id == freed.id)
    candidates = session.scalars(select(WaitlistEntry).where(
        WaitlistEntry.brand_id == brand.slug, WaitlistEntry.specialist_id == freed.specialist_id,
        WaitlistEntry.appointment_type_id == freed.appointment_type_id,
        WaitlistEntry.status == "waiting", WaitlistEntry.id.not_in(offered))
        .order_by(WaitlistEntry.id))
    calendar = calendar_of(session, freed.specialist_id)
    zone = ZoneInfo(calendar.timezone if calendar else brand.timezone)
    local_day = freed.start_at.astimezone(zone).date()
    entry = next((e for e in candidates if e.patient_id != skip_patient
                  and (e.before is None or local_day < e.before)), None)
    if entry is None:
        freed.closed = True
        session.flush()
        return None
    raw = secrets.token_urlsafe(32)
    now = clock.now()
    offer = WaitlistOffer(brand_id=brand.slug, freed_slot_id=freed.id, entry_id=entry.id,
                          patient_id=entry.patient_id, specialist_id=freed.specialist_id,
                          token_hash=_digest(raw), status="held", offered_at=now,
                          expires_at=now + timedelta(minutes=settings.waitlist_hold_minutes))
    session.add(offer)
    session.flush()
    _email_offer(session, brand, offer, freed, raw)
    return offer


def _email_offer(session: Session, brand: BrandConfig, offer: WaitlistOffer, freed: FreedSlot,
                 raw: str) -> None:
    if not has_request_context():
        # a job or the CLI: render (and link) as a request to the brand's first domain would
        with current_app.test_request_context("/", base_url=f"https://{brand.domains[0]}"):
            _email_offer(session, brand, offer, freed, raw)
        return
    patient = session.get(User, offer.patient_id)
    specialist = session.get(User, offer.specialist_id)
    appointment_type = session.get(AppointmentType, freed.appointment_type_id)
    assert patient is not None and specialist is not None and appointment_type is not None
    locale = patient.locale or brand.locale
    zone = ZoneInfo(patient.timezone or brand.timezone)
    send_email(session, brand_id=brand.slug, sender=brand.communications.sender,
               to=patient.email, template="booking/mail/waitlist_offer", locale=locale,
               brand=brand, user=patient, specialist=specialist,
               appointment_type=appointment_type,
               link=url_for(OFFER_ENDPOINT, token=raw, _external=True),
               when=format_datetime(freed.start_at, "full", tzinfo=zone, locale=locale),
               expires=format_datetime(offer.expires_at, "short", tzinfo=zone, locale=locale))


def advance(session: Session, brand: BrandConfig) -> int:
    """Pass every expired hold of ``brand`` to the next patient in line (or close the slot).
    Returns how many holds expired. Safe to run any number of times."""
    now = clock.now()
    expired = list(session.scalars(select(WaitlistOffer).where(
        WaitlistOffer.brand_id == brand.slug, WaitlistOffer.status == "held",
        WaitlistOffer.expires_at <= now).order_by(WaitlistOffer.id).with_for_update()))
    for offer in expired:
        offer.status = "expired"
        session.flush()
        freed = session.get(FreedSlot, offer.freed_slot_id)
        if freed is not None and not freed.closed:
            _offer_next(session, brand, freed)
    return len(expired)


# --- accepting --------------------------------------------------------------------------------


def _offer_for(session: Session, actor: User, brand: BrandConfig, raw: str) -> WaitlistOffer:
    offer = session.scalar(select(WaitlistOffer).where(
        WaitlistOffer.token_hash == _digest(raw), WaitlistOffer.brand_id == brand.slug))
    if offer is None or offer.patient_id != actor.id:
        raise UserError(str(_l("This link is not valid.")), code="invalid_token", status=404)
    if offer.status == "accepted":
        raise UserError(str(_l("You have already booked this time.")), code="used_token",
                        status=410)
    if offer.status != "held" or offer.expires_at <= clock.now():
        raise UserError(str(_l("Sorry, this offer has expired and the time was offered to "
                               "the next person waiting.")), code="expired_token", status=410)
    return offer


@dataclass(frozen=True)
class OfferView:
    offer: WaitlistOffer
    freed: FreedSlot
    appointment_type: AppointmentType
    specialist: User


def open_offer(session: Session, actor: User, brand: BrandConfig, raw: str) -> OfferView:
    """The offer an emailed link names, if it is the actor's and still held."""
    _settings(brand)
    _require_patient(actor, brand)
    offer = _offer_for(session, actor, brand, raw)
    freed = session.get(FreedSlot, offer.freed_slot_id)
    appointment_type = session.get(AppointmentType, freed.appointment_type_id) if freed else None
    specialist = session.get(User, offer.specialist_id)
    assert freed is not None and appointment_type is not None and specialist is not None
    return OfferView(offer, freed, appointment_type, specialist)


def accept_offer(session: Session, actor: User, brand: BrandConfig, raw: str, *,
                 modality: str | None = None) -> Appointment:
    """Book the slot held for the actor, through the one booking path (:func:`services.book`).

    The link works once and only while the hold lasts; after that it is refused and nothing
    changes. A failed booking (e.g. the patient's limit of upcoming appointments) leaves the
    hold as it was.
    """
    from modules.booking import services

    view = open_offer(session, actor, brand, raw)
    offer, freed = view.offer, view.freed
    with session.begin_nested():
        offer.status = "accepted"  # the hold must not block its own patient
        session.flush()
        appointment = services.book(session, actor, brand, freed.specialist_id,
                                    freed.appointment_type_id, freed.start_at,
                                    modality=modality)
        offer.appointment_id = appointment.id
        entry = session.get(WaitlistEntry, offer.entry_id)
        if entry is not None:
            entry.status = "booked"
        freed.closed = True
        session.flush()
    return appointment
