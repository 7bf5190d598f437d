"""Messaging fixtures: the example brands (messaging on both), people of every role with an
appointment between a patient and a shared specialist, and signed-in browsers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity import services as identity
from engine.identity.models import User
from engine.platform import Platform
from modules.booking.models import Appointment, AppointmentType
from tests.conftest import PASSWORD, BrandClient

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
       b"\x00\x00\x00IEND\xaeB`\x82")
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200


@pytest.fixture
def configs(platform: Platform) -> dict[str, BrandConfig]:
    return {slug: platform.brands[slug].loaded.config for slug in ("acme-clinic", "wellness-corp")}


def book_appointment(db: Session, brand: BrandConfig, patient: User, specialist: User, *,
                     start: datetime | None = None, status: str = "confirmed") -> Appointment:
    """An appointment row between ``patient`` and ``specialist`` on ``brand`` (no availability
    rules needed: messaging only reads that the appointment exists)."""
    kind = AppointmentType(brand_id=brand.slug, specialist_id=specialist.id, name="Session",
                           duration_minutes=50, modality="video", currency=brand.currency)
    db.add(kind)
    db.flush()
    start = start or clock.now() + timedelta(days=3)
    appointment = Appointment(
        brand_id=brand.slug, specialist_id=specialist.id, patient_id=patient.id,
        appointment_type_id=kind.id, booked_by_id=patient.id, modality="video",
        start_at=start, end_at=start + timedelta(minutes=50), blocked_start_at=start,
        blocked_end_at=start + timedelta(minutes=50), status=status, price_minor=0,
        currency=brand.currency)
    db.add(appointment)
    db.flush()
    return appointment


@dataclass
class Cast:
    patient: User
    specialist: User  # a care-collective specialist on both brands
    third_patient: User
    lone_specialist: User  # on acme-clinic, no appointment with the patient
    other_brand_patient: User  # of wellness-corp
    coordinator: User
    appointment: Appointment


@pytest.fixture
def cast(db: Session, configs: dict[str, BrandConfig], create_user: Callable[..., User],
         ) -> Cast:
    acme = configs["acme-clinic"]
    patient = create_user(role="patient", name="Pat Ient")
    specialist = create_user(role="specialist", name="Dr Vega")
    identity.add_membership(db, configs["wellness-corp"], specialist)
    third = create_user(role="patient", name="Third Person")
    lone = create_user(role="specialist", name="Dr Lone")
    other = create_user(role="patient", brand="wellness-corp", name="Other Brand")
    coordinator = create_user(role="coordinator", name="Coral Coordinator")
    appointment = book_appointment(db, acme, patient, specialist)
    # the wellness patient saw the same specialist there: a relationship on the other brand only
    # (another day: one calendar across brands, PostgreSQL refuses an overlap)
    book_appointment(db, configs["wellness-corp"], other, specialist,
                     start=clock.now() + timedelta(days=5))
    return Cast(patient, specialist, third, lone, other, coordinator, appointment)


@pytest.fixture
def browser(db: Session, client_for: Callable[[str], BrandClient],
            signin: Callable[..., Any]) -> Callable[..., BrandClient]:
    """Factory: a browser on ``brand`` signed in as ``user`` (who reads English, so the
    tests read the source strings whatever the brand's default language)."""

    def make(user: User, brand: str = "acme-clinic") -> BrandClient:
        user.locale = "en"
        db.flush()
        client = client_for(brand)
        resp = signin(client, user.email, PASSWORD)
        assert resp.status_code in (302, 303), resp.get_data(as_text=True)[:500]
        return client

    return make

