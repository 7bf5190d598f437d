"""A real video visit between two browsers: Debian's Chromium with a fake camera and
microphone, the specialist and the patient in two separate browser contexts, each signed in and
joining through the join button on their appointment page. The call must reach
RTCPeerConnection "connected" on both sides with decoded video frames growing on both; the
patient then reloads, rejoins with the same link, and frames flow again.

``VIDEO_DEBUG=1`` prints both pages' console, errors, responses and signaling frames."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.support import BROWSER_MARKS, chromium
from tests.conftest import PASSWORD, LiveServer
from tests.modules.video.conftest import committed_appointment, video_server  # noqa: F401

MEDIA_ARGS = (
    "--use-fake-ui-for-media-stream",  # no permission prompt
    "--use-fake-device-for-media-stream",  # a test-pattern camera and a beeping microphone
    "--disable-features=WebRtcHideLocalIpsWithMdns",  # plain host candidates on loopback
)
TIMEOUT_MS = 20_000

pytestmark = BROWSER_MARKS

CONNECTED = ("() => window.videoCall && videoCall.pc && "
             "videoCall.pc.connectionState === 'connected'")
FRAMES = """async () => {
  let n = 0;
  if (!window.videoCall || !videoCall.pc) return -1;
  (await videoCall.pc.getStats()).forEach(r => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') n = r.framesDecoded || 0;
  });
  return n;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(*MEDIA_ARGS) as launched:
        yield launched


def signed_in_page(browser: Browser, base: str, email: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(base_url=base.rstrip("/"))
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/account/signin")
    form = page.locator("main form[method=post]")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page.locator("header .account-name")).to_be_visible()
    return context, page


def join(page: Page) -> None:
    """From the device check (camera preview running) into the visit."""
    expect(page.locator("#video-room")).to_be_visible()
    button = page.locator("#video-join")
    expect(button).to_be_enabled()
    page.wait_for_function("() => document.getElementById('video-preview').videoWidth > 0")
    assert page.locator("#video-camera option").count() >= 1
    button.click()


def frames_grow(page: Page) -> None:
    first = page.evaluate(FRAMES)
    page.wait_for_timeout(1500)
    second = page.evaluate(FRAMES)
    assert second > first >= 0, f"framesDecoded did not grow: {first} -> {second}"


def test_specialist_and_patient_hold_a_real_call_and_the_patient_rejoins_after_a_reload(
        video_server: Callable[..., LiveServer], browser: Browser) -> None:  # noqa: F811
    server = video_server()
    made = committed_appointment(server)
    base = server.url("acme-clinic")
    appointment_id = made.appointment.id
    specialist_ctx, specialist = signed_in_page(browser, base, made.specialist.email)
    patient_ctx, patient = signed_in_page(browser, base, made.patient.email)
    errors: list[str] = []
    import os
    if os.environ.get("VIDEO_DEBUG"):
        for name, pg in (("S", specialist), ("P", patient)):
            pg.on("console", lambda m, n=name: print(n, "console", m.text))
            pg.on("pageerror", lambda e, n=name: print(n, "pageerror", e))
            pg.on("response", lambda r, n=name: print(n, "resp", r.status, r.url))
            pg.on("websocket", lambda ws, n=name: (
                ws.on("framesent", lambda f, n=n: print(n, ">>", f)),
                ws.on("framereceived", lambda f, n=n: print(n, "<<", str(f)[:200])),
                ws.on("close", lambda w, n=n: print(n, "ws closed"))))
    for page in (specialist, patient):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                if r.status >= 500 else None)
    try:
        # The patient finds the join button on their appointment and waits to be admitted.
        patient.goto(f"/appointments/{appointment_id}")
        patient.locator("a.video-join").click()
        expect(patient).to_have_url(re.compile(r"/video/join/"))
        patient_link = patient.url
        join(patient)
        expect(patient.locator("[data-stage=waiting]")).to_be_visible()

        # The specialist starts it from the appointment page and admits the patient.
        specialist.goto(f"/specialist/calendar/appointments/{appointment_id}")
        specialist.locator("a.video-join").click()
        join(specialist)
        admit = specialist.locator("#video-admit")
        expect(admit).to_be_visible()
        admit.click()
        expect(patient.locator("[data-stage=call]")).to_be_visible()

        for page in (specialist, patient):
            page.wait_for_function(CONNECTED, timeout=TIMEOUT_MS)
        for page in (specialist, patient):
            frames_grow(page)
        expect(specialist.locator("#video-quality")).not_to_have_attribute("data-quality",
                                                                           "unknown")

        # Mute and camera off tell the other side; the connection stays up.
        patient.locator("#video-mute").click()
        expect(patient.locator("#video-mute")).to_have_attribute("aria-pressed", "true")
        assert patient.evaluate("() => videoCall.local.getAudioTracks()[0].enabled") is False
        patient.locator("#video-mute").click()

        # A reload: the same link rejoins, no second admission, and media flows again.
        patient.reload()
        assert patient.url == patient_link
        join(patient)
        expect(patient.locator("[data-stage=call]")).to_be_visible()
        for page in (patient, specialist):
            page.wait_for_function(CONNECTED, timeout=TIMEOUT_MS)
        for page in (patient, specialist):
            frames_grow(page)

        # The specialist's appointment page shows the visit's record.
        record = specialist_ctx.new_page()
        record.goto(f"/specialist/calendar/appointments/{appointment_id}")
        events = record.locator("ul.video-events li")
        expect(events.filter(has=record.locator("xpath=self::*[@data-kind='admitted']"))
               ).to_have_count(1)
        assert record.locator("ul.video-events li[data-role=patient][data-kind=joined]"
                              ).count() == 2
        record.close()

        # The specialist ends the visit: both pages leave the call and the link is closed.
        specialist.once("dialog", lambda dialog: dialog.accept())
        specialist.locator("#video-end").click()
        for page in (specialist, patient):
            expect(page.locator("[data-stage=over]")).to_be_visible()
        patient.goto(patient_link)
        expect(patient.locator(".video-refused")).to_have_attribute("data-code", "ended")
        assert not errors, errors
    finally:
        specialist_ctx.close()
        patient_ctx.close()
