"""Audit chain: verification names the exact event edited, deleted or inserted; the PostgreSQL
trigger refuses UPDATE, DELETE and TRUNCATE; retention purges a prefix behind a checkpoint;
concurrent appends keep one chain."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from engine import audit, audit_chain, clock
from engine.audit_models import AuditCheckpoint, AuditEvent
from engine.cli_audit import audit as audit_cli
from engine.db import brand_session, make_engine, make_sessionmaker


def _pg(db: Any) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _tamper(db: Any, sql: str, **params: Any) -> None:
    """Direct SQL as the database owner would run it, the trigger off (PostgreSQL: a superuser's
    ``session_replication_role = replica`` skips ordinary triggers)."""
    if _pg(db):
        db.execute(text("SET LOCAL session_replication_role = replica"))
    db.execute(text(sql), params)
    if _pg(db):
        db.execute(text("SET LOCAL session_replication_role = origin"))
    db.expire_all()


def _chain(db: Any, n: int = 6) -> tuple[str, list[AuditEvent]]:
    brand = f"t-{uuid.uuid4().hex[:10]}"
    events = [audit.record(db, action=f"test.step{i}", brand_id=brand, target_type="thing",
                           target_id=i, details={"i": i}) for i in range(1, n + 1)]
    return audit.chain_of(brand), events


def test_untouched_chain_verifies(db):
    chain, events = _chain(db)
    report = audit_chain.verify_chain(db, chain, batch=2)  # several batches
    assert report.ok, report.problem
    assert (report.events, report.first_seq, report.last_seq) == (6, 1, 6)


@pytest.mark.parametrize("column,value", [
    ("action", "test.other"), ("actor_id", 999), ("outcome", "failure"),
    ("details", '{"i":99}'), ("patient_id", 5), ("ip", "10.0.0.1"),
])
def test_edited_row_is_named(db, column, value):
    chain, events = _chain(db)
    _tamper(db, f"UPDATE audit_event SET {column} = :v WHERE id = :id", v=value,
            id=events[3].id)
    problem = audit_chain.verify_chain(db, chain).problem
    assert problem is not None
    assert (problem.kind, problem.seq, problem.event_id) == ("altered", 4, events[3].id)


def test_edited_time_is_named(db):
    chain, events = _chain(db)
    _tamper(db, "UPDATE audit_event SET occurred_at = :t WHERE id = :id",
            t=events[1].occurred_at - timedelta(seconds=1), id=events[1].id)
    problem = audit_chain.verify_chain(db, chain).problem
    assert problem is not None and (problem.kind, problem.seq) == ("altered", 2)


def test_deleted_row_is_named(db):
    chain, events = _chain(db)
    _tamper(db, "DELETE FROM audit_event WHERE id = :id", id=events[2].id)
    problem = audit_chain.verify_chain(db, chain).problem
    assert problem is not None
    assert (problem.kind, problem.seq, problem.event_id) == ("removed", 4, events[3].id)
    assert "expected #3" in problem.message


def test_deleted_tail_is_noticed(db):
    chain, events = _chain(db)
    _tamper(db, "DELETE FROM audit_event WHERE id = :id", id=events[-1].id)
    problem = audit_chain.verify_chain(db, chain).problem
    assert problem is not None and (problem.kind, problem.seq) == ("removed", 6)


def _forge(db: Any, chain: str, seq: int, prev_mac: str) -> None:
    """Insert a plausible event at ``seq`` with a MAC made without the key."""
    _tamper(db, "INSERT INTO audit_event (chain, seq, occurred_at, brand_id, action, outcome, "
                "prev_mac, mac) VALUES (:chain, :seq, :at, NULL, 'test.forged', 'success', "
                ":prev, :mac)",
            chain=chain, seq=seq, at=clock.now(), prev=prev_mac,
            mac=audit.compute_mac(b"not the key", prev_mac, b"x"))


def test_inserted_row_in_the_middle_is_named(db):
    chain, events = _chain(db)
    # make room after #3: renumber #4..#6 to #5..#7 (two steps: (chain, seq) is unique)
    _tamper(db, "UPDATE audit_event SET seq = seq + 1000 WHERE chain = :c AND seq >= 4", c=chain)
    _tamper(db, "UPDATE audit_event SET seq = seq - 999 WHERE chain = :c AND seq >= 1000",
            c=chain)
    _forge(db, chain, 4, events[2].mac)
    forged = db.scalar(select(AuditEvent).where(AuditEvent.chain == chain,
                                                AuditEvent.action == "test.forged"))
    problem = audit_chain.verify_chain(db, chain).problem
    assert problem is not None
    assert (problem.kind, problem.seq, problem.event_id) == ("inserted", 4, forged.id)


def test_appended_forgery_is_named(db):
    chain, events = _chain(db)
    _forge(db, chain, 7, events[-1].mac)
    problem = audit_chain.verify_chain(db, chain).problem
    assert problem is not None and problem.seq == 7 and problem.kind == "altered"


def test_cli_verify_exit_status_and_message(db):
    chain, events = _chain(db)
    runner = CliRunner()
    ok = runner.invoke(audit_cli, ["verify", "--chain", chain])
    assert ok.exit_code == 0, ok.output
    assert f"ok      {chain}: 6 events" in ok.output
    listed = runner.invoke(audit_cli, ["list", "--brand", chain.split(":", 1)[1],
                                       "--action", "test.step"])
    assert listed.exit_code == 0 and listed.output.count("test.step") == 6
    _tamper(db, "UPDATE audit_event SET action = 'x' WHERE id = :id", id=events[4].id)
    bad = runner.invoke(audit_cli, ["verify", "--chain", chain])
    assert bad.exit_code == 1
    assert f"BROKEN  {chain}: altered: event #5 (id {events[4].id}) was altered" in bad.output


def test_wrong_key_fails_from_the_first_event(db):
    chain, _ = _chain(db)
    problem = audit_chain.verify_chain(db, chain, key=b"k" * 32).problem
    assert problem is not None and problem.seq == 1


# --- PostgreSQL trigger ---------------------------------------------------------------------


@pytest.mark.parametrize("sql", [
    "UPDATE audit_event SET action = 'x' WHERE id = :id",
    "DELETE FROM audit_event WHERE id = :id",
    "TRUNCATE audit_event",
])
def test_trigger_refuses_changes(db, sql):
    if not _pg(db):
        pytest.skip("the append-only trigger is PostgreSQL's")
    _, events = _chain(db, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        with db.begin_nested():
            db.execute(text(sql), {"id": events[0].id})
    assert db.get(AuditEvent, events[0].id) is not None


def test_trigger_retention_switch_only_opens_old_rows(db):
    if not _pg(db):
        pytest.skip("the append-only trigger is PostgreSQL's")
    _, events = _chain(db, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        with db.begin_nested():
            db.execute(text("SET LOCAL daraport.audit_retention = 'on'"))
            db.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": events[0].id})


# --- retention ------------------------------------------------------------------------------


def test_purge_cuts_a_prefix_behind_a_checkpoint(db):
    brand = f"t-{uuid.uuid4().hex[:10]}"
    old = datetime.now(UTC) - timedelta(days=7 * 365)
    for i in range(4):
        audit.record(db, action="test.old", brand_id=brand, occurred_at=old + timedelta(hours=i))
    audit.record(db, action="test.new", brand_id=brand)
    chain = audit.chain_of(brand)
    with pytest.raises(ValueError, match="six years"):
        audit_chain.purge_expired(db, brand, datetime.now(UTC) - timedelta(days=365),
                                  dry_run=True)
    cutoff = datetime.now(UTC) - timedelta(days=6 * 365 + 10)
    dry = audit_chain.purge_expired(db, brand, cutoff, dry_run=True)
    assert (dry.count, dry.through_seq) == (4, 4)
    assert db.scalar(select(AuditCheckpoint).where(AuditCheckpoint.chain == chain)) is None
    real = audit_chain.purge_expired(db, brand, cutoff, dry_run=False)
    assert real.count == dry.count == 4
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.chain == chain)
                         .order_by(AuditEvent.seq)).all()
    assert actions == ["test.new", "audit.retention_purge"]
    report = audit_chain.verify_chain(db, chain)
    assert report.ok, report.problem
    assert report.first_seq == 5
    again = audit_chain.purge_expired(db, brand, cutoff, dry_run=False)
    assert again.count == 0
    assert db.scalars(select(AuditEvent.action).where(AuditEvent.chain == chain)).all() \
        == actions  # idempotent: nothing recorded either


def test_forged_checkpoint_is_reported(db):
    brand = f"t-{uuid.uuid4().hex[:10]}"
    audit.record(db, action="test.a", brand_id=brand)
    chain = audit.chain_of(brand)
    db.add(AuditCheckpoint(chain=chain, anchor_seq=1, anchor_mac="f" * 64, purged=1,
                           created_at=clock.now(), mac="0" * 64))
    db.flush()
    problem = audit_chain.verify_chain(db, chain).problem
    assert problem is not None and problem.kind == "checkpoint"


# --- concurrency ----------------------------------------------------------------------------


def test_concurrent_appends_keep_one_chain(live_db_engine):
    """Threads, each its own connection and transaction, append to one chain at once."""
    url = live_db_engine.url.render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=10)
    factory = make_sessionmaker(engine)
    brand = f"t-{uuid.uuid4().hex[:10]}"
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(15):
                with brand_session(factory, None) as s:
                    audit.record(s, action="test.concurrent", brand_id=brand,
                                 details={"thread": n, "i": i})
                    s.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        with brand_session(factory, None) as s:
            report = audit_chain.verify_chain(s, audit.chain_of(brand))
        assert report.ok, report.problem
        assert (report.events, report.last_seq) == (120, 120)
    finally:
        engine.dispose()


def test_cli_purge_refuses_the_floor_and_reports_a_dry_run(db):
    brand = f"t-{uuid.uuid4().hex[:10]}"
    old = datetime.now(UTC) - timedelta(days=7 * 365)
    for i in range(3):
        audit.record(db, action="test.old", brand_id=brand, occurred_at=old + timedelta(hours=i))
    runner = CliRunner()
    recent = runner.invoke(audit_cli, ["purge", "--brand", brand, "--before", "2026-01-01"])
    assert recent.exit_code != 0 and "six years" in recent.output
    cutoff = (datetime.now(UTC) - timedelta(days=6 * 365 + 30)).date().isoformat()
    dry = runner.invoke(audit_cli, ["purge", "--brand", brand, "--before", cutoff, "--dry-run"])
    assert dry.exit_code == 0 and "would delete 3 event(s) through #3" in dry.output
    assert len(db.scalars(select(AuditEvent).where(
        AuditEvent.chain == audit.chain_of(brand))).all()) == 3
