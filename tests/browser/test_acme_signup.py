"""Acme Clinic in a real browser: sign up, sign out, sign in, the directory, and a phone screen.

Playwright drives Debian's Chromium (never a downloaded browser) against the `live_server`
fixture: real HTTP on loopback, committed data. Selectors follow URLs, form names and CSS classes
rather than wording, so the test holds whatever the Spanish catalogue says today.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from engine.db import brand_session
from engine.identity import services as identity
from engine.identity.models import User
from modules.booking import calendar
from modules.booking.schemas import AppointmentTypeInput, WeeklyRangeInput
from modules.directory import services as directory
from modules.directory.schemas import ProfileInput
from tests.browser.support import BROWSER_MARKS, chromium
from tests.conftest import PASSWORD, LiveServer, unique_email

TIMEOUT_MS = 10_000
PHONE = {"width": 375, "height": 812}

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@dataclass(frozen=True)
class ListedSpecialist:
    name: str
    specialty: str
    profile_id: int


def list_specialists(server: LiveServer, brand: str, count: int) -> list[ListedSpecialist]:
    """Committed specialists of ``brand`` with a visible directory profile, each with a specialty
    no other test uses (the test database keeps committed rows for the whole run)."""
    rt = server.platform.runtime
    cfg = server.platform.brands[brand].loaded.config
    tag = uuid.uuid4().hex[:8]
    made: list[ListedSpecialist] = []
    session = brand_session(rt.sessions, brand)
    try:
        for i in range(count):
            name = f"Dra. Prueba {tag} {i}"
            specialty = f"especialidad {tag} {i}"
            user = identity.create_user(session, cfg, role="specialist",
                                        email=unique_email("specialist"), name=name,
                                        password=PASSWORD)
            profile = directory.save_profile(session, user, cfg, ProfileInput(
                display_name=name, headline="Psicología clínica",
                bio="Atiendo en consulta y por vídeo.", specialties=(specialty,),
                languages=("es",), modalities=("video",)))
            made.append(ListedSpecialist(name, specialty, profile.id))
        session.commit()
    finally:
        session.close()
    return made


def no_horizontal_scroll(page: Page) -> tuple[int, int]:
    return page.evaluate(
        "() => [document.scrollingElement.scrollWidth, window.innerWidth]")


def fill_signup(page: Page, name: str, email: str, password: str) -> None:
    form = page.locator("main form[method=post]")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(password)
    form.locator("input[name=consent-privacy]").check()  # the privacy policy, required
    form.locator("button[type=submit]").click()


def test_acme_patient_signs_up_signs_in_and_browses_the_directory(
        live_server: Callable[..., LiveServer], browser: Browser, tmp_path: Path) -> None:
    server = live_server()
    listed = list_specialists(server, "acme-clinic", 2)
    base = server.url("acme-clinic")
    email = unique_email("patient")
    name = f"Paciente {uuid.uuid4().hex[:6]}"
    context = browser.new_context(base_url=base.rstrip("/"))
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
            if r.status >= 500 else None)
    try:
        # Home, in the brand's language.
        page.goto("/")
        expect(page.locator("html")).to_have_attribute("lang", "es")
        expect(page).to_have_title("Acme Clinic")

        # Sign up with a password that is too short: the field says so, nothing is created.
        page.locator("header a[href='/account/signup']").click()
        expect(page).to_have_url(f"{base}account/signup")
        with page.expect_response(lambda r: r.request.method == "POST"
                                  and r.url.endswith("/account/signup")) as posted:
            fill_signup(page, name, email, "short")
        assert posted.value.status == 400
        password_field = page.locator(".field.has-error:has(input[name=password])")
        expect(password_field.locator(".field-error")).to_be_visible()
        expect(page.locator("input[name=password]")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("input[name=email]")).to_have_value(email)
        expect(page.locator("header .account-name")).to_have_count(0)

        # Sign up properly: signed in, on the patient's own page.
        fill_signup(page, name, email, PASSWORD)
        expect(page).to_have_url(f"{base}me")
        expect(page.locator("header .account-name")).to_have_text(name)
        expect(page.locator("main h1")).to_contain_text(name)

        # Sign out, then sign in again with the new account.
        page.locator("header form[action='/account/signout'] button[type=submit]").click()
        expect(page.locator("header .account-name")).to_have_count(0)
        page.locator("header a[href='/account/signin']").click()
        form = page.locator("main form[method=post]")
        form.locator("input[name=email]").fill(email)
        form.locator("input[name=password]").fill(PASSWORD)
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(f"{base}me")
        expect(page.locator("header .account-name")).to_have_text(name)

        # The navigation's unread count follows without a reload: the page asks
        # nav/badges.json when it is shown again (here answered by a stand-in server response).
        badge = page.locator("header nav.main-nav [data-nav-badge='messaging.index']")
        expect(badge).to_be_hidden()
        page.route("**/nav/badges.json*", lambda route: route.fulfill(
            status=200, content_type="application/json",
            body='{"badges": {"messaging.index": 3}}'))
        with page.expect_request("**/nav/badges.json?portal=patient"):
            page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        expect(badge).to_be_visible()
        expect(badge).to_contain_text("3")
        page.unroute("**/nav/badges.json*")

        # The directory from the main navigation lists specialists.
        page.locator("header nav.main-nav a[href='/specialists/']").click()
        expect(page).to_have_url(f"{base}specialists/")
        cards = page.locator("ul.profile-grid > li.profile-card")
        expect(cards.first).to_be_visible()
        assert cards.count() >= len(listed)

        # Filter by one specialist's specialty: exactly that specialist, then the profile.
        wanted, other = listed
        page.locator("form.filters select[name=specialty]").select_option(wanted.specialty)
        page.locator("form.filters button[type=submit]").click()
        expect(page).to_have_url(re.compile(
            re.escape(f"specialty={wanted.specialty.replace(' ', '+')}")))
        expect(cards).to_have_count(1)
        expect(cards.first.locator("h2")).to_have_text(wanted.name)
        expect(page.locator("ul.profile-grid")).not_to_contain_text(other.name)
        cards.first.locator("h2 a").click()
        expect(page).to_have_url(f"{base}specialists/{wanted.profile_id}")
        expect(page.locator("main h1")).to_have_text(wanted.name)
        expect(page.locator("main .facts")).to_contain_text(wanted.specialty.capitalize())

        # A phone: no page scrolls sideways, signed in or not.
        page.set_viewport_size(PHONE)
        for path in ("/", "/specialists/", f"/specialists/{wanted.profile_id}", "/me"):
            page.goto(path)
            scroll_width, inner_width = no_horizontal_scroll(page)
            assert inner_width == PHONE["width"]
            assert scroll_width <= inner_width, f"{path} scrolls sideways at 375 px"
        anonymous = browser.new_context(base_url=base.rstrip("/"), viewport=PHONE)
        try:
            phone = anonymous.new_page()
            for path in ("/", "/account/signup", "/account/signin", "/specialists/"):
                phone.goto(path)
                scroll_width, inner_width = no_horizontal_scroll(phone)
                assert scroll_width <= inner_width, f"{path} scrolls sideways at 375 px"
        finally:
            anonymous.close()
        page.goto("/specialists/")
        page.screenshot(path=str(tmp_path / "acme-directory-phone.png"), full_page=True)
        assert (tmp_path / "acme-directory-phone.png").stat().st_size > 0
        assert not failed, failed
    finally:
        context.close()


def test_directory_cards_show_each_specialists_next_free_times_and_book_them(
        live_server: Callable[..., LiveServer], browser: Browser) -> None:
    """The cards' next free times come from one batched next.json, in the visitor's zone, and
    each links to booking that time (after signing in)."""
    server = live_server()
    (listed,) = list_specialists(server, "acme-clinic", 1)
    rt = server.platform.runtime
    cfg = server.platform.brands["acme-clinic"].loaded.config
    session = brand_session(rt.sessions, "acme-clinic")
    try:
        user = session.scalar(select(User).where(User.name == listed.name))
        calendar.set_calendar_zone(session, user, cfg, "Europe/Madrid")
        calendar.set_weekly_rules(session, user, cfg, [
            WeeklyRangeInput(weekday=d, start_minute=0, end_minute=1440) for d in range(7)])
        calendar.save_appointment_type(session, user, cfg, AppointmentTypeInput(
            name="Primera visita", duration_minutes=30, modality="video",
            catalog_key="first-visit", slot_interval_minutes=30, min_notice_minutes=60))
        session.commit()
        specialist_id = user.id
    finally:
        session.close()
    context = browser.new_context(base_url=server.url("acme-clinic").rstrip("/"),
                                  timezone_id="America/New_York")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        with page.expect_response(lambda r: "/appointments/book/next.json?ids=" in r.url) as got:
            page.goto(f"/specialists/?specialty={listed.specialty.replace(' ', '+')}")
        assert got.value.status == 200
        card = page.locator(f"li.profile-card[data-specialist='{specialist_id}']")
        links = card.locator(".card-next-slots a")
        expect(links).to_have_count(3)
        href = links.first.get_attribute("href") or ""
        assert re.fullmatch(
            rf"/appointments/book/{specialist_id}\?type=\d+"
            r"&start=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\dZ"
            r"&tz=America%2FNew_York", href), href
        expect(links.first.locator("time")).not_to_be_empty()
        links.first.click()  # a visitor signs in first, and comes back to book that time
        expect(page).to_have_url(re.compile(
            rf"/account/signin\?next=/appointments/book/{specialist_id}\?type%3D\d+%26start"))
    finally:
        context.close()
