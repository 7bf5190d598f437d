"""Making video appointments for the tests (directly as rows: the tests are about visits, and
booking's own rules of notice and availability are booking's tests)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity import services as identity
from engine.identity.models import User
from engine.privacy import consent
from engine.settings import ROOT
from modules.booking.models import Appointment, AppointmentType
from modules.video import services
from tests.conftest import PASSWORD


@dataclass
class VideoAppointment:
    appointment: Appointment
    specialist: User
    patient: User

    def token(self, secret: str, brand: BrandConfig, user: User) -> str:
        made = services.join_token(secret, brand, self.appointment, user.id)
        assert made is not None
        return made


def person(session: Session, brand: BrandConfig, role: str, name: str) -> User:
    user = identity.create_user(session, brand, role=role, name=name, password=PASSWORD,
                                email=f"{role}-{uuid.uuid4().hex[:10]}@example.com")
    if role == "specialist":
        identity.add_membership(session, brand, user)
    if role == "patient":  # as one who signed up: every current consent given (telehealth too)
        give_consents(session, brand, user)
    session.flush()
    return user


def give_consents(session: Session, brand: BrandConfig, user: User) -> None:
    for doc in consent.current_documents(brand):
        consent.record(session, user, brand, doc.key, granted=True, method="signup",
                       brands_dir=ROOT / "brands")


def video_appointment(session: Session, brand: BrandConfig, *,
                      specialist: User | None = None, patient: User | None = None,
                      start_in: timedelta = timedelta(minutes=5), minutes: int = 30,
                      status: str = "confirmed", modality: str = "video") -> VideoAppointment:
    specialist = specialist or person(session, brand, "specialist", "Dra. Vídeo")
    patient = patient or person(session, brand, "patient", "Paciente Vídeo")
    kind = AppointmentType(brand_id=brand.slug, specialist_id=specialist.id,
                           name="Videoconsulta", duration_minutes=minutes, modality=modality,
                           location=None if modality == "video" else "Consulta 1",
                           currency=brand.currency)
    session.add(kind)
    session.flush()
    start = (clock.now() + start_in).replace(microsecond=0)
    end = start + timedelta(minutes=minutes)
    appointment = Appointment(
        brand_id=brand.slug, specialist_id=specialist.id, patient_id=patient.id,
        appointment_type_id=kind.id, booked_by_id=patient.id, modality=modality,
        start_at=start, end_at=end, blocked_start_at=start, blocked_end_at=end,
        status=status, price_minor=0, currency=brand.currency)
    session.add(appointment)
    session.flush()
    return VideoAppointment(appointment, specialist, patient)
