"""Booking pages that show a patient's record are audited, and the patient sees who looked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock
from engine.audit_models import AuditEvent
from engine.identity.models import User
from modules.booking import services as booking
from tests.conftest import BrandClient
from tests.modules.booking.conftest import Practice

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


def _client(client_for: Callable[[str], BrandClient], signin: Callable[..., Any],
            user: User) -> BrandClient:
    client = client_for("acme-clinic")
    assert signin(client, user.email).status_code == 302
    return client


def test_specialist_viewing_an_appointment_is_logged_and_shown_to_the_patient(
        db, brands, practice: Callable[..., Practice], create_user, client_for, signin):
    p = practice()
    patient = create_user(role="patient", brand="acme-clinic", name="Ana Paciente")
    made = booking.book(db, patient, brands["acme-clinic"], p.specialist.id,
                        p.appointment_type.id, "2026-03-02T09:00:00+01:00")
    specialist = _client(client_for, signin, p.specialist)
    assert specialist.get(f"/specialist/calendar/appointments/{made.id}").status_code == 200
    db.expire_all()
    [ev] = db.scalars(select(AuditEvent).where(AuditEvent.action == "appointment.view"))
    assert (ev.actor_id, ev.actor_role, ev.patient_id, ev.target_id, ev.brand_id) == \
        (p.specialist.id, "specialist", patient.id, str(made.id), "acme-clinic")
    page = _client(client_for, signin, patient).get("/me/access-log").get_data(as_text=True)
    assert "Dr Vega" in page


def test_another_specialists_appointment_is_not_logged_as_viewed(
        db, brands, practice: Callable[..., Practice], create_user, client_for, signin):
    p = practice()
    patient = create_user(role="patient", brand="acme-clinic")
    made = booking.book(db, patient, brands["acme-clinic"], p.specialist.id,
                        p.appointment_type.id, "2026-03-02T09:00:00+01:00")
    stranger = create_user(role="specialist", brand="acme-clinic")
    client = _client(client_for, signin, stranger)
    assert client.get(f"/specialist/calendar/appointments/{made.id}").status_code == 404
    db.expire_all()
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "appointment.view")) is None
