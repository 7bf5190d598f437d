"""Host -> brand dispatch, through the platform's WSGI entry."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.platform import Platform
from tests.conftest import BrandClient

EXAMPLE_HOSTS = [
    ("acme.localhost", "acme-clinic"),
    ("acme-clinic.example", "acme-clinic"),
    ("wellness.localhost", "wellness-corp"),
    ("wellness-corp.example", "wellness-corp"),
]
BRANDS = ["acme-clinic", "wellness-corp"]


@pytest.mark.parametrize(("host", "slug"), EXAMPLE_HOSTS)
def test_each_example_host_serves_its_brand(client_for: Callable[[str], BrandClient],
                                            host: str, slug: str) -> None:
    resp = client_for(host).get("/healthz")
    assert resp.status_code == 200
    assert resp.json["brand"] == slug


@pytest.mark.parametrize("host", ["acme.localhost:8000", "acme.localhost:443",
                                  "ACME.Localhost", "acme.localhost.", "Acme.LOCALHOST.:5000"])
def test_host_port_case_and_trailing_dot_are_ignored(client_for: Callable[[str], BrandClient],
                                                     host: str) -> None:
    resp = client_for(host).get("/healthz")
    assert resp.status_code == 200
    assert resp.json["brand"] == "acme-clinic"


@pytest.mark.parametrize("host", ["unknown.example", "localhost", "acme.localhost.evil.example",
                                  "www.wellness-corp.example", ""])
def test_unknown_host_gets_a_bare_404_naming_no_brand(platform: Platform, db: object,
                                                      host: str) -> None:
    resp = BrandClient(platform, host).get("/healthz", headers={"Host": host})
    assert resp.status_code == 404
    body = resp.get_data(as_text=True).lower()
    headers = "\n".join(f"{k}: {v}" for k, v in resp.headers.items()).lower()
    for served in platform.brands.values():
        cfg = served.loaded.config
        for word in (cfg.slug, cfg.name.lower(), *cfg.domains):
            assert word not in body
            assert word not in headers
    assert "set-cookie" not in headers
    assert resp.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("host", ["acme.localhost", "wellness.localhost", "unknown.example",
                                  "www.acme-clinic.example"])
@pytest.mark.parametrize("path", ["/", "/healthz", "/account/signin", "/no-such-page",
                                  "/static/css/theme.css"])
def test_every_response_varies_on_host(client_for: Callable[[str], BrandClient], host: str,
                                       path: str) -> None:
    with client_for(host).get(path) as resp:
        vary = {v.strip().lower() for v in resp.headers.get("Vary", "").split(",")}
    assert "host" in vary


@pytest.mark.parametrize("slug", BRANDS)
def test_session_cookies_carry_no_domain(client_for: Callable[[str], BrandClient],
                                         slug: str) -> None:
    client = client_for(slug)
    # A form page stores the CSRF token in the session; switching locale sets the cookie again.
    cookies = client.get("/account/signin").headers.getlist("Set-Cookie")
    resp = client.submit("/account/locale", {"locale": "en"}, form_page="/account/signin")
    cookies += resp.headers.getlist("Set-Cookie")
    assert cookies, "the session cookie was never set"
    for cookie in cookies:
        attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
        assert not any(a.startswith("domain") for a in attributes), cookie
        if cookie.startswith("daraport="):
            assert "httponly" in attributes and "samesite=lax" in attributes


@pytest.mark.parametrize(("path", "query"), [("/", ""), ("/specialists/", "page=2&q=anx"),
                                             ("/account/signin", "next=%2Fme")])
def test_alias_redirects_permanently_to_first_domain_keeping_path_and_query(
        client_for: Callable[[str], BrandClient], path: str, query: str) -> None:
    resp = client_for("www.acme-clinic.example").get(path, query_string=query)
    assert resp.status_code == 301
    expected = f"http://acme.localhost{path}" + (f"?{query}" if query else "")
    assert resp.headers["Location"] == expected


def test_alias_redirect_keeps_the_port(client_for: Callable[[str], BrandClient]) -> None:
    resp = client_for("www.acme-clinic.example:8000").get("/me")
    assert resp.status_code == 301
    assert resp.headers["Location"] == "http://acme.localhost:8000/me"


def test_admin_host_goes_to_the_console_not_a_brand(client_for: Callable[[str], BrandClient],
                                                    platform: Platform) -> None:
    resp = client_for("admin.localhost").get("/healthz")
    assert resp.status_code != 200 or resp.json is None or "brand" not in resp.json
    home = client_for("admin.localhost").get("/")
    body = home.get_data(as_text=True)
    for served in platform.brands.values():
        assert f"brand-{served.slug}" not in body
        assert served.loaded.config.name not in body
