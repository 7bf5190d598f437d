"""Appointments through the API: the server decides who, where and what status; callers see
only their own; every bad input is a JSON problem that changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.identity.models import User
from engine.platform import Platform
from modules.booking.models import Appointment
from tests.conftest import BrandClient, spanish
from tests.modules.api.conftest import MONDAY_9_MADRID, World, bearer


def _count(db: Session) -> int:
    return db.scalar(select(func.count(Appointment.id))
                     .execution_options(all_brands=True)) or 0


def _body(world: World, **extra: object) -> dict[str, object]:
    return {"specialist_id": world.specialist.id,
            "appointment_type_id": world.appointment_type_id, "start": MONDAY_9_MADRID,
            **extra}


@pytest.mark.parametrize("field, value", [
    ("patient_id", 1), ("brand_id", "wellness-corp"), ("status", "completed"),
    ("price_minor", 0), ("booked_by_id", 1)])
def test_fields_the_server_decides_are_refused_not_obeyed(
        db: Session, platform: Platform, client: BrandClient, world: World,
        token_for: Callable[..., str], field: str, value: object) -> None:
    resp = client.post("/api/v1/appointments", json=_body(world, **{field: value}),
                       headers=bearer(token_for(world.patient)))
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "invalid", "field": field,  # in the brand's language
                               "message": spanish(platform, "Unknown field “%(name)s”.",
                                                  name=field)}
    assert _count(db) == 0


def test_a_patient_lists_only_their_own_appointments(
        db: Session, client: BrandClient, world: World, create_user: Callable[..., User],
        token_for: Callable[..., str]) -> None:
    booked = client.post("/api/v1/appointments", json=_body(world),
                         headers=bearer(token_for(world.patient)))
    assert booked.status_code == 201
    other = create_user(role="patient", brand="acme-clinic")
    theirs = client.get("/api/v1/appointments", headers=bearer(token_for(other)))
    assert theirs.get_json()["items"] == [] and theirs.get_json()["total"] == 0
    # no query parameter widens the list to someone else's
    resp = client.get("/api/v1/appointments", query_string={"patient_id": world.patient.id},
                      headers=bearer(token_for(other)))
    assert (resp.status_code, resp.get_json()["field"]) == (400, "patient_id")


def test_a_patient_cannot_cancel_or_move_another_patients_appointment(
        db: Session, client: BrandClient, world: World, create_user: Callable[..., User],
        token_for: Callable[..., str]) -> None:
    made = client.post("/api/v1/appointments", json=_body(world),
                       headers=bearer(token_for(world.patient))).get_json()
    other = bearer(token_for(create_user(role="patient", brand="acme-clinic")))
    assert client.post(f"/api/v1/appointments/{made['id']}/cancel",
                       headers=other).status_code == 404
    row = db.get(Appointment, made["id"])
    assert row is not None and row.status == "confirmed"


def test_appointments_of_another_brand_are_not_found(
        client_for: Callable[[str], BrandClient], world: World,
        create_user: Callable[..., User], token_for: Callable[..., str]) -> None:
    made = client_for("acme-clinic").post("/api/v1/appointments", json=_body(world),
                                          headers=bearer(token_for(world.patient))).get_json()
    # the specialist works on both brands: on wellness-corp the acme appointment is not theirs
    wellness = client_for("wellness-corp")
    token = bearer(token_for(world.specialist, "wellness-corp"))
    listed = wellness.get("/api/v1/appointments", headers=token).get_json()
    assert listed["items"] == []
    wellness_patient = create_user(role="patient", brand="wellness-corp")
    resp = wellness.post(f"/api/v1/appointments/{made['id']}/cancel",
                         headers=bearer(token_for(wellness_patient, "wellness-corp")))
    assert resp.status_code == 404


@pytest.mark.parametrize("start, code", [
    ("2026-03-02T09:00:00", "invalid"),          # no zone offset
    ("next monday", "invalid"),
    ("2026-02-20T09:00:00+01:00", "past"),
    ("2026-03-02T09:15:00+01:00", "not_available"),  # not on the slot grid
])
def test_bad_start_times_are_clear_problems_that_book_nothing(
        db: Session, client: BrandClient, world: World, token_for: Callable[..., str],
        start: str, code: str) -> None:
    resp = client.post("/api/v1/appointments", json=_body(world, start=start),
                       headers=bearer(token_for(world.patient)))
    assert resp.status_code == 400
    assert resp.get_json()["error"] == code and resp.get_json()["field"] == "start"
    assert _count(db) == 0


def test_availability_window_is_limited_and_ordered(client: BrandClient, world: World) -> None:
    url = f"/api/v1/specialists/{world.specialist.id}/availability"
    base = {"type": world.appointment_type_id, "from": "2026-03-02T00:00:00Z"}
    too_long = client.get(url, query_string={**base, "to": "2026-04-03T00:00:00Z"})
    backwards = client.get(url, query_string={**base, "to": "2026-03-01T00:00:00Z"})
    unknown = client.get(url, query_string={**base, "to": "2026-03-03T00:00:00Z", "tz": "x"})
    assert [r.get_json()["error"] for r in (too_long, backwards, unknown)] == [
        "invalid_window", "invalid_window", "invalid"]
    assert [r.get_json()["field"] for r in (too_long, backwards, unknown)] == ["to", "to", "tz"]


def test_problems_speak_the_callers_language(
        db: Session, client: BrandClient, world: World, token_for: Callable[..., str]) -> None:
    url, bad = "/api/v1/directory/specialists", {"page": "0"}
    anonymous = client.get(url, query_string=bad).get_json()  # the brand's language: Spanish
    assert anonymous == {"error": "invalid", "field": "page", "message":
                         "El parámetro “page” debe ser un número entero del 1 al 10000."}
    world.patient.locale = "en"  # a token request speaks its owner's language
    db.flush()
    english = client.get(url, query_string=bad, headers=bearer(token_for(world.patient)))
    assert english.get_json()["message"] == (
        "The parameter “page” must be a whole number from 1 to 10000.")
    assert client.get("/api/v1/nowhere").get_json()["error"] == "not_found"


def test_a_specialist_of_another_network_or_a_patient_id_is_not_a_specialist_here(
        client: BrandClient, world: World) -> None:
    for sid in (world.patient.id, 999_999):
        resp = client.get(f"/api/v1/specialists/{sid}/appointment-types")
        assert (resp.status_code, resp.get_json()["error"]) == (404, "not_found")


def test_appointment_types_list_only_what_patients_book_themselves(
        db: Session, client: BrandClient, world: World, brands: dict) -> None:
    from modules.booking import calendar
    from tests.modules.booking.conftest import FIRST_VISIT, variant

    calendar.save_appointment_type(db, world.specialist, brands["acme-clinic"],
                                   variant(FIRST_VISIT, name="Staff only", bookable_by="staff"))
    db.flush()
    listed = client.get(f"/api/v1/specialists/{world.specialist.id}/appointment-types")
    assert [t["id"] for t in listed.get_json()["items"]] == [world.appointment_type_id]
