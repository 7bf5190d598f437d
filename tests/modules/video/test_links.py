"""Join links: each participant's own signed link opens the room in its window; every other
case (tampered, another brand's, another participant's, cancelled, ended, too early, expired)
gets a clear page and never a room."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from engine import clock
from engine.platform import Platform
from modules.video import services
from modules.video.links import JoinClaim, sign_join
from tests.conftest import BrandClient
from tests.modules.video.helpers import VideoAppointment, person, video_appointment

SECRET = "test-secret"  # tests/conftest.py settings


@pytest.fixture
def acme(platform: Platform) -> Any:
    return platform.brands["acme-clinic"].loaded.config


@pytest.fixture
def visit(db: Any, acme: Any) -> VideoAppointment:
    return video_appointment(db, acme)


def signed_in(client_for: Callable[[str], BrandClient], signin: Callable[..., Any],
              email: str, brand: str = "acme-clinic") -> BrandClient:
    client = client_for(brand)
    assert signin(client, email).status_code in (302, 303)
    return client


def refusal(response: Any) -> str | None:
    html = response.get_data(as_text=True)
    assert 'id="video-room"' not in html, "a refused link must never show the room"
    match = re.search(r'class="card narrow video-refused" data-code="([a-z_]+)"', html)
    return match.group(1) if match else None


def test_each_participant_opens_the_room_with_their_own_link_and_again_after_a_reload(
        visit: VideoAppointment, acme: Any, client_for: Any, signin: Any) -> None:
    for user, role in ((visit.patient, "patient"), (visit.specialist, "specialist")):
        client = signed_in(client_for, signin, user.email)
        path = f"/video/join/{visit.token(SECRET, acme, user)}"
        for _ in range(2):  # the same link opens again (a reload, a dropped connection)
            page = client.get(path)
            assert page.status_code == 200
            html = page.get_data(as_text=True)
            assert f'data-role="{role}"' in html
            assert "<script>" not in html and " onclick=" not in html


def test_signed_out_visitors_are_sent_to_sign_in_first(
        visit: VideoAppointment, acme: Any, client_for: Any) -> None:
    page = client_for("acme-clinic").get(
        f"/video/join/{visit.token(SECRET, acme, visit.patient)}")
    assert page.status_code == 302 and "/account/signin" in page.headers["Location"]


def test_a_tampered_link_gets_a_page_not_a_room(
        visit: VideoAppointment, acme: Any, client_for: Any, signin: Any) -> None:
    client = signed_in(client_for, signin, visit.patient.email)
    token = visit.token(SECRET, acme, visit.patient)
    payload, signature = token.rsplit(".", 1)
    forged = sign_join("another-secret", JoinClaim("acme-clinic", visit.appointment.id,
                                                   visit.patient.id, "patient"))
    for bad in (f"{payload}.{signature[:-2]}xx", token[:-8], forged, "nonsense"):
        page = client.get(f"/video/join/{bad}")
        assert page.status_code == 404 and refusal(page) == "tampered"


def test_another_participants_link_is_refused(
        db: Any, visit: VideoAppointment, acme: Any, client_for: Any, signin: Any) -> None:
    stranger = person(db, acme, "patient", "Otra Persona")
    specialists_link = f"/video/join/{visit.token(SECRET, acme, visit.specialist)}"
    patients_link = f"/video/join/{visit.token(SECRET, acme, visit.patient)}"
    for email, path in ((visit.patient.email, specialists_link),
                        (stranger.email, patients_link), (stranger.email, specialists_link),
                        (visit.specialist.email, patients_link)):
        page = signed_in(client_for, signin, email).get(path)
        assert page.status_code == 403 and refusal(page) == "other_participant"


def test_another_brands_link_is_refused_on_this_brand(
        db: Any, platform: Platform, client_for: Any, signin: Any) -> None:
    wellness = platform.brands["wellness-corp"].loaded.config
    theirs = video_appointment(db, wellness)
    token = theirs.token(SECRET, wellness, theirs.patient)
    # the same person opening it on acme (signed in there as a specialist of both brands)
    acme = platform.brands["acme-clinic"].loaded.config
    from engine.identity import services as identity

    identity.add_membership(db, acme, theirs.specialist)
    db.flush()
    specialist_token = theirs.token(SECRET, wellness, theirs.specialist)
    client = signed_in(client_for, signin, theirs.specialist.email)
    for bad in (token, specialist_token):
        page = client.get(f"/video/join/{bad}")
        assert page.status_code == 404 and refusal(page) == "other_brand"
    # and on its own brand it opens
    own = signed_in(client_for, signin, theirs.patient.email, "wellness-corp")
    assert own.get(f"/video/join/{token}").status_code == 200


@pytest.mark.parametrize("status", ["cancelled", "late_cancelled"])
def test_a_cancelled_appointment_has_no_room(
        db: Any, acme: Any, client_for: Any, signin: Any, status: str) -> None:
    made = video_appointment(db, acme, status=status)
    page = signed_in(client_for, signin, made.patient.email).get(
        f"/video/join/{made.token(SECRET, acme, made.patient)}")
    assert page.status_code == 410 and refusal(page) == "cancelled"


def test_the_link_opens_only_inside_its_window(
        visit: VideoAppointment, acme: Any, client_for: Any, signin: Any) -> None:
    settings = services.video_settings(acme)
    a = visit.appointment
    path = f"/video/join/{visit.token(SECRET, acme, visit.patient)}"
    opens = a.start_at - timedelta(minutes=settings.join_before_minutes)
    closes = a.end_at + timedelta(minutes=settings.join_after_minutes)

    def opened_at(moment: Any) -> Any:
        with clock.freeze(moment):  # signed in at that moment: sessions have lifetimes too
            return signed_in(client_for, signin, visit.patient.email).get(path)

    page = opened_at(opens - timedelta(seconds=1))
    assert page.status_code == 425 and refusal(page) == "too_early"
    for inside in (opens, a.start_at, closes):
        assert opened_at(inside).status_code == 200
    page = opened_at(closes + timedelta(seconds=1))
    assert page.status_code == 410 and refusal(page) == "expired"


def test_a_rescheduled_appointment_keeps_its_links_at_the_new_time(
        db: Any, visit: VideoAppointment, acme: Any, client_for: Any, signin: Any) -> None:
    client = signed_in(client_for, signin, visit.patient.email)
    path = f"/video/join/{visit.token(SECRET, acme, visit.patient)}"
    a = visit.appointment
    a.blocked_end_at = a.end_at = a.end_at + timedelta(days=2)
    a.blocked_start_at = a.start_at = a.start_at + timedelta(days=2)
    db.flush()
    assert refusal(client.get(path)) == "too_early"


def test_an_ended_visit_closes_both_links(
        db: Any, visit: VideoAppointment, acme: Any, client_for: Any, signin: Any) -> None:
    specialist = signed_in(client_for, signin, visit.specialist.email)
    patient = signed_in(client_for, signin, visit.patient.email)
    p_path = f"/video/join/{visit.token(SECRET, acme, visit.patient)}"
    s_path = f"/video/join/{visit.token(SECRET, acme, visit.specialist)}"
    assert patient.get(p_path).status_code == 200
    opened = services.open_link(db, visit.patient, acme, SECRET,
                                visit.token(SECRET, acme, visit.patient))
    appointment_page = f"/specialist/calendar/appointments/{visit.appointment.id}"
    ended = specialist.submit(f"/specialist/video/visits/{opened.visit.id}/end",
                              form_page=appointment_page)
    assert ended.status_code in (302, 303)
    for client, path in ((patient, p_path), (specialist, s_path)):
        page = client.get(path)
        assert page.status_code == 410 and refusal(page) == "ended"


def test_only_the_appointments_specialist_ends_its_visit(
        db: Any, visit: VideoAppointment, acme: Any, client_for: Any, signin: Any) -> None:
    opened = services.open_link(db, visit.patient, acme, SECRET,
                                visit.token(SECRET, acme, visit.patient))
    other = person(db, acme, "specialist", "Otro Especialista")
    client = signed_in(client_for, signin, other.email)
    page = client.submit(f"/specialist/video/visits/{opened.visit.id}/end",
                         form_page="/specialist/")
    assert page.status_code == 404
    patient = signed_in(client_for, signin, visit.patient.email)
    assert patient.submit(f"/specialist/video/visits/{opened.visit.id}/end",
                          form_page="/me").status_code == 403
    db.expire_all()
    assert opened.visit.ended_at is None


def test_an_in_person_appointment_has_no_join_link(db: Any, acme: Any) -> None:
    made = video_appointment(db, acme, modality="in_person")
    assert services.join_token(SECRET, acme, made.appointment, made.patient.id) is None


def test_a_patient_without_telehealth_consent_gets_the_consent_page_not_a_room(
        visit: VideoAppointment, acme: Any, client_for: Any, signin: Any, db: Any) -> None:
    """A visit booked by staff skipped booking's consent check: joining needs it too."""
    from engine.privacy import consent
    from engine.settings import ROOT

    for doc in consent.required_for(acme, "video"):
        consent.record(db, visit.patient, acme, doc.key, granted=False, method="web",
                       brands_dir=ROOT / "brands")
    db.flush()
    client = signed_in(client_for, signin, visit.patient.email)
    page = client.get(f"/video/join/{visit.token(SECRET, acme, visit.patient)}")
    assert page.status_code == 403
    html = page.get_data(as_text=True)
    assert 'id="video-room"' not in html
    assert "/account/privacy/consent?for=video" in html
