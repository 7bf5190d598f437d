"""The questionnaire's conditional questions in a real browser (Debian's Chromium), on a phone.

Without JS every question shows (tested over HTTP in test_views); here the script must hide a
conditional question until its condition holds, and keep hidden answers from being sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.support import BROWSER_MARKS, chromium
from tests.modules.matching.conftest import WELLNESS_MATCHING
from tests.modules.matching.test_views import CONDITIONAL

PHONE = {"width": 375, "height": 812}

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_conditional_question_shows_only_when_its_condition_holds_on_a_phone(
        browser, live_server, brands_dir):
    path = brands_dir / "wellness-corp.yaml"
    path.write_text(path.read_text().replace(WELLNESS_MATCHING, CONDITIONAL))
    server = live_server(brands_dir)
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(10_000)
    try:
        page.goto(server.url("wellness-corp", "/match/"))
        panic = page.locator("#q-panic")
        expect(panic).to_be_hidden()
        page.check('input[name="topic"][value="anxiety"]')
        expect(panic).to_be_visible()
        expect(panic.locator("[data-condition-hint]")).to_be_hidden()
        page.check('input[name="panic"][value="yes"]')
        page.check('input[name="topic"][value="stress"]')
        expect(panic).to_be_hidden()
        expect(page.locator('input[name="panic"][value="yes"]')).to_be_disabled()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, "the questionnaire scrolls sideways on a phone"
        page.click('#matching-form button[type="submit"]')
        expect(page.locator("h1")).to_have_text("Your matches")
        # the hidden, still-checked "panic" answer was not sent, so it is not echoed back
        assert page.locator('input[type="hidden"][name="panic"]').count() == 0
        assert page.locator('input[type="hidden"][name="topic"]').get_attribute(
            "value") == "stress"
    finally:
        page.close()
