"""Who the API believes: a bearer token of this brand (never another's, never revoked or
expired), or the signed-in session — whose unsafe requests still need the CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.identity.models import User
from modules.api import tokens
from modules.api.models import ApiToken
from modules.booking.models import Appointment
from tests.conftest import BrandClient
from tests.modules.api.conftest import MONDAY_9_MADRID, NOW, World, bearer


def _book(world: World) -> dict[str, object]:
    return {"specialist_id": world.specialist.id, "appointment_type_id":
            world.appointment_type_id, "start": MONDAY_9_MADRID}


def _appointments(db: Session) -> int:
    return len(db.scalars(select(Appointment).execution_options(all_brands=True)).all())


def test_bearer_token_signs_in_as_its_owner(client: BrandClient, world: World,
                                            token_for: Callable[..., str]) -> None:
    resp = client.get("/api/v1/appointments", headers=bearer(token_for(world.patient)))
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert "Set-Cookie" not in resp.headers  # a token request opens no session


def test_token_of_one_brand_is_worthless_on_another(
        client_for: Callable[[str], BrandClient], world: World,
        token_for: Callable[..., str]) -> None:
    # the specialist works on both brands; their acme-clinic token still fails on wellness-corp
    raw = token_for(world.specialist, "acme-clinic")
    assert client_for("acme-clinic").get("/api/v1/appointments",
                                         headers=bearer(raw)).status_code == 200
    resp = client_for("wellness-corp").get("/api/v1/appointments", headers=bearer(raw))
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "invalid_token"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_answers_401(db: Session, client: BrandClient, world: World,
                                   brands: dict, token_for: Callable[..., str]) -> None:
    raw = token_for(world.patient)
    row = db.scalar(select(ApiToken).where(ApiToken.user_id == world.patient.id))
    assert row is not None
    tokens.revoke_token(db, world.patient, brands["acme-clinic"], row.id)
    db.flush()
    resp = client.get("/api/v1/appointments", headers=bearer(raw))
    assert (resp.status_code, resp.get_json()["error"]) == (401, "invalid_token")


def test_expired_token_answers_401(client: BrandClient, world: World,
                                   token_for: Callable[..., str]) -> None:
    raw = token_for(world.patient, days=30)
    with clock.freeze(NOW + timedelta(days=30, seconds=1)):
        resp = client.get("/api/v1/appointments", headers=bearer(raw))
    assert (resp.status_code, resp.get_json()["error"]) == (401, "invalid_token")


def test_malformed_authorization_header_answers_401_even_on_public_routes(
        client: BrandClient, world: World, token_for: Callable[..., str]) -> None:
    raw = token_for(world.patient)
    for header in (f"Basic {raw}", "Bearer", f"Bearer {raw}x", raw):
        resp = client.get("/api/v1/directory/specialists", headers={"Authorization": header})
        assert resp.status_code == 401, header


def test_token_of_a_member_who_left_the_brand_answers_401(
        db: Session, client: BrandClient, world: World, token_for: Callable[..., str]) -> None:
    from engine.identity.models import SpecialistMembership

    raw = token_for(world.specialist)
    membership = db.scalar(select(SpecialistMembership).where(
        SpecialistMembership.user_id == world.specialist.id,
        SpecialistMembership.brand_id == "acme-clinic"))
    assert membership is not None
    membership.active = False
    db.flush()
    assert client.get("/api/v1/appointments", headers=bearer(raw)).status_code == 401


def test_session_post_without_csrf_header_is_refused_and_books_nothing(
        db: Session, client: BrandClient, world: World,
        signin: Callable[..., object]) -> None:
    signin(client, world.patient.email)
    resp = client.post("/api/v1/appointments", json=_book(world))
    assert (resp.status_code, resp.get_json()["error"]) == (400, "csrf")
    resp = client.post("/api/v1/appointments", json=_book(world),
                       headers={"X-CSRFToken": "forged"})
    assert (resp.status_code, resp.get_json()["error"]) == (400, "csrf")
    assert _appointments(db) == 0


def test_session_post_with_csrf_header_books(db: Session, client: BrandClient, world: World,
                                             signin: Callable[..., object]) -> None:
    signin(client, world.patient.email)
    token = client.csrf("/account/settings")
    resp = client.post("/api/v1/appointments", json=_book(world),
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["patient_id"] == world.patient.id
    assert _appointments(db) == 1


def test_session_get_needs_no_csrf(client: BrandClient, world: World,
                                   signin: Callable[..., object]) -> None:
    signin(client, world.patient.email)
    assert client.get("/api/v1/appointments").status_code == 200


def test_token_post_needs_no_csrf(db: Session, client: BrandClient, world: World,
                                  token_for: Callable[..., str]) -> None:
    resp = client.post("/api/v1/appointments", json=_book(world),
                       headers=bearer(token_for(world.patient)))
    assert resp.status_code == 201, resp.get_json()
    assert _appointments(db) == 1


def test_html_forms_keep_their_csrf_check(client: BrandClient, world: World,
                                          signin: Callable[..., object]) -> None:
    signin(client, world.patient.email)
    resp = client.post("/account/api-tokens/", data={"name": "x", "expires_in_days": "90"})
    assert resp.status_code == 400
    assert "dp_" not in resp.get_data(as_text=True)


def test_token_page_shows_a_new_token_once_and_stores_only_its_hash(
        db: Session, client: BrandClient, world: World,
        signin: Callable[..., object]) -> None:
    signin(client, world.patient.email)
    resp = client.submit("/account/api-tokens/", {"name": "My script",
                                                  "expires_in_days": "30"})
    assert resp.status_code == 201
    raw = re.search(r'id="new-token">(dp_[\w-]+)<', resp.get_data(as_text=True)).group(1)
    row = db.scalar(select(ApiToken).where(ApiToken.user_id == world.patient.id))
    assert row is not None and row.name == "My script"
    assert raw not in {row.token_hash, row.prefix} and row.prefix == raw[:10]
    assert row.expires_at == NOW + timedelta(days=30)
    again = client.get("/account/api-tokens/").get_data(as_text=True)
    assert raw not in again and "My script" in again
    assert client.get("/api/v1/appointments", headers=bearer(raw)).status_code == 200
    db.refresh(row)
    assert row.last_used_at == NOW


def test_token_page_revokes_own_tokens_only(
        db: Session, client: BrandClient, world: World, create_user: Callable[..., User],
        token_for: Callable[..., str], signin: Callable[..., object]) -> None:
    other = create_user(role="patient", brand="acme-clinic")
    theirs = token_for(other)
    mine = token_for(world.patient)
    rows = {r.user_id: r for r in db.scalars(select(ApiToken))}
    signin(client, world.patient.email)
    refused = client.submit(f"/account/api-tokens/{rows[other.id].id}/revoke",
                            form_page="/account/api-tokens/")
    assert refused.status_code == 404
    assert client.get("/api/v1/appointments", headers=bearer(theirs)).status_code == 200
    done = client.submit(f"/account/api-tokens/{rows[world.patient.id].id}/revoke",
                         form_page="/account/api-tokens/")
    assert done.status_code == 302
    assert client.get("/api/v1/appointments", headers=bearer(mine)).status_code == 401


def test_anonymous_visitor_cannot_reach_the_token_page(client: BrandClient) -> None:
    resp = client.get("/account/api-tokens/")
    assert resp.status_code == 302 and "/account/signin" in resp.headers["Location"]
