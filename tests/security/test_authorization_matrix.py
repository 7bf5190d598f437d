"""The authorization matrix: every GET route of both example brands and of the console, asked by
every kind of viewer with ids that belong to patient A.

Generic on purpose: routes come from each app's url_map, so a route a module adds later is in
the matrix without touching this file. The rules:

- no answer is a server error;
- an anonymous visitor gets a page only from a route declared public; anything else sends them
  to sign in, or answers 401/403/404;
- no answer shows patient A's private markers (name, email, intake text, message text) to anyone
  but A herself (or, on the console, an operator, whose job includes listing accounts);
- unsafe methods without a CSRF token change nothing and leak nothing (400, or 401/403/404/405).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, url_for
from werkzeug.routing import AnyConverter, IntegerConverter, Rule, UUIDConverter

from engine.identity.permissions import access_of
from engine.platform import Platform
from tests.conftest import BRAND_HOSTS, BrandClient
from tests.security.conftest import A_BRAND, CONSOLE_HOST, OTHER_BRAND, VIEWERS, World

OK = {200, 204, 304}
REDIRECTS = {301, 302, 303, 307, 308}
REFUSALS = {400, 401, 403, 404, 405, 409, 410, 422, 429, 503}  # 503: webhook not configured
SIGN_IN_PATHS = ("/account/signin", "/signin")


def _id_for(arg: str, world: World) -> int:
    """An id of A's data for a URL argument, by the argument's name (default: the appointment)."""
    for fragment in ("thread", "message", "intake", "specialist", "patient", "user",
                     "appointment", "type"):
        if fragment in arg and fragment in world.ids:
            return world.ids[fragment]
    return world.ids["appointment"]


def _value_for(arg: str, conv: Any, world: World) -> Any:
    if isinstance(conv, IntegerConverter):
        return _id_for(arg, world)
    if isinstance(conv, AnyConverter):
        return sorted(conv.items)[0]
    if isinstance(conv, UUIDConverter):
        return uuid.UUID(int=world.ids["appointment"])
    return "x"


def _paths(app: Flask, world: World, methods: set[str]) -> list[tuple[Rule, str]]:
    """(rule, path) of every route answering one of ``methods``, with A's ids filled in.

    Built inside a request context that is closed again before any request is made: requests
    made while it is open would share its app context (``g``: the user, the database session).
    """
    built = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if not (rule.methods or set()) & methods:
                continue
            values: dict[str, Any] = {}
            for arg in rule.arguments:
                conv = rule._converters.get(arg)  # noqa: SLF001 (werkzeug has no public API)
                values[arg] = _value_for(arg, conv, world)
            built.append((rule, url_for(rule.endpoint, **values)))
    return built


def _leaks(resp: Any, markers: tuple[str, ...]) -> list[str]:
    text = resp.get_data(as_text=True) + " " + resp.headers.get("Location", "")
    resp.close()  # file responses (static, downloads) hold an open file until closed
    return [m for m in markers if m in text]


def _check_get(app: Flask, client: BrandClient, viewer: str, world: World,
               may_see_a: bool) -> int:
    checked = 0
    for rule, path in _paths(app, world, {"GET"}):
        resp = client.get(path)
        status = resp.status_code
        where = f"{viewer} GET {path} ({rule.endpoint}) -> {status}"
        assert status in OK | REDIRECTS | REFUSALS, where
        if viewer == "anonymous" and access_of(app.view_functions[rule.endpoint]) != \
                ("public", None):
            assert status not in OK, where
            if status in REDIRECTS:
                assert urlsplit(resp.location).path in SIGN_IN_PATHS, where
        leaked = _leaks(resp, world.markers)
        assert may_see_a or not leaked, f"{where} shows {leaked}"
        checked += 1
    return checked


def _check_unsafe(app: Flask, client: BrandClient, viewer: str, world: World,
                  may_see_a: bool) -> None:
    for rule, path in _paths(app, world, {"POST", "PUT", "PATCH", "DELETE"}):
        method = next(m for m in ("POST", "PUT", "PATCH", "DELETE") if m in (rule.methods or ()))
        resp = client.open(path, method=method, data={"brand_id": OTHER_BRAND})
        where = f"{viewer} {method} {path} ({rule.endpoint}) -> {resp.status_code}"
        assert resp.status_code in REFUSALS | REDIRECTS, where
        if resp.status_code in REDIRECTS:  # only to sign in (a @requires view, anonymous)
            assert urlsplit(resp.location).path in SIGN_IN_PATHS, where
        leaked = _leaks(resp, world.markers)
        assert may_see_a or not leaked, f"{where} shows {leaked}"


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("brand", [A_BRAND, OTHER_BRAND])
def test_every_brand_route_answers_each_viewer_without_leaking_patient_a(
        platform: Platform, world: World, viewers: Callable[[str, str], BrandClient],
        brand: str, viewer: str) -> None:
    client = viewers(viewer, BRAND_HOSTS[brand])
    app = platform.app_for(brand)
    may_see_a = viewer == "patient_a" and brand == A_BRAND
    assert _check_get(app, client, viewer, world, may_see_a) > 20
    _check_unsafe(app, client, viewer, world, may_see_a)


@pytest.mark.parametrize("viewer", VIEWERS)
def test_every_console_route_answers_each_viewer_without_leaking_patient_a(
        platform: Platform, world: World, viewers: Callable[[str, str], BrandClient],
        viewer: str) -> None:
    client = viewers(viewer, CONSOLE_HOST)
    app = platform.console
    operator = viewer == "operator"
    checked = _check_get(app, client, "anonymous" if not operator else viewer, world,
                         may_see_a=operator)
    assert checked >= 5
    if not operator:
        _check_unsafe(app, client, viewer, world, may_see_a=False)


def test_patient_a_sees_her_own_markers_somewhere(platform: Platform, world: World,
                                                  viewers: Callable[[str, str], BrandClient]
                                                  ) -> None:
    """The matrix could pass by never rendering A's data at all: prove A's pages show it."""
    client = viewers("patient_a", BRAND_HOSTS[A_BRAND])
    seen: set[str] = set()
    for _rule, path in _paths(platform.app_for(A_BRAND), world, {"GET"}):
        seen.update(_leaks(client.get(path), world.markers))
    assert world.a.name in seen and world.a.email in seen


def test_the_owning_specialist_sees_the_intake_the_stranger_does_not(
        platform: Platform, world: World, viewers: Callable[[str, str], BrandClient],
        signin: Callable[..., Any], client_for: Callable[[str], BrandClient]) -> None:
    """The markers are reachable through the appointment page: the matrix checks real pages."""
    owner = client_for(A_BRAND)
    signin(owner, world.owner.email)
    app = platform.app_for(A_BRAND)
    pages = [path for rule, path in _paths(app, world, {"GET"})
             if "appointment" in rule.arguments or "appointment_id" in rule.arguments]
    assert pages, "no appointment page to check"
    seen = set()
    for path in pages:
        seen.update(_leaks(owner.get(path), world.markers))
    assert world.markers[2] in seen  # the intake text
