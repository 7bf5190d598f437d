"""Static files in two namespaces: the theme's at ``/static/<path>``, each enabled module's own at
``/static/m/<module>/<path>``. No file shadows another's, a module that is off on the brand
serves nothing, nothing outside the folders is reachable, and the pages that load module files
reference URLs that answer."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import render_template_string
from sqlalchemy.engine import Engine

from engine.identity.models import User
from engine.platform import Platform
from engine.privacy import consent
from engine.runtime import Runtime, set_current
from engine.settings import ROOT, PlatformSettings
from modules.directory import services as directory
from modules.directory.schemas import ProfileInput
from tests.conftest import BRAND_HOSTS, BrandClient
from tests.modules.video.helpers import video_appointment
from tests.modules.video.test_links import SECRET

MODULES = ROOT / "modules"
SECRET_FILES = [MODULES / "video/blueprint.py", ROOT / "cli.py", ROOT / "brands/_networks.yaml",
                Path("/etc/passwd")]
STATIC_REF = re.compile(r'(?:src|href)="(/static/[^"]+)"')


def _body(client: BrandClient, path: str) -> tuple[int, bytes]:
    with client.get(path) as resp:
        return resp.status_code, resp.get_data()


@pytest.fixture
def themes_copy(tmp_path: Path) -> Path:
    """A copy of themes/ that a test may add files to."""
    target = tmp_path / "themes"
    shutil.copytree(ROOT / "themes", target)
    return target


@pytest.fixture
def platform_with_themes(settings: PlatformSettings, db_engine: Engine, platform: Platform,
                         db: Any) -> Callable[..., Platform]:
    """Factory: the example brands on another themes folder, joining the test's transaction."""

    def make(themes: Path, *, allow_errors: bool = False) -> Platform:
        built = Platform(Runtime.create(replace(settings, themes_dir=themes), bind=db_engine))
        assert allow_errors or not built.errors, built.errors
        built.runtime.sessions = platform.runtime.sessions
        set_current(platform.runtime)
        return built

    return make


def test_a_theme_file_named_like_a_module_file_does_not_shadow_it(
        themes_copy: Path, platform_with_themes: Callable[..., Platform]) -> None:
    # acme-clinic's theme is harbor; before the split its video.js replaced the module's script
    (themes_copy / "harbor/static/video.js").write_text("/* the theme's own video.js */\n")
    (themes_copy / "harbor/static/messaging.css").write_text("/* the theme's */\n")
    client = BrandClient(platform_with_themes(themes_copy), BRAND_HOSTS["acme-clinic"])
    assert _body(client, "/static/video.js") == (200, b"/* the theme's own video.js */\n")
    assert _body(client, "/static/m/video/video.js") == (
        200, (MODULES / "video/static/video.js").read_bytes())
    assert _body(client, "/static/m/messaging/messaging.css") == (
        200, (MODULES / "messaging/static/messaging.css").read_bytes())


def test_a_theme_cannot_claim_the_module_namespace(
        themes_copy: Path, platform_with_themes: Callable[..., Platform]) -> None:
    (themes_copy / "harbor/static/m").mkdir()
    built = platform_with_themes(themes_copy, allow_errors=True)
    errors = [e for errs in built.errors.values() for e in errs]
    assert "acme-clinic" not in built.brands
    assert any("harbor/static/m" in e and "reserved" in e for e in errors), errors


@pytest.mark.parametrize(("module", "filename"), [
    ("video", "video.js"), ("video", "video.css"), ("messaging", "messaging.js"),
    ("messaging", "messaging.css"), ("booking", "directory-slots.js"),
    ("booking", "conditions.js"), ("booking", "specialist.css")])
def test_module_files_are_served_from_their_own_folder_with_the_usual_headers(
        client_for: Callable[[str], BrandClient], module: str, filename: str) -> None:
    with client_for("acme-clinic").get(f"/static/m/{module}/{filename}") as resp:
        assert resp.status_code == 200
        assert resp.get_data() == (MODULES / module / "static" / filename).read_bytes()
        assert resp.cache_control.max_age == 3600
        assert resp.headers["ETag"]
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_module_files_are_no_longer_served_in_the_theme_namespace(
        client_for: Callable[[str], BrandClient]) -> None:
    client = client_for("acme-clinic")
    for path in ("/static/video.js", "/static/messaging.js", "/static/directory-slots.js",
                 "/static/booking/directory-slots.js", "/static/m/booking/video.js"):
        assert _body(client, path)[0] == 404, path


def test_a_disabled_module_serves_no_files(client_for: Callable[[str], BrandClient]) -> None:
    # matching is on for wellness-corp only
    path = "/static/m/matching/shortlist.js"
    assert _body(client_for("wellness-corp"), path) == (
        200, (MODULES / "matching/static/shortlist.js").read_bytes())
    assert _body(client_for("acme-clinic"), path)[0] == 404
    assert _body(client_for("acme-clinic"), "/static/m/no-such-module/x.js")[0] == 404


