"""Messages: shown as text (never HTML), unread counts and read state per participant, the live
update endpoint, and emails that never carry the message and respect each user's opt-out."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.notify import Email
from modules.messaging.models import Message
from tests.conftest import BrandClient
from tests.modules.messaging.conftest import Cast
from tests.modules.messaging.helpers import open_thread, post

SECRET = "my test results show anxiety"


@pytest.fixture
def pair(cast: Cast, browser: Callable[..., BrandClient]) -> tuple[BrandClient, BrandClient, int]:
    """(patient browser, specialist browser, thread id)."""
    patient = browser(cast.patient)
    thread_id = open_thread(patient, f"/messages/with/{cast.specialist.id}")
    return patient, browser(cast.specialist), thread_id


def _badge(client: BrandClient, path: str) -> str | None:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'data-nav-badge="messaging[^"]*"( hidden)?>(\d+)', page)
    return match.group(2) if match and not match.group(1) else None


def test_a_script_message_is_shown_as_text(pair: tuple[BrandClient, BrandClient, int]) -> None:
    patient, specialist, thread_id = pair
    body = '<script>alert("x")</script>\n<img src=x onerror=alert(1)> see https://example.com/a?b=1&c=2.'
    assert post(patient, f"/messages/{thread_id}", body).status_code == 302
    html = specialist.get(f"/specialist/messages/{thread_id}").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;<br>" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert ('<a href="https://example.com/a?b=1&amp;c=2" rel="noopener nofollow ugc" '
            'target="_blank">https://example.com/a?b=1&amp;c=2</a>.') in html
    # the live update carries the same escaped fragment
    data = specialist.get(f"/specialist/messages/{thread_id}/updates.json?after=0").get_json()
    assert "<script>" not in data["messages"][0]["html"]
    assert "&lt;script&gt;" in data["messages"][0]["html"]


def test_message_bodies_are_encrypted_at_rest(db: Session,
                                              pair: tuple[BrandClient, BrandClient, int]) -> None:
    patient, _, thread_id = pair
    post(patient, f"/messages/{thread_id}", SECRET)
    row = db.scalar(select(Message))
    assert row is not None and row.body == SECRET
    stored = db.connection().exec_driver_sql("SELECT body FROM messaging_message").scalar()
    assert stored.startswith("dp1:") and "anxiety" not in stored


def test_unread_counts_and_read_state(pair: tuple[BrandClient, BrandClient, int]) -> None:
    patient, specialist, thread_id = pair
    assert _badge(specialist, "/specialist/") is None
    post(patient, f"/messages/{thread_id}", "first")
    post(patient, f"/messages/{thread_id}", "second")
    # the sender has nothing unread; the specialist has two, in the nav and on the inbox
    assert _badge(patient, "/messages/") is None
    assert _badge(specialist, "/specialist/") == "2"
    assert specialist.get("/specialist/messages/unread.json").get_json() == {"unread": 2}
    inbox = specialist.get("/specialist/messages/").get_data(as_text=True)
    assert "2 new" in inbox or "2 nuevos" in inbox or re.search(r">\s*2\b", inbox)
    # the patient's messages are not marked read until the specialist opens the thread
    assert "message-read" not in patient.get(f"/messages/{thread_id}").get_data(as_text=True)
    specialist.get(f"/specialist/messages/{thread_id}")
    assert specialist.get("/specialist/messages/unread.json").get_json() == {"unread": 0}
    assert _badge(specialist, "/specialist/") is None
    assert "message-read" in patient.get(f"/messages/{thread_id}").get_data(as_text=True)
    # a reply is unread for the patient only
    post(specialist, f"/specialist/messages/{thread_id}", "reply")
    assert patient.get("/messages/unread.json").get_json() == {"unread": 1}
    assert specialist.get("/specialist/messages/unread.json").get_json() == {"unread": 0}


def test_the_live_update_endpoint_returns_new_messages_only(
        pair: tuple[BrandClient, BrandClient, int]) -> None:
    patient, specialist, thread_id = pair
    url = f"/specialist/messages/{thread_id}/updates.json"
    empty = specialist.get(f"{url}?after=0").get_json()
    assert empty == {"messages": [], "last_id": 0, "unread": 0}
    post(patient, f"/messages/{thread_id}", "are you there?")
    first = specialist.get(f"{url}?after=0").get_json()
    assert [("are you there?" in m["html"]) for m in first["messages"]] == [True]
    assert first["unread"] == 0  # fetched by the open page: read
    last = first["last_id"]
    assert specialist.get(f"{url}?after={last}").get_json()["messages"] == []
    post(patient, f"/messages/{thread_id}", "hello?")
    later = specialist.get(f"{url}?after={last}").get_json()
    assert len(later["messages"]) == 1 and "hello?" in later["messages"][0]["html"]
    assert later["last_id"] > last
    bad = specialist.get(f"{url}?after=abc", headers={"Accept": "application/json"})
    assert bad.status_code == 400 and bad.get_json()["field"] == "after"


def test_pages_load_the_polling_script_from_a_file(
        pair: tuple[BrandClient, BrandClient, int]) -> None:
    patient, _, thread_id = pair
    html = patient.get(f"/messages/{thread_id}").get_data(as_text=True)
    match = re.search(r'<script src="([^"]+messaging\.js)"', html)
    assert match and "<script>" not in html
    assert f'data-updates="/messages/{thread_id}/updates.json"' in html
    js = patient.get(match.group(1))
    try:
        assert js.status_code == 200 and b"data-updates" in js.data and b"fetch(" in js.data
    finally:
        js.close()


def _emails_to(db: Session, address: str) -> list[Email]:
    return list(db.scalars(select(Email).where(Email.recipient == address).order_by(Email.id)))


def test_the_notification_email_never_carries_the_message(
        db: Session, cast: Cast, pair: tuple[BrandClient, BrandClient, int]) -> None:
    patient, specialist, thread_id = pair
    post(patient, f"/messages/{thread_id}", SECRET)
    emails = _emails_to(db, cast.specialist.email)
    assert len(emails) == 1
    text = f"{emails[0].subject}\n{emails[0].body_text}\n{emails[0].body_html or ''}"
    assert "anxiety" not in text and SECRET not in text
    assert f"/specialist/messages/{thread_id}" in text
    # a second message before the specialist reads: no second email (one per unread burst)
    post(patient, f"/messages/{thread_id}", "and another thing")
    assert len(_emails_to(db, cast.specialist.email)) == 1
    specialist.get(f"/specialist/messages/{thread_id}")
    post(patient, f"/messages/{thread_id}", "after you read")
    assert len(_emails_to(db, cast.specialist.email)) == 2
    # the sender is not emailed about their own messages
    assert _emails_to(db, cast.patient.email) == []


def test_users_opt_out_of_message_emails(db: Session, cast: Cast,
                                         pair: tuple[BrandClient, BrandClient, int]) -> None:
    patient, specialist, thread_id = pair
    page = specialist.get("/specialist/messages/settings").get_data(as_text=True)
    assert 'name="email" checked' in page
    resp = specialist.submit("/specialist/messages/settings", {})  # checkbox left unticked
    assert resp.status_code == 302
    assert 'name="email" checked' not in specialist.get(
        "/specialist/messages/settings").get_data(as_text=True)
    post(patient, f"/messages/{thread_id}", "hello")
    assert _emails_to(db, cast.specialist.email) == []
    # the choice is the specialist's on this brand only; the patient still gets theirs
    post(specialist, f"/specialist/messages/{thread_id}", "hi")
    assert len(_emails_to(db, cast.patient.email)) == 1
    specialist.submit("/specialist/messages/settings", {"email": "on"})
    specialist.get(f"/specialist/messages/{thread_id}")
    post(patient, f"/messages/{thread_id}", "again")
    assert len(_emails_to(db, cast.specialist.email)) == 1


def test_care_team_messages_reach_every_coordinator(
        db: Session, cast: Cast, browser: Callable[..., BrandClient],
        create_user: Callable[..., Any]) -> None:
    second = create_user(role="coordinator", name="Second Coordinator")
    patient = browser(cast.patient)
    thread_id = open_thread(patient, "/messages/care-team")
    post(patient, f"/messages/{thread_id}", "question for the team")
    assert len(_emails_to(db, cast.coordinator.email)) == 1
    assert len(_emails_to(db, second.email)) == 1
    coordinator = browser(cast.coordinator)
    assert coordinator.get("/org/messages/unread.json").get_json() == {"unread": 1}
    post(coordinator, f"/org/messages/{thread_id}", "we will call you")
    assert len(_emails_to(db, cast.patient.email)) == 1
    # read state is per participant: the second coordinator has still not read it
    assert browser(second).get("/org/messages/unread.json").get_json() == {"unread": 2}


def test_empty_and_too_long_messages_are_refused(
        db: Session, pair: tuple[BrandClient, BrandClient, int]) -> None:
    patient, _, thread_id = pair
    resp = post(patient, f"/messages/{thread_id}", "   ")
    assert resp.status_code == 400 and "Write a message or attach a file" in resp.get_data(
        as_text=True)
    resp = post(patient, f"/messages/{thread_id}", "x" * 5001)
    assert resp.status_code == 400
    assert db.scalar(select(Message.id)) is None


def test_every_page_can_keep_its_navigation_counts_current(
        pair: tuple[BrandClient, BrandClient, int],
        client_for: Callable[[str], BrandClient]) -> None:
    """nav/badges.json answers a portal's counts; pages point their script at it and carry a
    hidden badge while the count is zero."""
    patient, specialist, thread_id = pair
    page = specialist.get("/specialist/").get_data(as_text=True)
    assert 'data-badges="/nav/badges.json?portal=specialist"' in page
    assert re.search(r'data-nav-badge="messaging_specialist.index" hidden>0', page)
    assert specialist.get("/nav/badges.json?portal=specialist").get_json() == {
        "badges": {"messaging_specialist.index": 0}}
    post(patient, f"/messages/{thread_id}", "first")
    assert specialist.get("/nav/badges.json?portal=specialist").get_json() == {
        "badges": {"messaging_specialist.index": 1}}
    assert patient.get("/nav/badges.json").get_json() == {"badges": {"messaging.index": 0}}
    # bad input and strangers get clear JSON answers
    refused = specialist.get("/nav/badges.json?portal=nowhere")
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_portal"
    anonymous = client_for("acme-clinic")
    assert anonymous.get("/nav/badges.json").status_code == 401
    assert "data-badges" not in anonymous.get("/").get_data(as_text=True)
