"""Audit events of requests: request ids, sign-in (success, failure without the password,
lockout), sign-out, password change, access denied (kept although the request rolls back), and
the patient's and organization admin's pages."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from sqlalchemy import select

from engine import audit
from engine.audit_models import AuditEvent
from tests.conftest import PASSWORD


def _events(db: Any, action: str | None = None, **where: Any) -> list[AuditEvent]:
    db.expire_all()
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    for k, v in where.items():
        stmt = stmt.where(getattr(AuditEvent, k) == v)
    return list(db.scalars(stmt))


def _row_text(ev: AuditEvent) -> str:
    return " ".join(str(getattr(ev, c.key)) for c in AuditEvent.__table__.columns)


def test_every_response_carries_a_request_id(client):
    resp = client.get("/")
    rid = resp.headers["X-Request-Id"]
    assert len(rid) == 32
    echoed = client.get("/", headers={"X-Request-Id": "edge-proxy-1234"})
    assert echoed.headers["X-Request-Id"] == "edge-proxy-1234"
    junk = client.get("/", headers={"X-Request-Id": "<script>"})
    assert junk.headers["X-Request-Id"] != "<script>"


def test_sign_in_and_sign_out_are_logged(db, client, create_user, signin):
    user = create_user("patient")
    resp = signin(client, user.email)
    assert resp.status_code == 302
    [ev] = _events(db, "auth.signin", actor_id=user.id)
    assert (ev.outcome, ev.brand_id, ev.actor_role, ev.target_id) == \
        ("success", "acme-clinic", "patient", str(user.id))
    assert ev.request_id and len(ev.request_id) == 32
    client.submit("/account/signout", {})
    [out] = _events(db, "auth.signout", actor_id=user.id)
    assert out.outcome == "success"


def test_failed_sign_in_is_logged_without_the_password(db, client, create_user, signin):
    user = create_user("patient")
    wrong = f"wrong-{uuid.uuid4().hex}"
    resp = signin(client, user.email, wrong)
    assert resp.status_code == 401
    [ev] = _events(db, "auth.signin", outcome="failure")
    assert ev.actor_id is None and ev.brand_id == "acme-clinic"
    assert ev.target_type == "account" and len(ev.target_id or "") == 64
    text = " ".join(_row_text(e) for e in _events(db))
    assert wrong not in text and user.email not in text and PASSWORD not in text
    # an unknown address is logged the same way, naming no address
    signin(client, "nobody-here@example.com", wrong)
    assert len(_events(db, "auth.signin", outcome="failure")) == 2
    assert "nobody-here" not in " ".join(_row_text(e) for e in _events(db))


def test_lockout_is_logged_as_denied(db, client, create_user, signin):
    user = create_user("patient")
    statuses = [signin(client, user.email, "not the password").status_code for _ in range(6)]
    assert statuses[-1] == 429
    locks = _events(db, "auth.lockout")
    assert locks and all(e.outcome == "denied" for e in locks)


def test_access_denied_is_logged_although_the_request_rolls_back(db, client_for, create_user,
                                                                  signin):
    patient = create_user("patient")
    client = client_for("acme-clinic")
    signin(client, patient.email)
    resp = client.get("/specialist/")
    assert resp.status_code == 403
    [ev] = _events(db, "access.denied", actor_id=patient.id)
    assert ev.outcome == "denied" and ev.brand_id == "acme-clinic"
    assert '"permission":"core.portal.specialist"' in (ev.details or "")
    assert ev.request_id == resp.headers["X-Request-Id"]


def test_success_events_of_a_failed_request_are_dropped_and_others_kept(db, platform):
    """A request that fails (here: a 500) loses its writes and its success events; its failure
    and denial events are written after the rollback."""
    app = platform.app_for("acme-clinic")
    with app.test_request_context("/", headers={"Host": "acme.localhost"}):
        app.preprocess_request()
        audit.record_request("test.kept", outcome="failure")
        audit.record_request("test.dropped")
        app.process_response(Response("crash", status=500))
        app.do_teardown_request()
    assert [e.action for e in _events(db) if e.action.startswith("test.")] == ["test.kept"]


def test_events_of_a_good_request_commit_with_it(db, platform):
    app = platform.app_for("acme-clinic")
    with app.test_request_context("/", headers={"Host": "acme.localhost"}):
        app.preprocess_request()
        audit.record_request("test.ok")
        app.process_response(Response("fine"))
        app.do_teardown_request()
    [ev] = _events(db, "test.ok")
    assert ev.brand_id == "acme-clinic" and ev.actor_id is None and ev.request_id


def test_password_change_is_logged(db, client_for, create_user, signin):
    user = create_user("patient")
    client = client_for("acme-clinic")
    signin(client, user.email)
    resp = client.submit("/account/settings", {"password-current_password": PASSWORD,
                                               "password-password": "a brand new secret 42"})
    assert resp.status_code == 302
    [ev] = _events(db, "auth.password_change", actor_id=user.id)
    assert ev.outcome == "success" and "brand new" not in _row_text(ev)


def test_patient_sees_who_accessed_their_record(db, client_for, create_user, signin):
    patient = create_user("patient", name="Pia Patient")
    other = create_user("patient", name="Otto Other")
    specialist = create_user("specialist", name="Dr Sofia Vega")
    audit.record(db, action="appointment.view", brand_id="acme-clinic", actor=specialist,
                 target_type="appointment", target_id=1, patient_id=patient.id)
    mine = client_for("acme-clinic")
    signin(mine, patient.email)
    page = mine.get("/me/access-log").get_data(as_text=True)
    assert "Dr Sofia Vega" in page
    theirs = client_for("acme-clinic")
    signin(theirs, other.email)
    assert "Dr Sofia Vega" not in theirs.get("/me/access-log").get_data(as_text=True)


def test_org_admin_sees_members_events_only(db, client_for, create_user, signin, platform):
    org = platform.brands["wellness-corp"].loaded.config.organizations[0].slug
    admin = create_user("org_admin", brand="wellness-corp", organization=org, name="Ada Admin")
    member = create_user("patient", brand="wellness-corp", organization=org, name="Mo Member")
    stranger = create_user("patient", brand="wellness-corp", name="Sam Stranger")
    audit.record(db, action="test.member", brand_id="wellness-corp", actor=member)
    audit.record(db, action="test.stranger", brand_id="wellness-corp", actor=stranger)
    client = client_for("wellness-corp")
    signin(client, admin.email)
    page = client.get("/org/activity").get_data(as_text=True)
    assert "test.member" in page and "Mo Member" in page
    assert "test.stranger" not in page and "Sam Stranger" not in page
    assert client.get("/me/access-log").status_code == 403