@pytest.mark.parametrize("path", [
    "/static/m/video/../blueprint.py",
    "/static/m/video/%2e%2e/blueprint.py",
    "/static/m/video/..%2fblueprint.py",
    "/static/m/video/%2e%2e%2f%2e%2e%2f..%2fcli.py",
    "/static/m/video/../../../brands/_networks.yaml",
    "/static/m/video//etc/passwd",
    "/static/m/video/%2fetc%2fpasswd",
    "/static/m/../video/blueprint.py",
    "/static/m/%2e%2e/cli.py",
    "/static/m/video/static/video.js",  # the module's folder, not the module package
    "/static/m/css/base.css",  # a theme folder is not a module
])
def test_module_static_paths_outside_the_module_folder_are_not_served(
        client_for: Callable[[str], BrandClient], path: str) -> None:
    status, body = _body(client_for("acme-clinic"), path)
    assert status == 404
    for secret in SECRET_FILES:  # none of the files the paths aim at leaks into the 404 page
        assert secret.read_bytes()[:200] not in body


def test_the_template_helper_refuses_a_module_that_is_off(platform: Platform) -> None:
    acme, wellness = platform.app_for("acme-clinic"), platform.app_for("wellness-corp")
    template = "{{ module_static('matching', 'shortlist.js') }}"
    with wellness.test_request_context("/", base_url="http://" + BRAND_HOSTS["wellness-corp"]):
        assert render_template_string(template) == "/static/m/matching/shortlist.js"
    with acme.test_request_context("/", base_url="http://" + BRAND_HOSTS["acme-clinic"]), \
            pytest.raises(LookupError, match="matching"):
        render_template_string(template)


def _assert_static_references_answer(client: BrandClient, html: str, module: str) -> None:
    refs = STATIC_REF.findall(html)
    assert any(r.startswith(f"/static/m/{module}/") for r in refs), refs
    for ref in refs:
        assert _body(client, ref)[0] == 200, ref


def test_the_video_room_references_files_that_answer(
        db: Any, platform: Platform, client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    cfg = platform.brands["acme-clinic"].loaded.config
    made = video_appointment(db, cfg)
    client = client_for("acme-clinic")
    assert signin(client, made.patient.email).status_code in (302, 303)
    page = client.get(f"/video/join/{made.token(SECRET, cfg, made.patient)}")
    assert page.status_code == 200 and 'id="video-room"' in page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert 'src="/static/m/video/video.js"' in html
    assert 'href="/static/m/video/video.css"' in html
    _assert_static_references_answer(client, html, "video")


@pytest.mark.parametrize("slug", ["acme-clinic", "wellness-corp"])
def test_the_messages_page_references_files_that_answer(
        client_for: Callable[[str], BrandClient], create_user: Callable[..., User],
        signin: Callable[..., Any], slug: str) -> None:
    patient = create_user(role="patient", brand=slug)
    client = client_for(slug)
    assert signin(client, patient.email).status_code in (302, 303)
    page = client.get("/messages/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="/static/m/messaging/messaging.js"' in html
    _assert_static_references_answer(client, html, "messaging")


def test_the_directory_page_references_files_that_answer(
        db: Any, platform: Platform, client_for: Callable[[str], BrandClient],
        create_user: Callable[..., User]) -> None:
    acme = platform.brands["acme-clinic"].loaded.config
    specialist = create_user(role="specialist", name="Dr Static")
    profile = directory.save_profile(db, specialist, acme, ProfileInput(
        display_name="Dr Static", languages=("es",), modalities=("video",)))
    directory.set_visible(db, profile, "acme-clinic", True)
    db.flush()
    client = client_for("acme-clinic")
    page = client.get("/specialists/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="/static/m/booking/directory-slots.js"' in html
    _assert_static_references_answer(client, html, "booking")


def test_a_patient_asked_to_consent_again_still_gets_module_files(
        db: Any, platform: Platform, settings: PlatformSettings,
        client_for: Callable[[str], BrandClient], create_user: Callable[..., User],
        signin: Callable[..., Any]) -> None:
    # the consent interstitial opens endpoints named "static..." only: the module route is one
    acme = platform.brands["acme-clinic"].loaded.config
    patient = create_user(role="patient")
    signup_doc = consent.required_for(acme, "signup")[0]
    consent.record(db, patient, acme, signup_doc.key, granted=False, method="web",
                   brands_dir=settings.brands_dir)
    db.flush()
    client = client_for("acme-clinic")
    signin(client, patient.email)
    page = client.get("/messages/")
    assert page.status_code == 302 and "/account/privacy/consent" in page.headers["Location"]
    assert _body(client, "/static/m/messaging/messaging.js")[0] == 200
    assert _body(client, "/static/css/base.css")[0] == 200
