"""Who may open and read a thread: its two sides only. Everyone else gets 404 (never 403), on
the thread, its live updates and its attachments, on this brand and on another."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from modules.messaging.models import Attachment, Thread
from tests.conftest import BrandClient
from tests.modules.messaging.conftest import PDF, Cast
from tests.modules.messaging.helpers import open_thread, post


@pytest.fixture
def thread_with_file(cast: Cast, browser: Callable[..., BrandClient]) -> tuple[int, int]:
    """A patient-specialist thread holding a PDF; returns (thread id, attachment id)."""
    patient = browser(cast.patient)
    thread_id = open_thread(patient, f"/messages/with/{cast.specialist.id}")
    resp = post(patient, f"/messages/{thread_id}", "Here are my results", [(PDF, "results.pdf")])
    assert resp.status_code == 302
    page = patient.get(f"/messages/{thread_id}").get_data(as_text=True)
    match = re.search(r"/messages/attachments/(\d+)", page)
    assert match, page
    return thread_id, int(match.group(1))


def test_both_sides_read_the_thread_and_its_attachment(
        cast: Cast, browser: Callable[..., BrandClient], thread_with_file: tuple[int, int]
) -> None:
    thread_id, attachment_id = thread_with_file
    specialist = browser(cast.specialist)
    page = specialist.get(f"/specialist/messages/{thread_id}")
    assert page.status_code == 200
    assert "Here are my results" in page.get_data(as_text=True)
    download = specialist.get(f"/specialist/messages/attachments/{attachment_id}")
    assert download.status_code == 200
    assert download.data == PDF
    patient = browser(cast.patient)
    assert patient.get(f"/messages/attachments/{attachment_id}").data == PDF


@pytest.mark.parametrize("who", ["third_patient", "lone_specialist", "other_brand_patient",
                                 "specialist_on_other_brand"])
def test_outsiders_get_404_on_thread_updates_and_attachments(
        who: str, cast: Cast, browser: Callable[..., BrandClient],
        thread_with_file: tuple[int, int]) -> None:
    thread_id, attachment_id = thread_with_file
    if who == "other_brand_patient":
        client, prefix = browser(cast.other_brand_patient, "wellness-corp"), "/messages"
    elif who == "specialist_on_other_brand":  # the thread's own specialist, on wellness-corp
        client, prefix = browser(cast.specialist, "wellness-corp"), "/specialist/messages"
    elif who == "lone_specialist":
        client, prefix = browser(cast.lone_specialist), "/specialist/messages"
    else:
        client, prefix = browser(cast.third_patient), "/messages"
    for path in (f"{prefix}/{thread_id}", f"{prefix}/{thread_id}/updates.json?after=0",
                 f"{prefix}/attachments/{attachment_id}"):
        resp = client.get(path)
        assert resp.status_code == 404, (path, resp.status_code)
        assert b"results" not in resp.data and PDF not in resp.data
    # posting to the thread is refused the same way, and nothing is written
    token = client.csrf(f"{prefix}/")
    resp = client.post(f"{prefix}/{thread_id}", data={"body": "let me in", "csrf_token": token})
    assert resp.status_code == 404


def test_nobody_opens_a_thread_without_an_appointment(cast: Cast, db: object,
                                                      browser: Callable[..., BrandClient]
                                                      ) -> None:
    third = browser(cast.third_patient)
    resp = third.submit(f"/messages/with/{cast.specialist.id}", form_page="/messages/")
    assert resp.status_code == 404
    lone = browser(cast.lone_specialist)
    resp = lone.submit(f"/specialist/messages/with/{cast.patient.id}",
                       form_page="/specialist/messages/")
    assert resp.status_code == 404
    # the specialist saw the wellness patient on wellness-corp, not on acme-clinic
    spec = browser(cast.specialist)
    resp = spec.submit(f"/specialist/messages/with/{cast.other_brand_patient.id}",
                       form_page="/specialist/messages/")
    assert resp.status_code == 404
    assert db.scalar(select(func.count(Thread.id))) == 0  # type: ignore[attr-defined]


def test_a_cancelled_appointment_is_no_relationship(cast: Cast, db: object,
                                                    browser: Callable[..., BrandClient]) -> None:
    cast.appointment.status = "cancelled"
    db.flush()  # type: ignore[attr-defined]
    patient = browser(cast.patient)
    resp = patient.submit(f"/messages/with/{cast.specialist.id}", form_page="/messages/")
    assert resp.status_code == 404


def test_the_specialist_opens_the_thread_from_the_appointment(
        cast: Cast, browser: Callable[..., BrandClient]) -> None:
    specialist = browser(cast.specialist)
    page = specialist.get(f"/specialist/calendar/appointments/{cast.appointment.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    action = f"/specialist/messages/with/{cast.patient.id}"
    assert action in html
    thread_id = open_thread(specialist, action)
    # the same thread again, and the thread shows the upcoming appointment with a link back
    assert open_thread(specialist, action) == thread_id
    thread = specialist.get(f"/specialist/messages/{thread_id}").get_data(as_text=True)
    assert f"/specialist/calendar/appointments/{cast.appointment.id}" in thread
    patient = browser(cast.patient)
    assert open_thread(patient, f"/messages/with/{cast.specialist.id}") == thread_id


def test_care_team_threads_are_the_patients_and_the_coordinators(
        cast: Cast, browser: Callable[..., BrandClient],
        create_user: Callable[..., object]) -> None:
    patient = browser(cast.patient)
    thread_id = open_thread(patient, "/messages/care-team")
    assert post(patient, f"/messages/{thread_id}", "Can I change my specialist?"
                ).status_code == 302
    coordinator = browser(cast.coordinator)
    page = coordinator.get(f"/org/messages/{thread_id}")
    assert page.status_code == 200 and "change my specialist" in page.get_data(as_text=True)
    # another brand's coordinator and the patient's specialist do not see it
    other = create_user(role="coordinator", brand="wellness-corp")
    assert browser(other, "wellness-corp").get(f"/org/messages/{thread_id}").status_code == 404
    assert browser(cast.specialist).get(f"/specialist/messages/{thread_id}").status_code == 404
    assert browser(cast.third_patient).get(f"/messages/{thread_id}").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client: BrandClient, cast: Cast,
                                                thread_with_file: tuple[int, int]) -> None:
    thread_id, attachment_id = thread_with_file
    fresh = BrandClient(client.application, client.host)
    resp = fresh.get(f"/messages/{thread_id}")
    assert resp.status_code == 302 and "/account/signin" in resp.headers["Location"]
    resp = fresh.get(f"/messages/attachments/{attachment_id}")
    assert resp.status_code == 302


def test_attachment_rows_never_leak_across_brands(db: object, cast: Cast,
                                                  thread_with_file: tuple[int, int]) -> None:
    from engine.db import brand_session
    from engine.runtime import current

    with brand_session(current().sessions, "wellness-corp") as other:
        assert other.scalar(select(func.count(Attachment.id))) == 0


def test_a_coordinator_writes_to_a_patient_of_their_brand_by_email(
        cast: Cast, browser: Callable[..., BrandClient]) -> None:
    coordinator = browser(cast.coordinator)
    resp = coordinator.submit("/org/messages/start", {"email": cast.patient.email.upper()},
                              form_page="/org/messages/")
    assert resp.status_code == 302
    thread_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    patient = browser(cast.patient)
    assert open_thread(patient, "/messages/care-team") == thread_id
    # a patient of another brand is not found here
    resp = coordinator.submit("/org/messages/start", {"email": cast.other_brand_patient.email},
                              form_page="/org/messages/")
    assert resp.status_code == 400
    assert "No patient of Acme Clinic has the email" in resp.get_data(as_text=True)
