"""Each brand renders with its own theme, colours and language; money and dates follow the
locale."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from engine.app import BrandLoadError, build_brand_app
from engine.i18n import local_datetime, money, to_minor
from engine.identity.models import User
from engine.platform import Platform
from engine.runtime import Runtime, set_current
from engine.settings import PlatformSettings
from tests.conftest import BrandClient

THEMES = Path(__file__).resolve().parents[2] / "themes"


def _lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match, "no lang attribute on <html>"
    return match.group(1)


@pytest.mark.parametrize(("slug", "lang", "marker", "foreign_marker"), [
    ("acme-clinic", "es", "harbor-footer", "sunrise-steps"),
    ("wellness-corp", "en", "sunrise-steps", "harbor-footer"),
])
def test_home_page_renders_in_brand_theme_and_language(
        client_for: Callable[[str], BrandClient], platform: Platform, slug: str, lang: str,
        marker: str, foreign_marker: str) -> None:
    html = client_for(slug).get("/").get_data(as_text=True)
    assert _lang(html) == lang
    assert marker in html
    assert foreign_marker not in html
    colors = platform.brands[slug].loaded.config.theme.colors
    assert '<link rel="stylesheet" href="/brand.css">' in html
    html = client_for(slug).get("/brand.css").get_data(as_text=True)  # the theme colours
    assert f"--color-primary: {colors.primary};" in html
    assert f"--color-accent: {colors.accent};" in html
    assert f"--color-bg: {colors.background};" in html


@pytest.mark.parametrize(("slug", "theme"), [("acme-clinic", "harbor"),
                                             ("wellness-corp", "sunrise")])
def test_theme_overrides_a_base_static_file_by_path(client_for: Callable[[str], BrandClient],
                                                    slug: str, theme: str) -> None:
    client = client_for(slug)
    with client.get("/static/css/theme.css") as resp:
        assert resp.status_code == 200
        assert resp.get_data() == (THEMES / theme / "static/css/theme.css").read_bytes()
    with client.get("/static/css/base.css") as resp:  # not overridden: the base file
        assert resp.get_data() == (THEMES / "base/static/css/base.css").read_bytes()


def test_theme_css_differs_between_brands(client_for: Callable[[str], BrandClient]) -> None:
    with client_for("acme-clinic").get("/static/css/theme.css") as acme, \
            client_for("wellness-corp").get("/static/css/theme.css") as wellness:
        assert acme.get_data() != wellness.get_data()


@pytest.mark.parametrize("path", ["/static/css/nothing.css", "/static/../../brands/_networks.yaml",
                                  "/static/%2e%2e/%2e%2e/cli.py"])
def test_static_files_outside_the_themes_are_not_served(
        client_for: Callable[[str], BrandClient], path: str) -> None:
    with client_for("acme-clinic").get(path) as resp:
        assert resp.status_code == 404


@pytest.fixture
def themes_copy(tmp_path: Path) -> Path:
    target = tmp_path / "themes"
    shutil.copytree(THEMES, target)
    return target


def test_missing_theme_templates_folder_is_a_load_error(
        platform: Platform, settings: PlatformSettings, themes_copy: Path) -> None:
    shutil.rmtree(themes_copy / "harbor" / "templates")
    runtime = Runtime.create(replace(settings, themes_dir=themes_copy),
                             bind=platform.runtime.engine)
    try:
        with pytest.raises(BrandLoadError, match="harbor"):
            build_brand_app(platform.brands["acme-clinic"].loaded, runtime)
    finally:
        set_current(platform.runtime)


def test_brand_with_missing_theme_is_not_served_with_a_fallback(
        platform: Platform, settings: PlatformSettings, themes_copy: Path) -> None:
    shutil.rmtree(themes_copy / "harbor")
    try:
        broken = Platform(Runtime.create(replace(settings, themes_dir=themes_copy),
                                         bind=platform.runtime.engine))
    finally:
        set_current(platform.runtime)
    assert "acme-clinic" not in broken.brands
    assert any("harbor" in message for messages in broken.errors.values()
               for message in messages)
    assert BrandClient(broken, "acme.localhost").get("/healthz").status_code == 404
    assert BrandClient(broken, "wellness.localhost").get("/healthz").status_code == 200


def test_locale_switch_changes_language_for_an_anonymous_visitor(
        client_for: Callable[[str], BrandClient]) -> None:
    client = client_for("acme-clinic")
    assert _lang(client.get("/").get_data(as_text=True)) == "es"
    resp = client.submit("/account/locale", {"locale": "en", "next": "/"},
                         form_page="/account/signin")
    assert resp.status_code == 302
    assert _lang(client.get("/").get_data(as_text=True)) == "en"
    assert _lang(client_for("acme-clinic").get("/").get_data(as_text=True)) == "es"


def test_locale_switch_needs_a_csrf_token(client_for: Callable[[str], BrandClient]) -> None:
    client = client_for("acme-clinic")
    client.get("/")
    assert client.post("/account/locale", data={"locale": "en"}).status_code == 400
    assert _lang(client.get("/").get_data(as_text=True)) == "es"


def test_locale_switch_rejects_a_language_the_brand_does_not_offer(
        client_for: Callable[[str], BrandClient]) -> None:
    client = client_for("acme-clinic")
    assert client.submit("/account/locale", {"locale": "fr"},
                         form_page="/account/signin").status_code == 400
    assert _lang(client.get("/").get_data(as_text=True)) == "es"


def test_signed_in_users_saved_locale_wins_over_brand_default(
        client_for: Callable[[str], BrandClient], create_user: Callable[..., User],
        signin: Callable[..., TestResponse], db: Session) -> None:
    user = create_user("patient", brand="acme-clinic")
    user.locale = "en"
    db.flush()
    client = client_for("acme-clinic")
    assert signin(client, user.email).status_code == 302
    assert _lang(client.get("/me").get_data(as_text=True)) == "en"
    assert _lang(client.get("/").get_data(as_text=True)) == "en"


@pytest.mark.parametrize(("minor", "currency", "locale", "expected"), [
    (6000, "EUR", "es", "60,00\xa0€"),
    (6000, "EUR", "en", "€60.00"),
    (9500, "USD", "en", "$95.00"),
    (12345678, "EUR", "es", "123.456,78\xa0€"),
    (500, "JPY", "en", "¥500"),
])
def test_money_formats_minor_units_per_locale(platform: Platform, minor: int, currency: str,
                                              locale: str, expected: str) -> None:
    with platform.app_for("acme-clinic").test_request_context(), force_locale(locale):
        assert money(minor, currency) == expected


@pytest.mark.parametrize(("amount", "currency", "minor"), [
    ("60.00", "EUR", 6000),
    ("0.125", "EUR", 12),      # half to even: down
    ("0.135", "EUR", 14),      # half to even: up
    ("2.5", "JPY", 2),
    ("3.5", "JPY", 4),
    ("-0.125", "USD", -12),
    ("1.005", "KWD", 1005),    # three minor digits
])
def test_to_minor_rounds_half_to_even(amount: str, currency: str, minor: int) -> None:
    assert to_minor(Decimal(amount), currency) == minor


@pytest.mark.parametrize(("slug", "expected"), [("acme-clinic", "16:30"),
                                                ("wellness-corp", "10:30")])
def test_dates_show_in_the_brand_zone_and_locale(platform: Platform, slug: str,
                                                 expected: str) -> None:
    moment = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)
    with platform.app_for(slug).test_request_context():
        shown = local_datetime(moment, "short")
    assert expected in shown.replace("\u202f", " ")
    assert ("4/3/25" in shown) if slug == "acme-clinic" else ("3/4/25" in shown)
