"""Signaling over the visit's WebSocket, through the platform's WSGI dispatch on a live server:
the waiting room, admission, relaying offers/answers/candidates, rejoining with the same link,
ending; and across two web processes sharing Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from engine.db import brand_session
from modules.video.models import Visit, VisitEvent
from tests.conftest import PASSWORD, LiveServer
from tests.modules.video.conftest import REDIS_URL, committed_appointment, redis_answers
from tests.modules.video.wsclient import Participant, get, sign_in

pytestmark = pytest.mark.live
HOST = "acme.localhost"
SECRET = "test-secret"


def tokens(server: LiveServer, made: Any) -> tuple[str, str]:
    cfg = server.platform.brands["acme-clinic"].loaded.config
    return made.token(SECRET, cfg, made.specialist), made.token(SECRET, cfg, made.patient)


def events_of(server: LiveServer, appointment_id: int) -> list[tuple[str, str]]:
    with brand_session(server.platform.runtime.sessions, "acme-clinic") as s:
        visit = s.scalar(select(Visit).where(Visit.appointment_id == appointment_id))
        assert visit is not None
        return [(e.role, e.kind) for e in s.scalars(
            select(VisitEvent).where(VisitEvent.visit_id == visit.id)
            .order_by(VisitEvent.at, VisitEvent.id))]


def call_flow(specialist_server: LiveServer, patient_server: LiveServer) -> None:
    """The whole exchange with the specialist on one server and the patient on another (or
    the same)."""
    made = committed_appointment(specialist_server)
    s_token, p_token = tokens(specialist_server, made)
    s_cookie = sign_in(specialist_server.port, HOST, made.specialist.email, PASSWORD)
    p_cookie = sign_in(patient_server.port, HOST, made.patient.email, PASSWORD)

    patient = Participant(patient_server.port, HOST, p_token, p_cookie)
    welcome = patient.expect("welcome")
    assert welcome["role"] == "patient" and welcome["admitted"] is False
    assert welcome["iceServers"] == []

    specialist = Participant(specialist_server.port, HOST, s_token, s_cookie)
    assert specialist.expect("welcome")["role"] == "specialist"
    joined = patient.expect("joined")
    assert joined["from"] == "specialist"
    patient.send(type="present")
    present = specialist.expect("present")
    assert present["from"] == "patient" and present["admitted"] is False

    # In the waiting room the patient cannot reach the specialist with media offers.
    patient.send(type="offer", sdp="v=0 sneaky", gen=1)
    assert patient.expect("error")["code"] == "not_admitted"
    assert not [m for m in specialist.quiet(0.5) if m["type"] == "offer"]
    patient.send(type="admit")  # only the specialist admits
    assert patient.expect("error")["code"] == "unknown_type"

    specialist.send(type="admit")
    # at once, before the admission's broadcast came back to the specialist's own connection
    specialist.send(type="offer", sdp="v=0 offer", gen=7, extra="dropped")
    assert patient.expect("admitted")["type"] == "admitted"
    specialist.expect("admitted")
    offer = patient.expect("offer")
    assert (offer["sdp"], offer["gen"], offer["from"]) == ("v=0 offer", 7, "specialist")
    assert "extra" not in offer
    patient.send(type="answer", sdp="v=0 answer", gen=7)
    assert specialist.expect("answer")["sdp"] == "v=0 answer"
    patient.send(type="candidate", candidate={"candidate": "candidate:1 1 udp 1 127.0.0.1 9 "
                                                           "typ host", "sdpMid": "0"}, gen=7)
    assert specialist.expect("candidate")["candidate"]["sdpMid"] == "0"

    # A reload: the patient's socket closes and the same link opens a new one, admitted.
    patient.close()
    assert specialist.expect("left")["from"] == "patient"
    patient = Participant(patient_server.port, HOST, p_token, p_cookie)
    assert patient.expect("welcome")["admitted"] is True
    rejoined = specialist.expect("joined")
    assert rejoined["from"] == "patient" and rejoined["admitted"] is True
    specialist.send(type="offer", sdp="v=0 again", gen=8)
    assert patient.expect("offer")["gen"] == 8

    # A second tab of the patient replaces the first.
    second = Participant(patient_server.port, HOST, p_token, p_cookie)
    second.expect("welcome")
    assert patient.expect("replaced")["type"] == "replaced"
    patient.close()
    patient = second

    specialist.send(type="end")
    assert patient.expect("ended")["type"] == "ended"
    specialist.expect("ended")
    patient.close()
    specialist.close()

    status, body = get(patient_server.port, HOST, f"/video/join/{p_token}", p_cookie)
    assert status == 410 and 'data-code="ended"' in body
    kinds = events_of(specialist_server, made.appointment.id)
    assert kinds.count(("patient", "joined")) == 3
    assert ("specialist", "admitted") in kinds and ("specialist", "ended") in kinds
    assert ("patient", "left") in kinds


def test_a_call_is_signaled_through_one_server(video_server: Callable[..., LiveServer]) -> None:
    server = video_server()
    call_flow(server, server)


@pytest.mark.skipif(not redis_answers(), reason="TEST_REDIS_URL does not answer")
def test_participants_on_two_web_processes_connect_through_redis(
        video_server: Callable[..., LiveServer]) -> None:
    first, second = video_server(REDIS_URL), video_server(REDIS_URL)
    assert first.platform.runtime is not second.platform.runtime
    call_flow(first, second)


def test_without_redis_two_processes_do_not_hear_each_other(
        video_server: Callable[..., LiveServer]) -> None:
    # What the Redis test proves is the broker's doing: in-process brokers stay apart.
    first, second = video_server(), video_server()
    made = committed_appointment(first)
    s_token, p_token = tokens(first, made)
    patient = Participant(second.port, HOST, p_token,
                          sign_in(second.port, HOST, made.patient.email, PASSWORD))
    patient.expect("welcome")
    specialist = Participant(first.port, HOST, s_token,
                             sign_in(first.port, HOST, made.specialist.email, PASSWORD))
    specialist.expect("welcome")
    assert not [m for m in patient.quiet(1.0) if m["type"] == "joined"]
    patient.close()
    specialist.close()


def test_a_socket_from_another_origin_or_with_a_bad_link_gets_no_room(
        video_server: Callable[..., LiveServer]) -> None:
    server = video_server()
    made = committed_appointment(server)
    s_token, p_token = tokens(server, made)
    cookie = sign_in(server.port, HOST, made.patient.email, PASSWORD)
    hijack = Participant(server.port, HOST, p_token, cookie, origin="http://evil.example")
    assert hijack.expect("error")["code"] == "origin"
    hijack.close()
    other = Participant(server.port, HOST, s_token, cookie)  # the specialist's link
    assert other.expect("refused")["code"] == "other_participant"
    other.close()
    tampered = Participant(server.port, HOST, p_token[:-3] + "abc", cookie)
    assert tampered.expect("refused")["code"] == "tampered"
    tampered.close()
