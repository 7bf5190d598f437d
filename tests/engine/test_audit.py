"""Audit log: recording, the HMAC chain, details deny-list."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine import audit, audit_keys
from engine.audit_models import AuditChainHead, AuditEvent


def test_record_chains_events(db, create_user):
    user = create_user("patient")
    a = audit.record(db, action="test.one", brand_id="acme-clinic", actor=user,
                     details={"module": "booking"})
    b = audit.record(db, action="test.two", brand_id="acme-clinic", outcome="denied")
    assert b.seq == a.seq + 1 and b.prev_mac == a.mac
    assert a.actor_id == user.id and a.actor_role == "patient"
    assert json.loads(a.details) == {"module": "booking"}
    head = db.get(AuditChainHead, "brand:acme-clinic")
    assert (head.seq, head.mac) == (b.seq, b.mac)
    assert a.mac == audit.compute_mac(audit.audit_key(), a.prev_mac, audit.event_content(a))
    other = audit.record(db, action="test.platform", brand_id=None)
    assert other.chain == "platform"
    assert db.scalars(select(AuditEvent.action).where(AuditEvent.chain == "platform")).all()


@pytest.mark.parametrize("details", [
    {"password": "x"}, {"new_password": "x"}, {"reset_token": "abc"}, {"Intake-Answers": []},
    {"nested": {"notes": "feels low"}}, {"message_body": "hi"}, {"free": "x" * 500},
    {"obj": object()},
])
def test_details_deny_list(db, details):
    with pytest.raises(audit.AuditDetailsError):
        audit.record(db, action="test.bad", brand_id=None, details=details)
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "test.bad")) is None


def test_key_file_is_created_once_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv(audit.KEY_ENV, raising=False)
    monkeypatch.delenv(audit.KEYS_ENV, raising=False)
    key = audit.audit_key(tmp_path)
    path = tmp_path / "audit.key"
    assert len(key) == 64 and (path.stat().st_mode & 0o777) == 0o600
    audit_keys._cache.clear()
    assert audit.audit_key(tmp_path) == key
    assert [p.name for p in tmp_path.iterdir()] == ["audit.key"]


def test_environment_key_wins_and_must_be_long(tmp_path, monkeypatch):
    monkeypatch.delenv(audit.KEYS_ENV, raising=False)
    monkeypatch.setenv(audit.KEY_ENV, "k" * 40)
    assert audit.audit_key(tmp_path) == b"k" * 40
    monkeypatch.setenv(audit.KEY_ENV, "short")
    with pytest.raises(RuntimeError):
        audit.audit_key(tmp_path)
