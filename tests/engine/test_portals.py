"""The portal shells: navigation comes from what the brand mounts and the user may open."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from werkzeug.test import TestResponse

from engine.identity.models import User
from tests.conftest import BrandClient

ROLE_HOME = [("patient", "/me"), ("specialist", "/specialist/"), ("org_admin", "/org/")]


def _nav_links(html: str) -> list[str]:
    nav = re.search(r"<nav.*?</nav>", html, re.S)
    return re.findall(r'href="([^"]+)"', nav.group(0)) if nav else []


@pytest.mark.parametrize("slug", ["acme-clinic", "wellness-corp"])
@pytest.mark.parametrize(("role", "home"), ROLE_HOME)
def test_each_role_reaches_its_portal_home(client_for: Callable[[str], BrandClient],
                                           create_user: Callable[..., User],
                                           signin: Callable[..., TestResponse], slug: str,
                                           role: str, home: str) -> None:
    organization = {"acme-clinic": "acme-madrid", "wellness-corp": "globex"}[slug]
    user = create_user(role, brand=slug,
                       organization=organization if role == "org_admin" else None)
    client = client_for(slug)
    assert signin(client, user.email).status_code == 302
    assert client.get(home).status_code == 200


@pytest.mark.parametrize("path", ["/partners/", "/partners/anything"])
def test_unmounted_portal_answers_404_even_for_its_role(client_for: Callable[[str], BrandClient],
                                                        create_user: Callable[..., User],
                                                        signin: Callable[..., TestResponse],
                                                        path: str) -> None:
    # No enabled module of acme-clinic mounts the affiliate portal.
    user = create_user("affiliate", brand="acme-clinic")
    client = client_for("acme-clinic")
    assert signin(client, user.email).status_code == 302
    resp = client.get(path)
    assert resp.status_code == 404
    assert "<html" in resp.get_data(as_text=True)


def test_navigation_shows_only_enabled_modules(client_for: Callable[[str], BrandClient]) -> None:
    acme = _nav_links(client_for("acme-clinic").get("/").get_data(as_text=True))
    wellness = _nav_links(client_for("wellness-corp").get("/").get_data(as_text=True))
    assert "/specialists/" in acme and "/specialists/" in wellness
    assert "/match/" not in acme
    assert "/match/" in wellness


def test_anonymous_navigation_hides_links_needing_a_permission(
        client_for: Callable[[str], BrandClient]) -> None:
    links = _nav_links(client_for("acme-clinic").get("/").get_data(as_text=True))
    assert "/me" not in links
