"""The specialist's type editor attaches one of the brand's intake forms to a type (the acme
example defines "first-visit")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine import clock
from engine.identity.models import User
from modules.booking.models import AppointmentType
from tests.conftest import BrandClient
from tests.modules.booking.conftest import Practice

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASE = "/specialist/calendar"
TYPE_FORM = {"name": "Primera", "catalog_key": "first-visit", "duration_minutes": "60",
             "modality": "video", "location": "", "buffer_before_minutes": "0",
             "buffer_after_minutes": "0", "min_notice_minutes": "0", "max_days_ahead": "60",
             "slot_interval_minutes": "60", "daily_cap": "", "weekly_cap": "",
             "bookable_by": "patients"}


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


def _specialist_client(client_for: Callable[[str], BrandClient], signin: Callable[..., Any],
                       specialist: User) -> BrandClient:
    client = client_for("acme-clinic")
    assert signin(client, specialist.email).status_code == 302
    return client


def _intake_form_of(db: Session, type_id: int) -> str | None:
    db.expire_all()
    row = db.get(AppointmentType, type_id)
    assert row is not None
    return row.intake_form


def test_a_specialist_attaches_an_intake_form_to_a_type_and_detaches_it(
        db: Session, practice: Callable[..., Practice],
        client_for: Callable[[str], BrandClient], signin: Callable[..., Any]) -> None:
    p = practice()
    client = _specialist_client(client_for, signin, p.specialist)
    path = f"{BASE}/types/{p.appointment_type.id}"
    page = client.get(path).get_data(as_text=True)
    assert 'name="intake_form"' in page and '<option value="first-visit">' in page
    assert client.submit(path, {**TYPE_FORM, "intake_form": "first-visit"}).status_code == 302
    assert _intake_form_of(db, p.appointment_type.id) == "first-visit"
    assert '<option value="first-visit" selected>' in client.get(path).get_data(as_text=True)
    assert client.submit(path, {**TYPE_FORM, "intake_form": ""}).status_code == 302
    assert _intake_form_of(db, p.appointment_type.id) is None


def test_a_new_type_saves_with_its_intake_form(
        db: Session, practice: Callable[..., Practice],
        client_for: Callable[[str], BrandClient], signin: Callable[..., Any]) -> None:
    p = practice()
    client = _specialist_client(client_for, signin, p.specialist)
    answer = client.submit(f"{BASE}/types/new", {**TYPE_FORM, "name": "Con cuestionario",
                                                 "intake_form": "first-visit"})
    assert answer.status_code == 302
    row = db.query(AppointmentType).filter_by(specialist_id=p.specialist.id,
                                              name="Con cuestionario").one()
    assert row.intake_form == "first-visit"


def test_an_unknown_intake_form_is_refused_and_nothing_is_saved(
        db: Session, practice: Callable[..., Practice],
        client_for: Callable[[str], BrandClient], signin: Callable[..., Any]) -> None:
    p = practice()
    client = _specialist_client(client_for, signin, p.specialist)
    path = f"{BASE}/types/{p.appointment_type.id}"
    answer = client.submit(path, {**TYPE_FORM, "name": "Renamed", "intake_form": "no-such"})
    assert answer.status_code == 400
    assert 'id="intake_form"' in answer.get_data(as_text=True)
    db.expire_all()
    row = db.get(AppointmentType, p.appointment_type.id)
    assert row is not None and (row.name, row.intake_form) == ("First visit", None)
