"""Who gets into the console, how its session is kept, and the route audit."""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import Rule

from engine.app import brand_secret
from engine.console.app import console_secret
from engine.console.auth import OPERATOR_ACCESS
from engine.identity.permissions import access_of
from tests.conftest import PASSWORD

OPERATOR_PAGES = ["/", "/brands", "/users", "/users?brand=acme-clinic", "/outbox", "/status"]


@pytest.mark.parametrize("path", OPERATOR_PAGES)
def test_anonymous_visitor_is_sent_to_sign_in(console, path):
    resp = console.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/signin?next=")


@pytest.mark.parametrize("role,brand", [("patient", "acme-clinic"), ("specialist", "acme-clinic"),
                                        ("org_admin", "acme-clinic")])
def test_brand_credentials_never_sign_in_on_the_console(console, console_signin, create_user,
                                                        role, brand):
    user = create_user(role=role, brand=brand,
                       **({"organization": "acme-madrid"} if role == "org_admin" else {}))
    resp = console_signin(console, user.email)
    assert resp.status_code == 401
    assert "Email or password is not right." in resp.get_data(as_text=True)
    assert console.get("/brands").status_code == 302


def test_operator_password_works_only_with_the_operator_account(console, console_signin,
                                                                create_user, operator):
    # A patient with the same email and password on a brand does not become an operator.
    create_user(role="patient", brand="acme-clinic", email=operator.email)
    assert console_signin(console, operator.email, "wrong password!!").status_code == 401
    resp = console_signin(console, operator.email)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/brands"


def test_operator_signs_in_then_out(operator_console, operator, db):
    page = operator_console.get("/brands")
    assert page.status_code == 200
    assert operator.email in page.get_data(as_text=True)
    db.refresh(operator)
    assert operator.last_sign_in_at is not None
    resp = operator_console.submit("/signout", {}, form_page="/brands")
    assert resp.status_code == 302
    assert operator_console.get("/brands").status_code == 302


def test_sign_in_ignores_offsite_next(console, console_signin, operator):
    resp = console_signin(console, operator.email, path="/signin?next=//evil.example/")
    assert resp.headers["Location"] == "/brands"


def test_sign_in_form_without_csrf_token_is_refused(console, operator):
    resp = console.post("/signin", data={"email": operator.email, "password": PASSWORD})
    assert resp.status_code == 400
    assert console.get("/brands").status_code == 302


def test_session_cookie_is_httponly_lax_and_signed_with_a_console_key(console, console_signin,
                                                                      operator, platform):
    resp = console_signin(console, operator.email)
    cookie = next(c for c in resp.headers.getlist("Set-Cookie")
                  if c.startswith("daraport_console="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    key = console_secret(platform.runtime.settings.secret_key)
    assert key not in {brand_secret(platform.runtime.settings.secret_key, slug)
                       for slug in platform.brands}
    assert platform.console.secret_key == key


def test_console_session_is_not_accepted_by_a_brand(console, console_signin, operator, client_for):
    console_signin(console, operator.email)
    value = console.get_cookie("daraport_console", domain="admin.localhost").value
    brand = client_for("acme-clinic")
    brand.set_cookie("daraport", value, domain="acme.localhost")
    resp = brand.get("/account/settings")
    assert resp.status_code == 302 and "/account/signin" in resp.headers["Location"]


def test_operator_language_choice_is_kept_on_the_account(operator_console, operator, db):
    resp = operator_console.submit("/locale", {"locale": "es", "next": "/status"},
                                   form_page="/brands")
    assert resp.headers["Location"] == "/status"
    db.refresh(operator)
    assert operator.locale == "es"
    page = operator_console.get("/brands").get_data(as_text=True)
    assert '<html lang="es">' in page
    assert "Marcas" in page and "Cerrar sesión" in page


def test_console_templates_come_from_the_console_only(platform):
    loader = platform.console.jinja_loader
    assert loader is not None
    # the console's own folder, then the template folders of modules with console pages
    paths = [path for one in getattr(loader, "loaders", [loader]) for path in one.searchpath]
    assert paths and all("themes" not in path and "brands" not in path for path in paths)


def _console_rules(platform) -> list[Rule]:
    return list(platform.console.url_map.iter_rules())


def test_every_console_route_declares_its_access(platform):
    undeclared = [rule.rule for rule in _console_rules(platform)
                  if access_of(platform.console.view_functions[rule.endpoint]) is None]
    assert undeclared == []


def test_every_non_public_console_route_refuses_anonymous_visitors(platform, console):
    checked = 0
    for rule in _console_rules(platform):
        access = access_of(platform.console.view_functions[rule.endpoint])
        if access == ("public", None):
            continue
        assert access == OPERATOR_ACCESS, rule.rule
        path = re.sub(r"<(?:int:)?(\w+)>", lambda m: "1" if "int:" in m.group(0) else "x",
                      rule.rule)
        if "GET" in rule.methods:
            resp = console.get(path)
            assert resp.status_code == 302, rule.rule
            assert resp.headers["Location"].startswith("/signin"), rule.rule
        else:
            assert console.post(path).status_code in (400, 401, 403), rule.rule
        checked += 1
    assert checked >= 6


def test_public_console_routes_are_only_sign_in_out_locale_static_and_healthz(platform):
    public = sorted(rule.endpoint for rule in _console_rules(platform)
                    if access_of(platform.console.view_functions[rule.endpoint])
                    == ("public", None))
    assert public == ["auth.set_locale", "auth.signin", "auth.signout", "console.healthz",
                      "mfa.code", "mfa.enroll", "static"]


def test_repeated_wrong_passwords_lock_operator_sign_in(console, console_signin, operator):
    for _ in range(4):
        assert console_signin(console, operator.email, "not the password").status_code == 401
    locked = console_signin(console, operator.email, "not the password")
    assert locked.status_code == 429
    # Locked out: even the right password waits.
    assert console_signin(console, operator.email).status_code == 429


def test_every_console_string_has_a_spanish_translation():
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    from engine.console.i18n import TRANSLATIONS_DIR

    console_dir = TRANSLATIONS_DIR.parent
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None, "_ln": (1, 2), "ngettext": (1, 2)}
    source_ids = {msg[2] if isinstance(msg[2], str) else msg[2][0]
                  for msg in extract_from_dir(str(console_dir), method_map, keywords=keywords)}
    with (TRANSLATIONS_DIR / "es" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="es")
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog
                  if m.id and m.string and all(m.string if isinstance(m.string, tuple)
                                               else [m.string])}
    assert sorted(source_ids - translated) == []


@pytest.mark.parametrize("path", ["/brands", "/users?brand=acme-clinic", "/outbox", "/status",
                                  "/nope"])
def test_console_pages_render_in_spanish(operator_console, operator, db, path):
    operator.locale = "es"
    db.flush()
    page = operator_console.get(path).get_data(as_text=True)
    assert '<html lang="es">' in page
    assert "Bandeja de salida" in page and "Outbox<" not in page


def test_console_session_loader_accepts_operators_only(db, create_user, operator):
    from engine.console.services import load_operator

    patient = create_user(role="patient", brand="acme-clinic")
    specialist = create_user(role="specialist", brand="acme-clinic")
    assert load_operator(db, patient.get_id()) is None
    assert load_operator(db, specialist.get_id()) is None
    assert load_operator(db, "garbage") is None
    assert load_operator(db, operator.get_id()) is operator


def test_operator_session_ends_when_the_password_epoch_moves(operator_console, operator, db):
    assert operator_console.get("/brands").status_code == 200
    operator.session_epoch += 1
    db.flush()
    assert operator_console.get("/brands").status_code == 302
