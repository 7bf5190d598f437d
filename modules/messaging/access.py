"""Who may see which thread, and who may open one with whom.

Every lookup answers "not found" for a thread the actor is not a participant of (another
patient's, another specialist's, another brand's): its existence is never confirmed.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from engine.web import UserError
from modules.messaging.models import Thread

# appointments that never took place do not make a relationship
_NO_RELATIONSHIP = ("cancelled",)


def settings_of(brand: BrandConfig) -> Any:
    """The brand's messaging settings; not found when the module is off."""
    found = brand.module_settings("messaging")
    if found is None:
        raise not_found()
    return found


def not_found() -> UserError:
    return UserError(_("This conversation does not exist or is not yours."),
                     code="not_found", status=404)


def participant_clause(actor: User, brand: BrandConfig) -> ColumnElement[bool]:
    """SQL condition: threads of ``brand`` that ``actor`` takes part in."""
    on_brand = Thread.brand_id == brand.slug
    if actor.role == "patient" and actor.brand_id == brand.slug:
        return on_brand & (Thread.patient_id == actor.id)
    if actor.role == "specialist":
        return on_brand & (Thread.kind == "specialist") & (Thread.specialist_id == actor.id)
    if actor.role == "coordinator" and actor.brand_id == brand.slug:
        enabled = true() if settings_of(brand).care_team else false()
        return on_brand & (Thread.kind == "care_team") & enabled
    return false()


def visible_thread(session: Session, actor: User, brand: BrandConfig, thread_id: int) -> Thread:
    """The thread ``thread_id`` if ``actor`` takes part in it on ``brand``; else not found."""
    settings_of(brand)
    found = session.scalar(select(Thread).where(Thread.id == thread_id,
                                                participant_clause(actor, brand)))
    if found is None:
        raise not_found()
    return found


def had_appointment(session: Session, brand: BrandConfig, patient_id: int,
                    specialist_id: int) -> bool:
    """Whether the patient and the specialist have or had an appointment on ``brand``.

    Appointments belong to booking: without booking on the brand there is none.
    """
    if brand.module_settings("booking") is None:
        return False
    from modules.booking.models import Appointment  # only where booking is enabled

    return session.scalar(select(Appointment.id).where(
        Appointment.brand_id == brand.slug, Appointment.patient_id == patient_id,
        Appointment.specialist_id == specialist_id,
        Appointment.status.not_in(_NO_RELATIONSHIP)).limit(1)) is not None


def specialists_of_patient(session: Session, brand: BrandConfig, patient: User) -> list[User]:
    """The specialists ``patient`` has or had an appointment with on ``brand``, by name."""
    if brand.module_settings("booking") is None:
        return []
    from modules.booking.models import Appointment

    ids = select(Appointment.specialist_id).where(
        Appointment.brand_id == brand.slug, Appointment.patient_id == patient.id,
        Appointment.status.not_in(_NO_RELATIONSHIP))
    return list(session.scalars(select(User).where(User.id.in_(ids)).order_by(User.name)))


def patient_of_brand(session: Session, brand: BrandConfig, patient_id: int) -> User:
    """A patient account of ``brand``; not found otherwise."""
    found = session.get(User, patient_id)
    if found is None or found.role != "patient" or found.brand_id != brand.slug:
        raise not_found()
    return found


def patient_by_email(session: Session, brand: BrandConfig, email: str) -> User:
    """The patient account of ``brand`` with ``email``; a clear error when there is none."""
    from engine.identity.models import brand_realm
    from engine.identity.services import normalize_email

    found = session.scalar(select(User).where(User.realm == brand_realm(brand.slug),
                                              User.email == normalize_email(email),
                                              User.role == "patient"))
    if found is None:
        raise UserError(_("No patient of %(brand)s has the email %(email)s.", brand=brand.name,
                          email=email.strip()[:254]), code="unknown_patient", field="email")
    return found


def care_team(session: Session, brand: BrandConfig) -> list[User]:
    """The brand's care team: its coordinators."""
    return list(session.scalars(select(User).where(User.role == "coordinator",
                                                   User.brand_id == brand.slug)))
