"""Errors render a localized page for browsers and a JSON problem for clients; errors roll back
the request's writes, a finished request commits them once."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, abort
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import Forbidden, NotFound
from werkzeug.test import TestResponse

from engine.app import build_brand_app
from engine.i18n import http_message
from engine.identity.models import User, brand_realm
from engine.identity.permissions import public
from engine.platform import Platform
from engine.web import UserError
from engine.web import db as request_session
from tests.conftest import BrandClient

JSON = {"Accept": "application/json"}


def _new_user(email: str) -> User:
    return User(realm=brand_realm("acme-clinic"), role="patient", brand_id="acme-clinic",
                email=email, name="Written by the request", password_hash="x")


@pytest.fixture
def app(platform: Platform, db: Session) -> Flask:
    """acme-clinic built afresh, plus views that write a row and then fail in different ways."""
    app = build_brand_app(platform.brands["acme-clinic"].loaded, platform.runtime)

    @app.route("/test/write/<email>/<outcome>", methods=["POST"])
    @public
    def write_then(email: str, outcome: str) -> Any:
        request_session().add(_new_user(email))
        if outcome == "commit-fails":  # the unique (realm, email) breaks at the final commit
            request_session().add(_new_user(email))
            return {"saved": True}, 201
        request_session().flush()
        if outcome == "crash":
            raise RuntimeError("a bug")
        if outcome == "user-error":
            raise UserError("That will not do.", code="not_allowed", field="email")
        if outcome == "abort":
            abort(404)
        if outcome == "conflict":  # a view may answer 4xx on purpose; what it wrote stands
            return {"saved": True}, 409
        return {"saved": True}, 201

    return app


@pytest.fixture
def browser(app: Flask) -> BrandClient:
    return BrandClient(app, "acme.localhost")


def _lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match
    return match.group(1)


def _stored(session: Session, email: str) -> bool:
    return session.scalar(select(User).where(User.email == email)) is not None


def _post(client: BrandClient, outcome: str,
          headers: dict[str, str] | None = None) -> tuple[str, TestResponse]:
    """POST to a writing view the way a page's script would: with the session's CSRF token."""
    email = f"written-{uuid.uuid4().hex[:8]}@example.com"
    csrf = client.csrf("/account/signin")
    return email, client.post(f"/test/write/{email}/{outcome}",
                              headers={"X-CSRFToken": csrf, **(headers or {})})


@pytest.mark.parametrize(("outcome", "status", "kept"), [
    ("ok", 201, True),
    ("conflict", 409, True),
    ("crash", 500, False),
    ("user-error", 400, False),
    ("abort", 404, False),
    ("commit-fails", 500, False),
])
def test_errors_roll_back_the_requests_writes_and_success_commits(
        browser: BrandClient, db: Session, outcome: str, status: int, kept: bool) -> None:
    email, resp = _post(browser, outcome)
    assert resp.status_code == status
    assert _stored(db, email) is kept


@pytest.mark.parametrize("outcome", ["crash", "user-error", "abort"])
def test_a_signed_in_users_error_page_still_renders(
        browser: BrandClient, db: Session, create_user: Callable[..., User],
        signin: Callable[..., TestResponse], outcome: str) -> None:
    user = create_user("patient", brand="acme-clinic")
    assert signin(browser, user.email).status_code == 302
    email, resp = _post(browser, outcome)
    assert resp.status_code in (400, 404, 500)
    html = resp.get_data(as_text=True)
    assert _lang(html) == "es"
    assert "Traceback" not in html and "a bug" not in html
    assert not _stored(db, email)
    assert browser.get("/me").status_code == 200  # the session survived the error


def test_server_error_answers_a_localized_page(browser: BrandClient, app: Flask) -> None:
    _, resp = _post(browser, "crash")
    assert resp.status_code == 500
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    with app.test_request_context(), force_locale("es"):
        expected = http_message(None)
    assert _lang(html) == "es"
    assert expected in html
    assert "a bug" not in html and "RuntimeError" not in html


def test_server_error_answers_a_json_problem(browser: BrandClient) -> None:
    _, resp = _post(browser, "crash", headers=JSON)
    assert resp.status_code == 500
    assert resp.json == {"error": "server_error", "message": resp.json["message"],
                         "field": None}
    assert "a bug" not in resp.json["message"]


def test_user_error_answers_a_json_problem_naming_the_field(browser: BrandClient) -> None:
    _, resp = _post(browser, "user-error", headers=JSON)
    assert resp.status_code == 400
    assert resp.json == {"error": "not_allowed", "message": "That will not do.",
                         "field": "email"}


@pytest.mark.parametrize(("slug", "lang"), [("acme-clinic", "es"), ("wellness-corp", "en")])
def test_not_found_renders_a_localized_page(client_for: Callable[[str], BrandClient],
                                            platform: Platform, slug: str, lang: str) -> None:
    resp = client_for(slug).get("/no/such/page")
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert _lang(html) == lang
    with platform.app_for(slug).test_request_context(), force_locale(lang):
        assert http_message(NotFound()) in html


@pytest.mark.parametrize("slug", ["acme-clinic", "wellness-corp"])
def test_not_found_answers_a_json_problem(client_for: Callable[[str], BrandClient],
                                          slug: str) -> None:
    resp = client_for(slug).get("/no/such/page", headers=JSON)
    assert resp.status_code == 404
    assert resp.json["error"] == "not_found"
    assert resp.json["field"] is None
    assert set(resp.json) == {"error", "message", "field"}


@pytest.mark.parametrize("role", ["patient", "org_admin"])
def test_forbidden_renders_a_page_and_a_json_problem(
        client_for: Callable[[str], BrandClient], create_user: Callable[..., User],
        signin: Callable[..., TestResponse], platform: Platform, role: str) -> None:
    client = client_for("acme-clinic")
    user = create_user(role, brand="acme-clinic",
                       organization="acme-madrid" if role == "org_admin" else None)
    assert signin(client, user.email).status_code == 302
    page = client.get("/specialist/")
    assert page.status_code == 403
    with platform.app_for("acme-clinic").test_request_context(), force_locale("es"):
        assert http_message(Forbidden()) in page.get_data(as_text=True)
    problem = client.get("/specialist/", headers=JSON)
    assert problem.status_code == 403
    assert problem.json["error"] == "forbidden"


@pytest.mark.parametrize("request_kwargs", [{"headers": JSON}, {"json": {}}],
                         ids=["accept-json", "json-body"])
def test_anonymous_json_client_gets_401_not_a_redirect(
        client_for: Callable[[str], BrandClient], request_kwargs: dict[str, Any]) -> None:
    resp = client_for("acme-clinic").get("/me", **request_kwargs)
    assert resp.status_code == 401
    assert resp.json["error"] == "unauthorized"
    browser = client_for("acme-clinic").get("/me")
    assert browser.status_code == 302
    assert browser.headers["Location"].startswith("/account/signin")


def test_csrf_failure_answers_a_json_problem(client_for: Callable[[str], BrandClient]) -> None:
    resp = client_for("acme-clinic").post("/account/locale", data={"locale": "en"},
                                          headers=JSON)
    assert resp.status_code == 400
    assert resp.json["error"] == "csrf"


def test_method_not_allowed_keeps_the_allow_header(
        client_for: Callable[[str], BrandClient]) -> None:
    resp = client_for("acme-clinic").put("/account/signin", headers=JSON)
    assert resp.status_code == 405
    assert "POST" in resp.headers["Allow"]
    assert resp.json["error"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/", "/no/such/page", "/account/signin", "/healthz",
                                  "/static/css/base.css"])
@pytest.mark.parametrize("slug", ["acme-clinic", "wellness-corp"])
def test_every_response_carries_security_headers(client_for: Callable[[str], BrandClient],
                                                 slug: str, path: str) -> None:
    with client_for(slug).get(path) as resp:
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"


def test_signed_in_pages_are_not_stored_by_caches(
        client_for: Callable[[str], BrandClient], create_user: Callable[..., User],
        signin: Callable[..., TestResponse]) -> None:
    client = client_for("acme-clinic")
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    user = create_user("patient", brand="acme-clinic")
    signin(client, user.email)
    assert "no-store" in client.get("/me").headers.get("Cache-Control", "")
