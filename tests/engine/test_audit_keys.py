"""Audit key rotation: several HMAC keys with ids, the newest signing; each event and checkpoint
names its key; verification checks each row with its own key, reports rows whose key is gone,
and catches a superseded key signing after a newer one; retirement only of unused keys; the
single-key formats of earlier releases keep verifying."""

from __future__ import annotations

import base64
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from engine import audit, audit_chain, audit_keys, clock
from engine.audit_keys import AuditKeyError
from engine.audit_models import AuditChainHead, AuditCheckpoint, AuditEvent
from engine.cli_audit import audit as audit_cli
from engine.db import brand_session, make_engine, make_sessionmaker
from engine.migrate import alembic_config, upgrade

LEGACY_HEX = "ab" * 32  # a key file of earlier releases: 64 hex characters, used as is


def _pg(db: Any) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _tamper(db: Any, sql: str, **params: Any) -> None:
    """Direct SQL as the database owner would run it, the append-only trigger off."""
    if _pg(db):
        db.execute(text("SET LOCAL session_replication_role = replica"))
    db.execute(text(sql), params)
    if _pg(db):
        db.execute(text("SET LOCAL session_replication_role = origin"))
    db.expire_all()


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A key file of this test's own, in the single-key format of earlier releases (key 1)."""
    monkeypatch.delenv(audit_keys.KEY_ENV, raising=False)
    monkeypatch.delenv(audit_keys.KEYS_ENV, raising=False)
    path = tmp_path / "audit.key"
    path.write_text(LEGACY_HEX + "\n")
    path.chmod(0o600)
    audit_keys.use_key_file(path)
    try:
        yield path
    finally:
        audit_keys.use_key_file(None)


def _brand() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def _events(db: Any, brand: str, n: int, label: str) -> list[AuditEvent]:
    return [audit.record(db, action=f"test.{label}{i}", brand_id=brand, target_type="thing",
                         target_id=i, details={"i": i}) for i in range(n)]


def _write_keys(path: Path, keys: dict[str, bytes]) -> None:
    path.write_text(audit_keys.format_file(keys))
    path.chmod(0o600)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


# --- the keyring ----------------------------------------------------------------------------


def test_rotation_appends_a_key_atomically_and_keeps_the_legacy_key_as_1(key_file):
    assert audit_keys.load().keys == {"1": LEGACY_HEX.encode()}
    assert audit.audit_key() == LEGACY_HEX.encode()
    previous, kid = audit_keys.rotate()
    assert (previous, kid) == ("1", "2")
    ring = audit_keys.load()
    assert list(ring.keys) == ["1", "2"] and ring.current == "2"
    assert ring.keys["1"] == LEGACY_HEX.encode() and len(ring.keys["2"]) == 32
    assert (key_file.stat().st_mode & 0o777) == 0o600
    lines = [ln for ln in key_file.read_text().splitlines() if not ln.startswith("#")]
    assert [ln.split(":")[0] for ln in lines] == ["1", "2"]
    assert audit_keys.rotate() == ("2", "3")
    assert audit.audit_key() == audit_keys.load().keys["3"]
    # nothing left beside it but the lock file of the commands that rewrite it
    assert sorted(p.name for p in key_file.parent.iterdir()) == [".audit.key.lock", "audit.key"]


