"""Assisted journey rules of the patient's side: patients (or their organization's admin)
submit requests, follow them, and accept a coordinator's proposal or ask for another time. The
coordinators' side is :mod:`modules.assisted.coordination`.

The request's ``needs`` are health data: this module is the one place that reads or writes them
(the coordinators' pages read them through :func:`request_view`).
Every query names its brand explicitly on top of the session's brand scoping; another brand's
request answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.identity.services import organization_roster
from engine.web import UserError
from modules.assisted.models import OPEN_STATUSES, Allocation, AssistanceRequest
from modules.assisted.schemas import RequestInput
from modules.booking.availability import BLOCKING_STATUSES
from modules.booking.models import Appointment, AppointmentType
from modules.booking.waitlist import slot_freed

if TYPE_CHECKING:
    from modules.assisted import AssistedSettings


# --- what the pages see -----------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """An allocation as its readers see it (the reason is for coordinators' pages)."""

    id: int
    specialist_name: str
    appointment_type_name: str
    modality: str
    start_at: datetime
    end_at: datetime
    outcome: str
    reason: str
    patient_note: str | None
    coordinator_name: str
    created_at: datetime


@dataclass(frozen=True)
class RequestView:
    """A request with its proposals, newest first. ``needs`` is health data."""

    id: int
    patient_id: int
    patient_name: str
    needs: str
    language: str | None
    modality: str
    time_windows: tuple[str, ...]
    timezone: str
    urgency: str
    status: str
    created_at: datetime
    proposals: tuple[Proposal, ...]

    @property
    def current(self) -> Proposal | None:
        """The proposal waiting for the patient's answer, if any."""
        if self.status in ("proposed", "accepted") and self.proposals:
            return self.proposals[0]
        return None


@dataclass(frozen=True)
class SubmittedItem:
    """A request an organization's admin submitted for a member: status only, no needs."""

    id: int
    patient_name: str
    status: str
    created_at: datetime


# --- guards -----------------------------------------------------------------------------------


def assisted_settings(brand: BrandConfig) -> AssistedSettings:
    """The brand's assisted settings; 404 where the module is off."""
    settings = brand.module_settings("assisted")
    if settings is None:
        raise UserError(str(_l("Assisted booking is not available here.")), code="not_found",
                        status=404)
    return settings  # type: ignore[return-value]


def _not_found() -> UserError:
    return UserError(str(_l("There is no such request here.")), code="not_found", status=404)


def request_row(session: Session, brand: BrandConfig, request_id: int) -> AssistanceRequest:
    row = session.scalar(select(AssistanceRequest).where(
        AssistanceRequest.id == request_id, AssistanceRequest.brand_id == brand.slug))
    if row is None:
        raise _not_found()
    return row


def _own_request(session: Session, actor: User, brand: BrandConfig,
                 request_id: int) -> AssistanceRequest:
    row = request_row(session, brand, request_id)
    if row.patient_id != actor.id:
        raise _not_found()
    return row


def _current_allocation(session: Session, row: AssistanceRequest) -> Allocation:
    allocation = session.scalar(select(Allocation).where(
        Allocation.request_id == row.id, Allocation.outcome == "proposed"
    ).order_by(Allocation.id.desc()))
    if row.status != "proposed" or allocation is None:
        raise UserError(str(_l("This request has no proposal waiting for your answer.")),
                        code="not_proposed", status=409)
    return allocation


# --- patients and organization admins ---------------------------------------------------------


def submit_request(session: Session, actor: User, brand: BrandConfig,
                   data: RequestInput) -> AssistanceRequest:
    """Submit an assistance request for the actor (a patient) or, when the actor is an
    organization's admin, for ``data.patient_id``, a patient member of their organization.

    A patient may hold at most ``max_open_requests`` unfinished requests. Writes nothing on
    an error.
    """
    settings = assisted_settings(brand)
    if actor.role == "patient" and actor.brand_id == brand.slug:
        if data.patient_id not in (None, actor.id):
            raise UserError(str(_l("You can only ask for assistance for yourself.")),
                            code="forbidden", field="patient_id", status=403)
        patient = actor
    elif actor.role == "org_admin" and actor.brand_id == brand.slug:
        members = {m.id: m for m in organization_roster(session, actor, brand)}
        found = members.get(data.patient_id) if data.patient_id is not None else None
        if found is None:
            raise UserError(str(_l("Choose a member of your organization.")),
                            code="not_found", field="patient_id", status=404)
        patient = found
    else:
        raise UserError(str(_l("Only patients and organization administrators ask for "
                               "assistance.")), code="forbidden", status=403)
    unfinished = session.scalars(select(AssistanceRequest.id).where(
        AssistanceRequest.brand_id == brand.slug, AssistanceRequest.patient_id == patient.id,
        AssistanceRequest.status.in_((*OPEN_STATUSES, "proposed")))).all()
    if len(unfinished) >= settings.max_open_requests:
        raise UserError(ngettext("There is already %(num)d request waiting for this patient. "
                                 "Wait for an answer, or cancel it.",
                                 "There are already %(num)d requests waiting for this patient. "
                                 "Wait for an answer, or cancel one.", len(unfinished)),
                        code="too_many")
    row = AssistanceRequest(
        brand_id=brand.slug, patient_id=patient.id, submitted_by_id=actor.id,
        needs=data.needs, language=data.language, modality=data.modality,
        time_windows=list(data.time_windows), timezone=patient.timezone or brand.timezone,
        urgency=data.urgency, status="submitted")
    session.add(row)
    session.flush()
    return row


def members_of(session: Session, actor: User, brand: BrandConfig) -> list[User]:
    """The patients an organization's admin may submit requests for."""
    assisted_settings(brand)
    return organization_roster(session, actor, brand)


def submitted_by(session: Session, actor: User, brand: BrandConfig) -> list[SubmittedItem]:
    """Requests the actor submitted for others (organization admins): status, no needs."""
    assisted_settings(brand)
    rows = session.execute(
        select(AssistanceRequest.id, User.name, AssistanceRequest.status,
               AssistanceRequest.created_at)
        .join(User, User.id == AssistanceRequest.patient_id)
        .where(AssistanceRequest.brand_id == brand.slug,
               AssistanceRequest.submitted_by_id == actor.id,
               AssistanceRequest.patient_id != actor.id)
        .order_by(AssistanceRequest.created_at.desc(), AssistanceRequest.id.desc()))
    return [SubmittedItem(*r) for r in rows]


def requests_of(session: Session, actor: User, brand: BrandConfig) -> list[RequestView]:
    """The actor's own requests, newest first."""
    assisted_settings(brand)
    rows = session.scalars(select(AssistanceRequest).where(
        AssistanceRequest.brand_id == brand.slug, AssistanceRequest.patient_id == actor.id
    ).order_by(AssistanceRequest.created_at.desc(), AssistanceRequest.id.desc())).all()
    return [request_view(session, row, actor.name) for row in rows]


def own_request(session: Session, actor: User, brand: BrandConfig,
                request_id: int) -> RequestView:
    """One of the actor's own requests; 404 for anyone else's."""
    assisted_settings(brand)
    return request_view(session, _own_request(session, actor, brand, request_id), actor.name)


def accept(session: Session, actor: User, brand: BrandConfig, request_id: int) -> Allocation:
    """The patient takes the proposed appointment: it stays, and the request is done."""
    assisted_settings(brand)
    row = _own_request(session, actor, brand, request_id)
    allocation = _current_allocation(session, row)
    appointment = session.get(Appointment, allocation.appointment_id)
    if appointment is None or appointment.status not in BLOCKING_STATUSES:
        raise UserError(str(_l("This appointment is no longer available. Ask for another "
                               "time.")), code="not_available", status=409)
    allocation.outcome, allocation.answered_at = "accepted", clock.now()
    row.status = "accepted"
    session.flush()
    return allocation


def ask_another_time(session: Session, actor: User, brand: BrandConfig, request_id: int,
                     note: str) -> Allocation:
    """The patient cannot take the proposal: its appointment is cancelled and the request goes
    back to the coordinators' queue with the patient's note."""
    assisted_settings(brand)
    row = _own_request(session, actor, brand, request_id)
    allocation = _current_allocation(session, row)
    _release(session, brand, allocation)
    allocation.outcome, allocation.answered_at = "another_time", clock.now()
    allocation.patient_note = note or None
    row.status = "another_time"
    session.flush()
    return allocation


def cancel_request(session: Session, actor: User, brand: BrandConfig,
                   request_id: int) -> AssistanceRequest:
    """The patient withdraws a request that is not yet accepted (a proposal's appointment is
    cancelled with it)."""
    assisted_settings(brand)
    row = _own_request(session, actor, brand, request_id)
    if row.status not in (*OPEN_STATUSES, "proposed"):
        raise UserError(str(_l("This request can no longer be cancelled here.")),
                        code="not_open", status=409)
    if row.status == "proposed":
        allocation = _current_allocation(session, row)
        _release(session, brand, allocation)
        allocation.outcome, allocation.answered_at = "cancelled", clock.now()
    row.status = "cancelled"
    session.flush()
    return row


def _release(session: Session, brand: BrandConfig, allocation: Allocation) -> None:
    # The patient never took this appointment: it is withdrawn, not a cancellation under the
    # brand's policy (no late-cancel window applies). Its time goes to the waitlist like any
    # freed slot.
    appointment = session.get(Appointment, allocation.appointment_id)
    if appointment is not None and appointment.status in BLOCKING_STATUSES:
        appointment.status = "cancelled"
        session.flush()
        slot_freed(session, brand, appointment)


def request_view(session: Session, row: AssistanceRequest, patient_name: str) -> RequestView:
    coordinator = User.__table__.alias("coordinator")
    specialist = User.__table__.alias("specialist")
    proposals = session.execute(
        select(Allocation.id, specialist.c.name, AppointmentType.name, Appointment.modality,
               Appointment.start_at, Appointment.end_at, Allocation.outcome, Allocation.reason,
               Allocation.patient_note, coordinator.c.name, Allocation.created_at)
        .join(Appointment, Appointment.id == Allocation.appointment_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .join(specialist, specialist.c.id == Allocation.specialist_id)
        .join(coordinator, coordinator.c.id == Allocation.coordinator_id)
        .where(Allocation.request_id == row.id)
        .order_by(Allocation.id.desc()))
    return RequestView(
        id=row.id, patient_id=row.patient_id, patient_name=patient_name, needs=row.needs,
        language=row.language, modality=row.modality, time_windows=tuple(row.time_windows),
        timezone=row.timezone, urgency=row.urgency, status=row.status,
        created_at=row.created_at, proposals=tuple(Proposal(*p) for p in proposals))
