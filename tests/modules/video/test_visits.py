"""The visit's record and what it feeds: events and duration for the specialist, the
attendance suggestion, join buttons on booking's pages, the join link in booking's email,
TURN credentials, settings validation and the data-rights hooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from engine import clock
from engine.platform import Platform
from modules.booking import changes
from modules.booking.models import Appointment
from modules.video import IceServers, VideoSettings, services
from modules.video.data_rights import erase_data, export_data, purge_video_events
from modules.video.links import ice_servers, turn_credentials
from modules.video.models import VisitEvent
from tests.conftest import link_in
from tests.modules.video.helpers import VideoAppointment, video_appointment
from tests.modules.video.test_links import SECRET, signed_in


@pytest.fixture
def acme(platform: Platform) -> Any:
    return platform.brands["acme-clinic"].loaded.config


@pytest.fixture
def made(db: Any, acme: Any) -> VideoAppointment:
    return video_appointment(db, acme)


def opened(db: Any, acme: Any, made: VideoAppointment, who: str) -> services.Opened:
    user = made.patient if who == "patient" else made.specialist
    result = services.open_link(db, user, acme, SECRET, made.token(SECRET, acme, user))
    services.joined(db, result, acme)
    return result


def test_the_visit_records_joins_admission_and_duration_and_suggests_completed(
        db: Any, acme: Any, made: VideoAppointment) -> None:
    start = made.appointment.start_at
    with clock.freeze(start - timedelta(minutes=2)):
        visit = opened(db, acme, made, "patient").visit
    with clock.freeze(start):
        opened(db, acme, made, "specialist")
        assert services.admit_patient(db, made.specialist, acme, visit.id) is True
        assert services.admit_patient(db, made.specialist, acme, visit.id) is False  # once
    with clock.freeze(start + timedelta(minutes=25)):
        services.record_event(db, visit, made.patient.id, "patient", "left")
        services.end_visit(db, made.specialist, acme, visit.id)
        record = services.visit_record(db, acme, made.appointment)
    assert record is not None
    assert [(e.role, e.kind) for e in record.events] == [
        ("patient", "joined"), ("specialist", "joined"), ("specialist", "admitted"),
        ("patient", "left"), ("specialist", "ended")]
    assert record.duration_seconds == 25 * 60  # from admission to the end
    assert record.patient_connected_seconds == 27 * 60
    assert record.suggestion == "completed"
    with pytest.raises(Exception) as refused:
        services.admit_patient(db, made.specialist, acme, visit.id)
    assert getattr(refused.value, "code", None) == "ended"


def test_nobody_joined_suggests_no_show_once_the_window_closes(
        db: Any, acme: Any, made: VideoAppointment) -> None:
    closes = services.join_window(acme, made.appointment)[1]
    with clock.freeze(closes - timedelta(minutes=1)):
        assert services.visit_record(db, acme, made.appointment) is None
    with clock.freeze(closes + timedelta(minutes=1)):
        record = services.visit_record(db, acme, made.appointment)
    assert record is not None and record.suggestion == "no_show" and record.visit is None


def test_the_specialist_sees_the_record_and_marks_the_suggested_attendance(
        db: Any, acme: Any, made: VideoAppointment, client_for: Any, signin: Any) -> None:
    visit = opened(db, acme, made, "patient").visit
    services.admit_patient(db, made.specialist, acme, visit.id)
    page_path = f"/specialist/calendar/appointments/{made.appointment.id}"
    with clock.freeze(made.appointment.start_at + timedelta(minutes=10)):
        client = signed_in(client_for, signin, made.specialist.email)
        html = client.get(page_path).get_data(as_text=True)
        assert 'class="button video-join"' in html
        assert 'data-kind="admitted"' in html and 'data-role="patient"' in html
        form = re.search(r'<form[^>]*class="inline video-attendance"[^>]*>.*?</form>', html,
                         re.S)
        assert form and 'name="status" value="completed"' in form.group(0)
        done = client.submit(f"/specialist/calendar/appointments/{made.appointment.id}"
                             f"/attendance", {"status": "completed"}, form_page=page_path)
        assert done.status_code in (302, 303)
        db.expire_all()
        assert db.get(Appointment, made.appointment.id).status == "completed"
        assert "video-attendance" not in client.get(page_path).get_data(as_text=True)


def test_the_patient_page_has_the_join_button_and_an_in_person_one_has_none(
        db: Any, acme: Any, made: VideoAppointment, client_for: Any, signin: Any) -> None:
    client = signed_in(client_for, signin, made.patient.email)
    html = client.get(f"/appointments/{made.appointment.id}").get_data(as_text=True)
    link = re.search(r'<a class="button video-join" href="([^"]+)"', html)
    assert link and link.group(1) == f"/video/join/{made.token(SECRET, acme, made.patient)}"
    assert client.get(link.group(1)).status_code == 200
    in_person = video_appointment(db, acme, patient=made.patient, specialist=made.specialist,
                                  modality="in_person", start_in=timedelta(days=1))
    html = client.get(f"/appointments/{in_person.appointment.id}").get_data(as_text=True)
    assert "video-join" not in html


def test_the_confirmation_email_carries_the_patients_join_link(
        db: Any, acme: Any, made: VideoAppointment, platform: Platform, outbox: Any,
        client_for: Any, signin: Any) -> None:
    with platform.app_for("acme-clinic").test_request_context(
            "/", base_url="https://acme.localhost"):
        changes._notify(db, acme, made.appointment, "confirmed", "REQUEST")
    mail = outbox()[-1]
    assert mail.recipient == made.patient.email
    link = link_in(mail)
    assert link == (f"https://acme.localhost/video/join/"
                    f"{made.token(SECRET, acme, made.patient)}")
    client = signed_in(client_for, signin, made.patient.email)
    assert client.get(link.removeprefix("https://acme.localhost")).status_code == 200


def test_turn_credentials_follow_corturns_rest_scheme() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    username, credential = turn_credentials("north", "42", 600, now)
    expiry = int(now.timestamp()) + 600
    assert username == f"{expiry}:42"
    # coturn: password = base64(HMAC-SHA1(static-auth-secret, username))
    expected = base64.b64encode(hmac.new(b"north", username.encode(), hashlib.sha1).digest())
    assert credential == expected.decode()
    ice = IceServers(stun_urls=("stun:stun.example.org:3478",),
                     turn_urls=("turn:turn.example.org:3478",), turn_secret="env:TURN_KEY",
                     credential_ttl_seconds=600)
    servers = ice_servers(ice, "42", now, environ={"TURN_KEY": "north"})
    assert servers == [{"urls": ["stun:stun.example.org:3478"]},
                       {"urls": ["turn:turn.example.org:3478"], "username": username,
                        "credential": credential}]
    assert "north" not in repr(servers)
    # an unset secret leaves TURN out instead of handing out a useless credential
    assert ice_servers(ice, "42", now, environ={}) == [{"urls": ["stun:stun.example.org:3478"]}]


@pytest.mark.parametrize("ice", [
    {"turn_urls": ["turn:turn.example.org"]},  # no secret
    {"turn_urls": ["turn:turn.example.org"], "turn_secret": "plaintext-secret"},
    {"stun_urls": ["http://stun.example.org"]},
    {"credential_ttl_seconds": 5},
])
def test_ice_settings_refuse_static_secrets_and_bad_urls(ice: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        VideoSettings(ice=ice)


def test_data_rights_export_erase_and_retention(
        db: Any, acme: Any, made: VideoAppointment) -> None:
    visit = opened(db, acme, made, "patient").visit
    opened(db, acme, made, "specialist")
    exported = export_data(db, made.patient)["video_events"]
    assert [(e["role"], e["kind"]) for e in exported] == [("patient", "joined")]
    assert erase_data(db, made.patient, "all") == {"video_events": 1}
    db.expire_all()
    assert export_data(db, made.patient)["video_events"] == []
    assert db.scalar(select(func.count(VisitEvent.id)).where(
        VisitEvent.visit_id == visit.id)) == 2  # the specialist's record keeps the visit
    later = clock.now() + timedelta(days=400)
    assert purge_video_events(db, "acme-clinic", later, dry_run=True,
                              held_user_ids=[made.specialist.id]) == 0
    assert purge_video_events(db, "acme-clinic", later, dry_run=True) == 2
    assert purge_video_events(db, "wellness-corp", later) == 0
    assert purge_video_events(db, "acme-clinic", later) == 2
    assert purge_video_events(db, "acme-clinic", later) == 0


def test_joining_admitting_and_ending_are_audited_without_health_data(
        db: Any, acme: Any, made: VideoAppointment) -> None:
    from engine.audit_models import AuditEvent

    visit = opened(db, acme, made, "patient").visit
    services.admit_patient(db, made.specialist, acme, visit.id)
    services.end_visit(db, made.specialist, acme, visit.id)
    rows = list(db.scalars(select(AuditEvent).where(AuditEvent.target_type == "video_visit",
                                                    AuditEvent.target_id == str(visit.id))
                           .order_by(AuditEvent.seq)))
    assert [(r.action, r.actor_id, r.patient_id) for r in rows] == [
        ("video.visit.joined", made.patient.id, made.patient.id),
        ("video.visit.admitted", made.specialist.id, made.patient.id),
        ("video.visit.ended", made.specialist.id, made.patient.id)]
    assert all(r.brand_id == "acme-clinic" for r in rows)


def test_screen_sharing_is_offered_only_where_the_brand_allows_it(
        db: Any, platform: Platform, client_for: Any, signin: Any) -> None:
    for slug, offered in (("acme-clinic", True), ("wellness-corp", False)):
        cfg = platform.brands[slug].loaded.config
        assert services.video_settings(cfg).screen_share is offered
        made = video_appointment(db, cfg)
        client = signed_in(client_for, signin, made.patient.email, slug)
        html = client.get(f"/video/join/{made.token(SECRET, cfg, made.patient)}").get_data(
            as_text=True)
        assert ('id="video-share"' in html) is offered
        assert f'data-screen-share="{"on" if offered else "off"}"' in html
