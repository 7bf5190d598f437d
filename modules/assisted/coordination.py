"""Coordinators' side of the assisted journey: the brand's queue of open requests, suggested
specialists with free slots inside the patient's windows (the booking module's availability),
and allocation: a booking on the patient's behalf through ``modules.booking.services.book``,
with the reason recorded and the patient notified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import SpecialistMembership, User
from engine.notify import send_email
from engine.web import UserError
from modules.assisted.models import OPEN_STATUSES, Allocation, AssistanceRequest
from modules.assisted.schemas import DAY_PARTS, AllocationInput
from modules.assisted.services import (
    RequestView,
    assisted_settings,
    request_row,
    request_view,
)
from modules.booking.availability import Slot
from modules.booking.models import Appointment, AppointmentType
from modules.booking.services import available_slots, book


@dataclass(frozen=True)
class QueueItem:
    """A line of the coordinators' queue: no health data."""

    id: int
    patient_name: str
    urgency: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class Suggestion:
    """A specialist's appointment type with its free slots inside the request's windows."""

    specialist_id: int
    specialist_name: str
    appointment_type_id: int
    appointment_type_name: str
    modality: str
    duration_minutes: int
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class Case:
    """A request and, while it is open, the specialists' free slots that suit it."""

    request: RequestView
    suggestions: tuple[Suggestion, ...]


def _require_coordinator(actor: User, brand: BrandConfig) -> None:
    if actor.role != "coordinator" or actor.brand_id != brand.slug:
        raise UserError(str(_l("Only this site's coordinators work on assistance requests.")),
                        code="forbidden", status=403)


def queue(session: Session, actor: User, brand: BrandConfig) -> list[QueueItem]:
    """Requests waiting for a coordinator on ``brand``, oldest first."""
    assisted_settings(brand)
    _require_coordinator(actor, brand)
    rows = session.execute(
        select(AssistanceRequest.id, User.name, AssistanceRequest.urgency,
               AssistanceRequest.status, AssistanceRequest.created_at)
        .join(User, User.id == AssistanceRequest.patient_id)
        .where(AssistanceRequest.brand_id == brand.slug,
               AssistanceRequest.status.in_(OPEN_STATUSES))
        .order_by(AssistanceRequest.created_at, AssistanceRequest.id))
    return [QueueItem(*r) for r in rows]


def case(session: Session, actor: User, brand: BrandConfig, request_id: int) -> Case:
    """A request of ``brand`` as a coordinator sees it (needs and every proposal), with the
    suggestions to choose from while it is open."""
    assisted_settings(brand)
    _require_coordinator(actor, brand)
    row = request_row(session, brand, request_id)
    patient = session.get(User, row.patient_id)
    view = request_view(session, row, patient.name if patient else "")
    found = suggestions(session, actor, brand, request_id) if row.status in OPEN_STATUSES \
        else []
    return Case(view, tuple(found))


def _modalities(preference: str) -> tuple[str, ...]:
    return {"video": ("video", "both"), "in_person": ("in_person", "both")}.get(
        preference, ("video", "in_person", "both"))


def in_windows(start_at: datetime, windows: tuple[str, ...] | list[str], zone: str) -> bool:
    """Whether an appointment starting at ``start_at`` starts inside one of ``windows``
    (``"<weekday>:<part>"``), read in ``zone``."""
    local = start_at.astimezone(ZoneInfo(zone))
    minute = local.hour * 60 + local.minute
    return any(f"{local.weekday()}:{part}" in windows and start <= minute < end
               for part, (start, end) in DAY_PARTS.items())


def suggestions(session: Session, actor: User, brand: BrandConfig,
                request_id: int) -> list[Suggestion]:
    """Specialists of ``brand`` with a patient-bookable type in the request's modality and
    free slots (from the booking module's availability) inside the request's time windows,
    within ``search_days``."""
    settings = assisted_settings(brand)
    _require_coordinator(actor, brand)
    row = request_row(session, brand, request_id)
    types = session.execute(
        select(AppointmentType, User.name)
        .join(User, User.id == AppointmentType.specialist_id)
        .join(SpecialistMembership,
              (SpecialistMembership.user_id == AppointmentType.specialist_id)
              & (SpecialistMembership.brand_id == brand.slug)
              & SpecialistMembership.active.is_(True))
        .where(AppointmentType.brand_id == brand.slug, AppointmentType.active.is_(True),
               AppointmentType.bookable_by == "patients",
               AppointmentType.modality.in_(_modalities(row.modality)))
        .order_by(User.name, AppointmentType.name, AppointmentType.id)).all()
    now = clock.now()
    end = now + timedelta(days=settings.search_days)
    found: list[Suggestion] = []
    for kind, name in types:
        slots = [s for s in available_slots(session, brand, kind.specialist_id, kind.id, now,
                                            end)
                 if in_windows(s.start_at, row.time_windows, row.timezone)]
        if slots:
            found.append(Suggestion(kind.specialist_id, name, kind.id, kind.name,
                                    kind.modality, kind.duration_minutes,
                                    tuple(slots[:settings.slots_per_suggestion])))
    return found


def allocate(session: Session, actor: User, brand: BrandConfig, request_id: int,
             data: AllocationInput) -> Allocation:
    """Book the chosen slot for the request's patient (through the booking module, which
    checks every rule and the specialist's calendar on every brand), record the reason, and
    propose it to the patient by email. Errors write nothing."""
    assisted_settings(brand)
    _require_coordinator(actor, brand)
    row = request_row(session, brand, request_id)
    if row.status not in OPEN_STATUSES:
        raise UserError(str(_l("This request is not waiting for a specialist.")),
                        code="not_open", status=409)
    preferred = row.modality if row.modality != "any" else None
    appointment = book(session, actor, brand, data.specialist_id, data.appointment_type_id,
                       data.start, patient_id=row.patient_id,
                       modality=data.modality or _fitting(session, data, preferred))
    allocation = Allocation(brand_id=brand.slug, request_id=row.id,
                            appointment_id=appointment.id, coordinator_id=actor.id,
                            specialist_id=data.specialist_id, reason=data.reason,
                            outcome="proposed")
    session.add(allocation)
    row.status = "proposed"
    session.flush()
    _notify_proposal(session, brand, row, appointment)
    return allocation


def _fitting(session: Session, data: AllocationInput, preferred: str | None) -> str | None:
    # a type offered both ways takes the patient's preference; a one-way type its own
    kind = session.get(AppointmentType, data.appointment_type_id)
    return preferred if kind is not None and kind.modality == "both" else None


def _notify_proposal(session: Session, brand: BrandConfig, row: AssistanceRequest,
                     appointment: Appointment) -> None:
    patient = session.get(User, row.patient_id)
    specialist = session.get(User, appointment.specialist_id)
    if patient is None or specialist is None:
        return
    locale = patient.locale or brand.locale
    when = format_datetime(appointment.start_at, "full",
                           tzinfo=ZoneInfo(patient.timezone or row.timezone), locale=locale)
    send_email(session, brand_id=brand.slug, sender=brand.communications.sender,
               to=patient.email, template="assisted_proposed", locale=locale, user=patient,
               brand=brand, specialist_name=specialist.name, when=when,
               modality=appointment.modality,
               link=url_for("assisted.detail", request_id=row.id, _external=True))