def test_concurrent_rotations_lose_no_key(key_file):
    results: list[tuple[str, str]] = []
    threads = [threading.Thread(target=lambda: results.append(audit_keys.rotate()))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(kid for _, kid in results) == ["2", "3", "4", "5", "6", "7"]
    ring = audit_keys.load()
    assert list(ring.keys) == ["1", "2", "3", "4", "5", "6", "7"]
    assert ring.keys["1"] == LEGACY_HEX.encode()


@pytest.mark.parametrize("content,message", [
    ("", "empty"),
    ("short\n", "at least 32 characters"),
    (f"1:{_b64(b'k' * 32)}\nbare-line-without-an-id-among-lines-of-ids\n", "line 2"),
    (f"1:{_b64(b'k' * 16)}\n", "at least 32"),
    (f"1:not*base64\n2:{_b64(b'k' * 32)}\n", "not valid base64"),
    (f"1:{_b64(b'k' * 32)}\n1:{_b64(b'j' * 32)}\n", "listed twice"),
    (f"bad id!:{_b64(b'k' * 32)}\n2:{_b64(b'j' * 32)}\n", "key id"),
])
def test_malformed_key_files_are_refused_clearly(key_file, content, message):
    key_file.write_text(content)
    with pytest.raises(AuditKeyError, match=message):
        audit_keys.load()


def test_environment_keys_name_several_with_the_legacy_key_as_1(key_file, monkeypatch):
    k2, k3 = b"2" * 32, b"3" * 40
    monkeypatch.setenv(audit_keys.KEYS_ENV, f"2:{_b64(k2)}, 3:{_b64(k3)}")
    ring = audit_keys.load()
    assert list(ring.keys) == ["2", "3"] and ring.current == "3" and ring.from_env
    monkeypatch.setenv(audit_keys.KEY_ENV, "k" * 40)
    ring = audit_keys.load()
    assert ring.keys == {"1": b"k" * 40, "2": k2, "3": k3} and ring.current == "3"
    monkeypatch.setenv(audit_keys.KEYS_ENV, f"1:{_b64(k2)}")
    with pytest.raises(AuditKeyError, match="given twice"):
        audit_keys.load()
    monkeypatch.setenv(audit_keys.KEYS_ENV, " , ")
    monkeypatch.delenv(audit_keys.KEY_ENV)
    with pytest.raises(AuditKeyError, match="holds no key"):
        audit_keys.load()


def test_rotation_is_refused_when_keys_come_from_the_environment(key_file, monkeypatch):
    monkeypatch.setenv(audit_keys.KEY_ENV, "k" * 40)
    with pytest.raises(AuditKeyError) as info:
        audit_keys.rotate()
    message = str(info.value)
    assert "keep DARAPORT_AUDIT_KEY as it is (it is key 1)" in message
    entry = message.split("set DARAPORT_AUDIT_KEYS=")[1].split(";")[0]
    kid, key = audit_keys._entry(entry, "hint")  # the suggested entry is a valid key 2
    assert kid == "2" and len(key) == 32
    assert key_file.read_text() == LEGACY_HEX + "\n"


# --- rotation and verification --------------------------------------------------------------


def test_rotated_chains_of_two_brands_verify_and_link_at_the_switch(db, key_file):
    brands = [_brand(), _brand()]
    before = {b: _events(db, b, 3, "before") for b in brands}
    previous, kid = audit_keys.rotate_key(db)
    assert (previous, kid) == ("1", "2")
    after = {b: _events(db, b, 3, "after") for b in brands}
    ring = audit_keys.load()
    for b in brands:
        assert {e.key_id for e in before[b]} == {"1"} and {e.key_id for e in after[b]} == {"2"}
        switch = after[b][0]  # the first event the new key signs chains from the old MAC
        assert switch.prev_mac == before[b][-1].mac
        assert switch.mac == audit.compute_mac(ring.keys["2"], switch.prev_mac,
                                               audit.event_content(switch))
        report = audit_chain.verify_chain(db, audit.chain_of(b), batch=2)
        assert report.ok, report.problem
        assert (report.events, report.last_seq) == (6, 6)
    rotation = db.scalar(select(AuditEvent).where(AuditEvent.action == "audit.key_rotate")
                         .order_by(AuditEvent.id.desc()).limit(1))
    assert rotation.chain == "platform" and rotation.key_id == "2"
    assert rotation.target_id == "2" and '"previous_key_id":"1"' in rotation.details
    assert audit_chain.verify_chain(db, "platform").ok


def test_row_tampered_after_rotation_is_named(db, key_file):
    brand = _brand()
    _events(db, brand, 2, "before")
    audit_keys.rotate_key(db)
    after = _events(db, brand, 3, "after")
    _tamper(db, "UPDATE audit_event SET action = 'test.edited' WHERE id = :id", id=after[1].id)
    problem = audit_chain.verify_chain(db, audit.chain_of(brand)).problem
    assert problem is not None
    assert (problem.kind, problem.seq, problem.event_id) == ("altered", 4, after[1].id)


def test_key_id_relabelled_is_caught(db, key_file):
    brand = _brand()
    _events(db, brand, 2, "before")
    audit_keys.rotate_key(db)
    after = _events(db, brand, 2, "after")
    _tamper(db, "UPDATE audit_event SET key_id = '1' WHERE id = :id", id=after[0].id)
    problem = audit_chain.verify_chain(db, audit.chain_of(brand)).problem
    assert problem is not None and (problem.seq, problem.event_id) == (3, after[0].id)


def test_tail_forged_with_the_superseded_key_is_caught(db, key_file):
    """Someone holding the old (leaked) key rewrites the newest event under it."""
    brand = _brand()
    _events(db, brand, 2, "before")
    audit_keys.rotate_key(db)
    after = _events(db, brand, 2, "after")
    last = after[-1]
    content = audit.canonical(last.chain, last.seq, last.occurred_at, last.brand_id, None, None,
                              None, "test.forged", "success", None, None, None, None, None)
    forged = audit.compute_mac(LEGACY_HEX.encode(), last.prev_mac, content)
    _tamper(db, "UPDATE audit_event SET action = 'test.forged', actor_id = NULL, "
                "actor_role = NULL, ip = NULL, target_type = NULL, target_id = NULL, "
                "details = NULL, request_id = NULL, key_id = '1', mac = :mac WHERE id = :id",
            mac=forged, id=last.id)
    _tamper(db, "UPDATE audit_chain_head SET mac = :mac WHERE chain = :c", mac=forged,
            c=last.chain)
    problem = audit_chain.verify_chain(db, last.chain).problem
    assert problem is not None
    assert (problem.kind, problem.seq, problem.event_id) == ("key_order", 4, last.id)
    assert "older than key 2" in problem.message


def test_old_key_missing_from_the_keyring_reports_its_rows(db, key_file):
    brand = _brand()
    _events(db, brand, 3, "before")
    audit_keys.rotate_key(db)
    after = _events(db, brand, 2, "after")
    ring = audit_keys.load()
    _write_keys(key_file, {"2": ring.keys["2"]})  # key 1 lost
    report = audit_chain.verify_chain(db, audit.chain_of(brand))
    assert report.problem is not None and report.problem.kind == "key_missing"
    assert report.unchecked == {"1": 3} and report.events == 5
    assert report.problem.seq == 1
    assert "3 event(s) signed with key 1" in report.problem.message
    # the rows the present key signed are still checked: an edit among them is named
    _tamper(db, "UPDATE audit_event SET action = 'x' WHERE id = :id", id=after[0].id)
    problem = audit_chain.verify_chain(db, audit.chain_of(brand)).problem
    assert problem is not None and (problem.kind, problem.seq) == ("altered", 4)


def test_cli_verify_reports_rows_without_their_key(db, key_file):
    brand = _brand()
    _events(db, brand, 2, "before")
    audit_keys.rotate_key(db)
    _events(db, brand, 1, "after")
    chain = audit.chain_of(brand)
    runner = CliRunner()
    ok = runner.invoke(audit_cli, ["verify", "--chain", chain])
    assert ok.exit_code == 0 and f"ok      {chain}: 3 events" in ok.output, ok.output
    _write_keys(key_file, {"2": audit_keys.load().keys["2"]})
    missing = runner.invoke(audit_cli, ["verify", "--chain", chain])
    assert missing.exit_code == 1, missing.output
    assert f"NO KEY  {chain}: key_missing: 2 event(s) signed with key 1" in missing.output
    assert "not in the audit keyring" in missing.output


def test_old_single_key_events_without_key_id_verify_as_key_1(db, key_file):
    """Rows written before key ids existed (key_id NULL) verify with key 1, next to rows that
    name their key."""
    brand = _brand()
    events = _events(db, brand, 3, "old")
    _tamper(db, "UPDATE audit_event SET key_id = NULL WHERE chain = :c",
            c=audit.chain_of(brand))
    audit_keys.rotate_key(db)
    _events(db, brand, 2, "new")
    report = audit_chain.verify_chain(db, audit.chain_of(brand))
    assert report.ok, report.problem
    assert audit_keys.usage(db).of("1")[0] >= len(events)


# --- checkpoints ----------------------------------------------------------------------------


def test_purge_after_rotation_signs_its_checkpoint_with_the_new_key(db, key_file):
    brand = _brand()
    old = datetime.now(UTC) - timedelta(days=7 * 365)
    for i in range(3):
        audit.record(db, action="test.old", brand_id=brand, occurred_at=old + timedelta(hours=i))
    audit_keys.rotate_key(db)
    audit.record(db, action="test.new", brand_id=brand)
    cutoff = datetime.now(UTC) - timedelta(days=6 * 365 + 10)
    assert audit_chain.purge_expired(db, brand, cutoff, dry_run=False).count == 3
    chain = audit.chain_of(brand)
    checkpoint = db.scalar(select(AuditCheckpoint).where(AuditCheckpoint.chain == chain))
    assert checkpoint.key_id == "2"
    assert audit_chain.verify_chain(db, chain).ok
    # every event key 1 signed on this chain is gone: the chain verifies without key 1
    keys = audit_keys.load().keys
    ring = audit_keys.AuditKeyring({"2": keys["2"]}, "test", False)
    report = audit_chain.verify_chain(db, chain, keyring=ring)
    assert report.ok, report.problem


def test_checkpoint_whose_key_is_missing_is_reported(db, key_file):
    brand = _brand()
    old = datetime.now(UTC) - timedelta(days=7 * 365)
    for i in range(2):
        audit.record(db, action="test.old", brand_id=brand, occurred_at=old + timedelta(hours=i))
    audit.record(db, action="test.new", brand_id=brand)
    audit_chain.purge_expired(db, brand, datetime.now(UTC) - timedelta(days=6 * 365 + 10),
                              dry_run=False)
    audit_keys.rotate_key(db)
    audit.record(db, action="test.newer", brand_id=brand)
    keys = audit_keys.load().keys
    report = audit_chain.verify_chain(db, audit.chain_of(brand),
                                      keyring=audit_keys.AuditKeyring({"2": keys["2"]}, "t",
                                                                      False))
    assert report.problem is not None and report.problem.kind == "key_missing"
    assert "the retention checkpoint signed with key 1" in report.problem.message
    assert report.unchecked == {"1": 2}  # test.new and the purge's own event


# --- retirement -----------------------------------------------------------------------------


def test_retire_refuses_a_used_key_the_current_key_and_an_unknown_id(db, key_file):
    _events(db, _brand(), 2, "x")  # key 1 signs them
    audit_keys.rotate_key(db)
    with pytest.raises(AuditKeyError, match=r"key 1 still signs \d+ event\(s\)"):
        audit_keys.retire_key(db, "1")
    with pytest.raises(AuditKeyError, match="current audit key"):
        audit_keys.retire_key(db, "2")
    with pytest.raises(AuditKeyError, match="not in the audit keyring"):
        audit_keys.retire_key(db, "9")
    assert list(audit_keys.load().keys) == ["1", "2"]


def test_retire_refuses_a_key_only_a_checkpoint_uses(db, key_file):
    keys = {"1": LEGACY_HEX.encode(), "7": b"7" * 32, "8": b"8" * 32}
    _write_keys(key_file, keys)
    db.add(AuditCheckpoint(chain=f"brand:{_brand()}", anchor_seq=1, anchor_mac="f" * 64,
                           purged=1, created_at=clock.now(), mac="0" * 64, key_id="7"))
    db.flush()
    with pytest.raises(AuditKeyError, match=r"0 event\(s\) and 1 retention checkpoint"):
        audit_keys.retire_key(db, "7")


def test_retire_removes_an_unused_key_and_records_it(db, key_file):
    keys = {"1": LEGACY_HEX.encode(), "5": b"5" * 32, "6": b"6" * 32}
    _write_keys(key_file, keys)
    brand = _brand()
    _events(db, brand, 2, "x")  # signed with 6
    audit_keys.retire_key(db, "5")
    assert list(audit_keys.load().keys) == ["1", "6"]
    assert (key_file.stat().st_mode & 0o777) == 0o600
    retired = db.scalar(select(AuditEvent).where(AuditEvent.action == "audit.key_retire")
                        .order_by(AuditEvent.id.desc()).limit(1))
    assert retired.target_id == "5" and retired.key_id == "6"
    assert audit_chain.verify_chain(db, audit.chain_of(brand)).ok


def test_retire_with_environment_keys_says_what_to_unset(db, key_file, monkeypatch):
    monkeypatch.setenv(audit_keys.KEY_ENV, "k" * 40)
    monkeypatch.setenv(audit_keys.KEYS_ENV, f"2:{_b64(b'2' * 32)}")
    used = db.scalar(select(func.count()).select_from(AuditEvent).where(
        (AuditEvent.key_id == "1") | AuditEvent.key_id.is_(None)))
    if used:
        pytest.skip("events signed with key 1 exist in this database")
    with pytest.raises(AuditKeyError, match="unset DARAPORT_AUDIT_KEY"):
        audit_keys.retire_key(db, "1")


# --- CLI ------------------------------------------------------------------------------------


def test_cli_keys_status_rotate_and_retire(db, key_file):
    runner = CliRunner()
    brand = _brand()
    _events(db, brand, 2, "x")
    before = audit_keys.usage(db)
    status = runner.invoke(audit_cli, ["keys", "status"])
    assert status.exit_code == 0, status.output
    assert f"audit keys: {key_file}" in status.output
    assert f"key 1 (current): {before.of('1')[0]} event(s), 0 checkpoint(s)" in status.output
    rotated = runner.invoke(audit_cli, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert "key 2 signs new events" in rotated.output
    _events(db, brand, 1, "y")
    status = runner.invoke(audit_cli, ["keys", "status"])
    assert f"key 1: {before.of('1')[0]} event(s)" in status.output
    assert "key 2 (current): 2 event(s), 0 checkpoint(s)" in status.output  # rotation + y0
    refused = runner.invoke(audit_cli, ["keys", "retire", "1"])
    assert refused.exit_code == 1 and "still signs" in refused.output
    assert runner.invoke(audit_cli, ["verify", "--chain", audit.chain_of(brand)]).exit_code == 0
    # a key id the events name but the keyring lacks is shown
    _write_keys(key_file, {"2": audit_keys.load().keys["2"]})
    status = runner.invoke(audit_cli, ["keys", "status"])
    assert status.exit_code == 0 and "key 1 (NOT IN KEYRING)" in status.output


@pytest.mark.parametrize("args,code,message", [
    (["keys", "retire"], 2, "Missing argument 'ID'"),
    (["keys", "retire", "9"], 1, "not in the audit keyring"),
    (["keys", "retire", "1"], 1, "current audit key"),
    (["keys", "rotate", "3"], 2, "unexpected extra argument"),
    (["keys", "status", "--all"], 2, "No such option"),
    (["keys", "frobnicate"], 2, "No such command"),
])
def test_cli_keys_bad_arguments(db, key_file, args, code, message):
    result = CliRunner().invoke(audit_cli, args)
    assert result.exit_code == code and message in result.output, result.output


def test_cli_rotate_with_environment_keys_says_what_to_set(db, key_file, monkeypatch):
    monkeypatch.setenv(audit_keys.KEYS_ENV, f"1:{_b64(b'1' * 32)}")
    result = CliRunner().invoke(audit_cli, ["keys", "rotate"])
    assert result.exit_code == 1
    assert "come from the environment (DARAPORT_AUDIT_KEYS): nothing was changed" \
        in result.output
    assert "append ,2:" in result.output and "to DARAPORT_AUDIT_KEYS" in result.output


def test_cli_malformed_key_file_is_a_clear_error(db, key_file):
    key_file.write_text("x\n")
    for args in (["keys", "status"], ["verify"]):
        result = CliRunner().invoke(audit_cli, args)
        assert result.exit_code == 1 and "at least 32 characters" in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


# --- an old single-key deployment, migrated -------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("DATABASE_URL does not name PostgreSQL")
    name = f"daraport_auditkeys_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_single_key_deployment_migrates_and_verifies_unchanged(fresh_url, monkeypatch):
    """Events written by the single-key release (no key_id column), then migration 0022: they
    verify with DARAPORT_AUDIT_KEY as key 1; new events name key 1; adding key 2 beside it in
    DARAPORT_AUDIT_KEYS rotates; the trigger still refuses UPDATE, the new column included."""
    legacy = "s" * 40
    monkeypatch.delenv(audit_keys.KEYS_ENV, raising=False)
    monkeypatch.setenv(audit_keys.KEY_ENV, legacy)
    script = ScriptDirectory.from_config(alembic_config(fresh_url))
    upgrade(fresh_url, script.get_revision("0022_audit_key_ids").down_revision)
    engine = make_engine(fresh_url)
    chain, prev = "brand:old-clinic", audit.GENESIS_MAC
    old_columns = [c for c in AuditEvent.__table__.c if c.name not in ("id", "key_id")]
    try:
        with engine.begin() as conn:
            for seq in (1, 2, 3):
                at = datetime(2025, 1, seq, 9, tzinfo=UTC)
                content = audit.canonical(chain, seq, at, "old-clinic", 7, "patient", None,
                                          "auth.signin", "success", None, None, None, None,
                                          None)
                mac = audit.compute_mac(legacy.encode(), prev, content)
                row = dict(chain=chain, seq=seq, occurred_at=at, brand_id="old-clinic",
                           actor_id=7, actor_role="patient", ip=None, action="auth.signin",
                           outcome="success", target_type=None, target_id=None,
                           patient_id=None, request_id=None, details=None, prev_mac=prev,
                           mac=mac)
                conn.execute(insert(AuditEvent.__table__).values(
                    {c.name: row[c.name] for c in old_columns}))
                prev = mac
            conn.execute(insert(AuditChainHead.__table__).values(chain=chain, seq=3, mac=prev))
        upgrade(fresh_url)
        with brand_session(make_sessionmaker(engine), None) as s:
            assert s.scalars(select(AuditEvent.key_id)).all() == [None, None, None]
            report = audit_chain.verify_chain(s, chain)
            assert report.ok and report.events == 3, report.problem
            new = audit.record(s, action="test.after_upgrade", brand_id="old-clinic")
            assert new.key_id == "1" and new.prev_mac == prev
            monkeypatch.setenv(audit_keys.KEYS_ENV, f"2:{_b64(b'n' * 32)}")
            rotated = audit.record(s, action="test.after_rotation", brand_id="old-clinic")
            assert rotated.key_id == "2"
            s.commit()
            report = audit_chain.verify_chain(s, chain)
            assert report.ok and report.events == 5, report.problem
            if engine.dialect.name == "postgresql":
                for sql in ("UPDATE audit_event SET key_id = '2' WHERE seq = 1",
                            "DELETE FROM audit_event WHERE seq = 1"):
                    with pytest.raises(DBAPIError, match="append-only"):
                        with s.begin_nested():
                            s.execute(text(sql))
    finally:
        engine.dispose()
