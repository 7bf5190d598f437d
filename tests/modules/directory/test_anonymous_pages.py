"""Anonymous visitors' pages carry no session: no cookie, no CSRF token, a link to switch
language; the session of a visitor who chose a language is not rewritten on every page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import BrandClient
from tests.modules.directory.conftest import MakeSpecialist


@pytest.fixture
def public_paths(make_specialist: MakeSpecialist) -> list[str]:
    _, profile = make_specialist("Nora Public")
    return ["/", "/specialists/", f"/specialists/{profile.id}"]


def test_anonymous_pages_set_no_cookie_and_carry_no_csrf_token(
        client_for: Callable[[str], BrandClient], public_paths: list[str]) -> None:
    client = client_for("acme-clinic")
    for path in public_paths:
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert resp.headers.getlist("Set-Cookie") == [], path
        body = resp.get_data(as_text=True)
        assert "csrf" not in body, path
    assert client.get_cookie("daraport", domain=client.host) is None


def test_anonymous_language_switch_is_a_link_that_keeps_the_page(
        client_for: Callable[[str], BrandClient], public_paths: list[str]) -> None:
    client = client_for("acme-clinic")  # Spanish by default, English offered
    page = client.get("/specialists/?sort=newest").get_data(as_text=True)
    link = '/account/locale?to=en&amp;next=/specialists/?sort%3Dnewest'
    assert f'href="{link}"' in page
    resp = client.get("/account/locale", query_string={"to": "en",
                                                       "next": "/specialists/?sort=newest"})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/specialists/?sort=newest"
    assert '<html lang="en"' in client.get("/specialists/").get_data(as_text=True)


def test_language_switch_link_refuses_a_language_the_brand_does_not_offer(
        client_for: Callable[[str], BrandClient]) -> None:
    client = client_for("acme-clinic")
    assert client.get("/account/locale?to=fr").status_code == 400
    assert client.get_cookie("daraport", domain=client.host) is None


def test_anonymous_session_with_a_language_is_not_rewritten_on_each_page(
        client_for: Callable[[str], BrandClient], public_paths: list[str]) -> None:
    client = client_for("acme-clinic")
    assert client.get("/account/locale?to=en&next=/").status_code == 302
    cookie = client.get_cookie("daraport", domain=client.host)
    assert cookie is not None
    for path in public_paths:
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert resp.headers.getlist("Set-Cookie") == [], path
        assert '<html lang="en"' in resp.get_data(as_text=True), path
    assert client.get_cookie("daraport", domain=client.host).value == cookie.value  # type: ignore[union-attr]


def test_signed_in_pages_keep_the_csrf_meta_for_the_time_zone_script(
        client_for: Callable[[str], BrandClient], create_user: Callable[..., Any],
        signin: Callable[..., Any]) -> None:
    client = client_for("acme-clinic")
    user = create_user("patient", brand="acme-clinic")
    assert signin(client, user.email).status_code == 302
    page = client.get("/specialists/").get_data(as_text=True)
    assert '<meta name="csrf-token" content="' in page
    assert 'action="/account/locale"' in page  # the signed-in switcher saves the account
