"""Attacks on what exists: mass assignment, CSRF, open redirect, stored XSS."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy import func, select

from engine.identity.models import User
from tests.conftest import PASSWORD, unique_email
from tests.security.conftest import A_BRAND, World

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


# --- mass assignment ---------------------------------------------------------------------------


def test_sign_up_ignores_role_brand_and_patient_fields(client_for, db):
    client = client_for(A_BRAND)
    email = unique_email("mass")
    page = client.get("/account/signup").get_data(as_text=True)
    consents = {name: "y" for name in re.findall(r'name="(consent-[a-z_-]+)"', page)}
    resp = client.submit("/account/signup", consents | {
        "name": "Mallory", "email": email, "password": PASSWORD, "role": "operator",
        "brand_id": "acme-clinic", "realm": "platform", "organization": "globex",
        "patient_id": "1", "session_epoch": "99", "email_verified_at": "2020-01-01"})
    assert resp.status_code == 302
    user = db.scalar(select(User).where(User.email == email))
    assert (user.role, user.brand_id, user.realm) == ("patient", A_BRAND, f"brand:{A_BRAND}")
    assert user.organization is None and user.session_epoch == 0
    assert user.email_verified_at is None


def test_account_settings_ignore_role_brand_and_email_fields(client, create_user, signin, db):
    user = create_user(name="Before")
    signin(client, user.email)
    resp = client.submit("/account/settings", {
        "profile-name": "After", "profile-locale": "en", "profile-timezone": "UTC",
        "role": "operator", "profile-role": "operator", "brand_id": "wellness-corp",
        "profile-brand_id": "wellness-corp", "profile-email": "taken@example.com",
        "email": "taken@example.com", "patient_id": "1"}, form_page="/account/settings")
    assert resp.status_code == 302
    db.expire_all()
    fresh = db.get(User, user.id)
    assert fresh.name == "After"
    assert (fresh.role, fresh.brand_id, fresh.email) == ("patient", "acme-clinic", user.email)


@pytest.mark.parametrize("field", ["patient_id", "brand_id", "role", "status", "price_minor"])
def test_the_json_api_refuses_server_decided_fields(client_for, create_user, signin, db, field):
    client = client_for(A_BRAND)
    patient = create_user(brand=A_BRAND)
    signin(client, patient.email)
    token = client.csrf("/me")
    before = db.scalar(select(func.count()).select_from(User))
    resp = client.post("/api/v1/appointments", json={
        "specialist_id": 1, "appointment_type_id": 1, "start": "2030-01-01T10:00:00+00:00",
        field: 1}, headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert resp.status_code in (400, 422)
    assert resp.get_json()["field"] == field
    assert db.scalar(select(func.count()).select_from(User)) == before


# --- CSRF ---------------------------------------------------------------------------------------


def test_a_signed_in_json_request_without_the_csrf_header_is_refused(client_for, create_user,
                                                                      signin):
    client = client_for(A_BRAND)
    signin(client, create_user(brand=A_BRAND).email)
    resp = client.post("/api/v1/appointments", json={"specialist_id": 1},
                       headers={"Accept": "application/json"})
    assert resp.status_code == 400


def test_a_cross_site_form_post_on_the_second_factor_page_is_refused(client, create_user,
                                                                     signin):
    user = create_user(role="specialist", brand="acme-clinic")
    signin(client, user.email)
    resp = client.post("/account/security/disable", data={"off-password": PASSWORD})
    assert resp.status_code == 400


# --- open redirect -------------------------------------------------------------------------------

EVIL = ["//evil.example", "/\\evil.example", "%2F%2Fevil.example", "https:evil.example",
        "https://evil.example", "/%2F/evil.example", "%5C%5Cevil.example", "///evil.example",
        "/\\/evil.example", "http://acme.localhost@evil.example"]


@pytest.mark.parametrize("target", EVIL)
def test_sign_in_never_redirects_off_site(client, create_user, target):
    user = create_user()
    # the raw target, and the target as a browser would encode it once more
    for query in (f"next={target}", urlencode({"next": target})):
        fresh_user = user
        resp = client.submit(f"/account/signin?{query}",
                             {"email": fresh_user.email, "password": PASSWORD})
        assert resp.status_code == 302
        assert not _off_site(resp.location), (query, resp.location)
        client.submit("/account/signout", {}, form_page="/me")


@pytest.mark.parametrize("target", EVIL)
def test_the_language_switch_never_redirects_off_site(client, target):
    resp = client.get(f"/account/locale?to=en&next={quote(target, safe='%/:')}")
    assert resp.status_code == 302 and not _off_site(resp.location)


def _off_site(location: str) -> bool:
    """Whether a browser would leave the site following ``location`` (browsers read a
    backslash as a slash; they never decode %2F or %5C into one)."""
    from urllib.parse import urlsplit

    normal = location.replace("\\", "/")
    parts = urlsplit(normal)
    if parts.netloc and parts.hostname not in ("acme.localhost", "wellness.localhost"):
        return True
    return normal.startswith("//") or parts.scheme not in ("", "http", "https")


# --- stored XSS -----------------------------------------------------------------------------------


def _escaped(body: str) -> None:
    assert "<script>alert(" not in body
    assert "onerror=alert" not in body.replace("onerror=alert(1)&gt;", "")  # only as text
    assert "&lt;script&gt;" in body


def test_a_patients_name_is_escaped_on_the_specialists_pages(
        platform, world: World, db, signin, client_for):
    world.a.name = XSS
    db.flush()
    owner = client_for(A_BRAND)
    signin(owner, world.owner.email)
    pages = _appointment_pages(platform, world)
    bodies = [_text(owner, p) for p in pages]
    shown = [b for b in bodies if "&lt;script&gt;" in b]
    assert shown, "the specialist's pages never show the patient's name"
    for body in shown:
        _escaped(body)


def test_intake_text_is_escaped_on_the_specialists_appointment_page(
        platform, world: World, db, signin, client_for):
    from modules.booking.models import IntakeAnswers

    row = db.get(IntakeAnswers, world.ids["intake"])
    answers = row.answers
    answers[0] = answers[0] | {"values": [XSS], "value_labels": [XSS]}
    row.answers = list(answers)
    db.flush()
    owner = client_for(A_BRAND)
    signin(owner, world.owner.email)
    shown = [b for b in (_text(owner, p) for p in _appointment_pages(platform, world))
             if "&lt;script&gt;" in b]
    assert shown, "no page shows the intake answers"
    for body in shown:
        _escaped(body)


def test_message_text_is_escaped_for_the_other_participant(platform, world: World, db, signin,
                                                           client_for):
    if "thread" not in world.ids:
        pytest.skip("messaging is not enabled on the example brand")
    from modules.messaging import services as messaging

    cfg = platform.brands[A_BRAND].loaded.config
    with platform.app_for(A_BRAND).test_request_context():
        messaging.post_message(db, world.a, cfg, world.ids["thread"], XSS, [],
                               platform.runtime.settings.data_dir)
    db.flush()
    owner = client_for(A_BRAND)
    signin(owner, world.owner.email)
    app = platform.app_for(A_BRAND)
    pages = [p for r, p in _get_paths(app, world) if "thread" in r.rule or "message" in r.rule]
    shown = [b for b in (_text(owner, p) for p in pages)
             if "&lt;script&gt;" in b or "\\u003cscript" in b]
    assert shown, "no page shows the message"
    for body in shown:
        assert "<script>alert(" not in body


def test_a_directory_bio_and_headline_are_escaped_for_visitors(platform, db, create_user,
                                                                client_for):
    from flask import url_for

    from modules.directory import services as directory
    from modules.directory.schemas import ProfileInput

    specialist = create_user(role="specialist", brand=A_BRAND)
    cfg = platform.brands[A_BRAND].loaded.config
    profile = directory.save_profile(db, specialist, cfg, ProfileInput(
        display_name="Dr Bio", headline=XSS[:150], bio=XSS))
    db.flush()
    app = platform.app_for(A_BRAND)
    with app.test_request_context():
        pages = [url_for(r.endpoint, profile_id=profile.id) for r in app.url_map.iter_rules()
                 if r.arguments == {"profile_id"} and "photo" not in r.rule
                 and "GET" in (r.methods or ())]
    assert pages, "no public profile page"
    visitor = client_for(A_BRAND)
    shown = [b for b in (_text(visitor, p) for p in pages) if "&lt;script&gt;" in b]
    assert shown, "no directory page shows the bio"
    for body in shown:
        _escaped(body)


def _text(client: Any, path: str) -> str:
    resp = client.get(path)
    body = resp.get_data(as_text=True)
    resp.close()
    return body


def _get_paths(app: Any, world: World) -> Any:
    from tests.security.test_authorization_matrix import _paths

    return _paths(app, world, {"GET"})


def _appointment_pages(platform: Any, world: World) -> list[str]:
    app = platform.app_for(A_BRAND)
    return [p for r, p in _get_paths(app, world)
            if any("appointment" in a for a in r.arguments) or r.rule.startswith("/specialist")]


def test_no_page_renders_the_markers_as_markup(world: World) -> None:
    """The XSS payload is a real string (so the tests above could fail)."""
    assert re.search(r"<script>", XSS)
