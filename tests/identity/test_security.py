"""CSRF on every account form, the session cookie, session rotation, portals by role, redirects."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from engine.identity.models import Token, User
from engine.notify import Email
from tests.conftest import PASSWORD, link_in, unique_email
from tests.identity.conftest import path_of


def _count(db: Any, model: Any) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(model)))


def _session_cookie(resp: Any) -> dict[str, str]:
    """Attributes of the ``daraport`` Set-Cookie header, lower-cased names."""
    for header in resp.headers.getlist("Set-Cookie"):
        if header.startswith("daraport="):
            name_value, *attrs = [p.strip() for p in header.split(";")]
            parsed = {"value": name_value.partition("=")[2]}
            for a in attrs:
                key, _, val = a.partition("=")
                parsed[key.lower()] = val
            return parsed
    raise AssertionError("no session cookie set")


# --- CSRF --------------------------------------------------------------------------------------

BAD_TOKENS = pytest.mark.parametrize("token", [None, "not-a-real-token"], ids=["none", "wrong"])


@BAD_TOKENS
def test_sign_up_without_a_valid_csrf_token_is_refused_and_saves_nothing(client, db, token):
    client.get("/account/signup")
    email = unique_email("csrf")
    data = {"name": "Mallory", "email": email, "password": PASSWORD, "consent-privacy": "yes"}
    if token:
        data["csrf_token"] = token
    before = _count(db, User)
    assert client.post("/account/signup", data=data).status_code == 400
    assert _count(db, User) == before
    assert db.scalar(select(User).where(User.email == email)) is None


@BAD_TOKENS
def test_sign_in_without_a_valid_csrf_token_is_refused_and_signs_in_nobody(client, create_user,
                                                                          token):
    user = create_user()
    client.get("/account/signin")
    data = {"email": user.email, "password": PASSWORD}
    if token:
        data["csrf_token"] = token
    assert client.post("/account/signin", data=data).status_code == 400
    assert client.get("/me").status_code == 302


@BAD_TOKENS
def test_reset_request_without_a_valid_csrf_token_sends_nothing(client, db, create_user, token):
    user = create_user()
    client.get("/account/reset")
    data = {"email": user.email} | ({"csrf_token": token} if token else {})
    before = (_count(db, Email), _count(db, Token))
    assert client.post("/account/reset", data=data).status_code == 400
    assert (_count(db, Email), _count(db, Token)) == before


@BAD_TOKENS
def test_reset_without_a_valid_csrf_token_keeps_the_password_and_the_link(client, client_for,
                                                                         create_user, outbox,
                                                                         token):
    user = create_user()
    client.submit("/account/reset", {"email": user.email})
    link = path_of(link_in(outbox()[-1]))
    data = {"password": "hijacked password", "confirm": "hijacked password"}
    if token:
        data["csrf_token"] = token
    assert client.post(link, data=data).status_code == 400
    assert client.get(link).status_code == 200  # still unused
    fresh = client_for("acme-clinic")
    assert fresh.submit("/account/signin", {"email": user.email, "password": PASSWORD}) \
        .status_code == 302


@BAD_TOKENS
def test_signed_in_forms_without_a_valid_csrf_token_change_nothing(client, db, create_user,
                                                                   signin, token):
    user = create_user(name="Original Name")
    signin(client, user.email)
    extra = {"csrf_token": token} if token else {}
    posts = {
        "/account/settings": {"profile-name": "Changed", "profile-locale": "en",
                              "profile-timezone": "UTC"},
        "/account/locale": {"locale": "en"},
        "/account/timezone": {"timezone": "UTC"},
        "/account/verify": {},
        "/account/signout": {},
    }
    for path, data in posts.items():
        assert client.post(path, data=data | extra).status_code == 400, path
    db.expire_all()
    fresh = db.get(User, user.id)
    assert (fresh.name, fresh.locale, fresh.timezone) == ("Original Name", None, None)
    assert client.get("/me").status_code == 200  # the refused sign-out did not sign out


def test_a_form_with_the_right_csrf_token_is_accepted(client, db, create_user, signin):
    user = create_user(name="Original Name")
    signin(client, user.email)
    token = client.csrf("/account/settings")
    resp = client.submit("/account/settings", {
        "profile-csrf_token": token, "profile-name": "Changed", "profile-locale": "en",
        "profile-timezone": "UTC"})
    assert resp.status_code == 302
    db.expire_all()
    assert db.get(User, user.id).name == "Changed"


# --- the session cookie ------------------------------------------------------------------------


def test_session_cookie_is_httponly_lax_host_only_and_not_secure_over_http(client):
    cookie = _session_cookie(client.get("/account/signin"))
    assert "httponly" in cookie
    assert cookie["samesite"] == "Lax"
    assert "domain" not in cookie
    assert "secure" not in cookie


def test_session_cookie_is_secure_over_https(client):
    cookie = _session_cookie(client.get("/account/signin", base_url="https://acme.localhost"))
    assert "secure" in cookie
    assert "httponly" in cookie and cookie["samesite"] == "Lax" and "domain" not in cookie


def test_sign_in_rotates_the_session_and_drops_planted_values(platform, client, create_user,
                                                              signin):
    app = platform.app_for("acme-clinic")
    serializer = app.session_interface.get_signing_serializer(app)
    user = create_user()
    client.get("/account/signin")
    before = client.get_cookie("daraport", domain="acme.localhost")
    assert before is not None
    planted = serializer.loads(before.value) | {"planted": "by-an-attacker"}
    client.set_cookie("daraport", serializer.dumps(planted), domain="acme.localhost")
    assert "planted" in serializer.loads(
        client.get_cookie("daraport", domain="acme.localhost").value)
    assert signin(client, user.email).status_code == 302
    after = client.get_cookie("daraport", domain="acme.localhost")
    assert after is not None and after.value != before.value
    data = serializer.loads(after.value)
    assert "planted" not in data
    assert data.get("csrf_token") != planted.get("csrf_token")
    assert data["_user_id"] == user.get_id()


# --- portals by role ---------------------------------------------------------------------------

PORTALS = {"/me": "patient", "/specialist/": "specialist", "/org/": "org_admin",
           "/org/roster": "org_admin"}


@pytest.mark.parametrize("role", ["patient", "specialist", "org_admin"])
@pytest.mark.parametrize("path", list(PORTALS))
def test_each_portal_opens_for_its_role_and_refuses_the_others(client, create_user, signin,
                                                               role, path):
    extra = {"organization": "acme-madrid"} if role == "org_admin" else {}
    user = create_user(role=role, **extra)
    assert signin(client, user.email).status_code == 302
    expected = 200 if PORTALS[path] == role else 403
    assert client.get(path).status_code == expected


@pytest.mark.parametrize("path", list(PORTALS))
def test_each_portal_sends_anonymous_visitors_to_sign_in(client, path):
    resp = client.get(path)
    assert resp.status_code == 302
    target = urlsplit(resp.location)
    assert target.path == "/account/signin"
    assert parse_qs(target.query)["next"] == [path]


# --- redirects after sign-in -------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "//evil.example/steal", "https://evil.example/", "http:evil.example", "/\\evil.example",
    "\\\\evil.example", "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)",
    "evil.example",
])
def test_sign_in_ignores_an_off_site_next(client, create_user, signin, target):
    user = create_user()
    resp = client.submit("/account/signin?" + urlencode({"next": target}),
                         {"email": user.email, "password": PASSWORD})
    assert resp.status_code == 302
    assert resp.location == "/me"


def test_sign_in_follows_an_on_site_next(client, create_user):
    user = create_user()
    resp = client.submit("/account/signin?" + urlencode({"next": "/account/settings?tab=1"}),
                         {"email": user.email, "password": PASSWORD})
    assert resp.status_code == 302
    assert resp.location == "/account/settings?tab=1"
