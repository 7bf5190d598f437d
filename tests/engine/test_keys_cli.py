"""`cli.py keys`: generate, status, rotate (batched, resumable, audited), retire (refused while a
key is in use); and migration 0016 encrypting existing plaintext rows and back."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine import crypto, crypto_keys
from engine.audit_models import AuditEvent
from engine.cli import main
from engine.crypto import Keyring
from engine.db import brand_session, make_engine, make_sessionmaker
from engine.migrate import downgrade, upgrade
from engine.platform import Platform
from modules.assisted.models import AssistanceRequest
from modules.booking.models_intake import IntakeAnswers
from tests.conftest import _test_database
from tests.engine.test_crypto import add_health_data
from tests.modules.booking.conftest import with_booking

EXTRA_REQUESTS = 9  # with the one of add_health_data: 10 needs, 1 intake row


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A key file of this test's own (DARAPORT_KEY_FILE), with one key."""
    path = tmp_path / "keys" / "keyring.json"
    crypto.write_key_file(path, Keyring.generate(str(path)))
    monkeypatch.delenv("DARAPORT_KEYRING", raising=False)
    monkeypatch.setenv("DARAPORT_KEY_FILE", str(path))
    crypto.use_keyring(None)
    yield path
    crypto.use_keyring(None)


@pytest.fixture
def health_rows(db: Session, platform: Platform, key_file: Path) -> dict[int, str]:
    """Health data under the key file's first key: {request id: needs}, plus one intake row."""
    acme = with_booking(platform.brands["acme-clinic"].loaded.config)
    _, first = add_health_data(db, acme)
    expected = {first.id: first.needs}
    for n in range(EXTRA_REQUESTS):
        row = AssistanceRequest(brand_id=acme.slug, patient_id=first.patient_id,
                                submitted_by_id=first.patient_id,
                                needs=f"request {n}: grief counselling after a loss",
                                time_windows=[], timezone="Europe/Madrid")
        db.add(row)
        db.flush()
        expected[row.id] = row.needs
    db.commit()
    return expected


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["keys", *args], catch_exceptions=False)


def in_use(db: Session) -> dict[str, dict[str, int]]:
    """The status of the columns and file stores that hold anything (other areas register
    theirs too; this test's rows are the only ones in its transaction)."""
    return {name: counts for name, counts in crypto_keys.status(db).items() if counts}


def readable(db: Session, expected: dict[int, str]) -> None:
    db.expunge_all()
    got = {r.id: r.needs for r in db.scalars(select(AssistanceRequest).where(
        AssistanceRequest.id.in_(expected)))}
    assert got == expected
    intake = db.scalars(select(IntakeAnswers)).all()
    assert [row.answers[0]["values"] for row in intake] == [
        ["night terrors since the accident qx81"]]


def test_generate_adds_a_key_that_is_not_primary(db: Session, key_file: Path) -> None:
    before = json.loads(key_file.read_text())
    result = run("generate")
    assert result.exit_code == 0, result.output
    kid = re.search(r"generated key ([0-9a-f]{8})", result.output).group(1)  # type: ignore
    after = json.loads(key_file.read_text())
    assert set(after["keys"]) == {*before["keys"], kid}
    assert after["primary"] == before["primary"] != kid
    assert after["index_key"] == before["index_key"]
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert db.scalar(select(AuditEvent.target_id).where(
        AuditEvent.action == "keys.generate").order_by(AuditEvent.id.desc())) == kid


def test_rotation_leaves_every_row_on_the_new_key_and_the_data_readable(
        db: Session, health_rows: dict[int, str], key_file: Path) -> None:
    old = crypto.keyring().primary
    assert in_use(db) == {"assisted_request.needs": {old: 10},
                                      "booking_intake_answers.answers": {old: 1}}
    kid = re.search(r"generated key (\w+)", run("generate").output).group(1)  # type: ignore
    result = run("rotate", kid, "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert f"11 rows re-encrypted under {kid}" in result.output
    assert json.loads(key_file.read_text())["primary"] == kid
    assert in_use(db) == {"assisted_request.needs": {kid: 10},
                                      "booking_intake_answers.answers": {kid: 1}}
    raw = db.scalars(text("SELECT needs FROM assisted_request")).all()
    assert raw and all(t.startswith(f"dp1:{kid}:") for t in raw)
    readable(db, health_rows)
    status = run("status").output
    assert f"assisted_request.needs: {kid}: 10" in status and f"key {kid} (primary)" in status
    assert "files:messaging_attachment: no files" in status
    # the run is recorded, and in the audit log (no health data in it)
    run_row = db.scalar(select(crypto_keys.KeyRotation).order_by(
        crypto_keys.KeyRotation.id.desc()))
    assert run_row is not None and run_row.finished_at is not None and run_row.rows_done == 11
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "keys.rotate")
                      .order_by(AuditEvent.id.desc()))
    assert event is not None and event.target_id == kid
    assert "grief" not in json.dumps(event.details)
    # a second run finds nothing to do
    assert "0 rows re-encrypted" in run("rotate").output


class Interrupted(Exception):
    pass


def test_an_interrupted_rotation_resumes_where_it_stopped(
        db: Session, health_rows: dict[int, str], platform: Platform) -> None:
    old = crypto.keyring().primary
    kid = crypto_keys.generate_key()
    crypto_keys.make_primary(kid)

    def stop_after_two_batches(rows: int) -> None:
        if rows >= 4:
            raise Interrupted

    with pytest.raises(Interrupted):
        crypto_keys.rotate(platform.runtime.sessions, batch_size=2,
                           after_batch=stop_after_two_batches)
    assert in_use(db)["assisted_request.needs"] == {kid: 4, old: 6}
    unfinished = db.scalar(select(crypto_keys.KeyRotation).where(
        crypto_keys.KeyRotation.finished_at.is_(None)))
    assert unfinished is not None and unfinished.rows_done == 4
    readable(db, health_rows)  # half rotated: every row still reads

    result = crypto_keys.rotate(platform.runtime.sessions, batch_size=2)
    assert result.resumed and result.rows == 7  # the 6 left of 10 needs and the intake row
    assert in_use(db) == {"assisted_request.needs": {kid: 10},
                                      "booking_intake_answers.answers": {kid: 1}}
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(crypto_keys.KeyRotation).where(
        crypto_keys.KeyRotation.target_kid == kid)) == 1
    done = db.get(crypto_keys.KeyRotation, unfinished.id)
    assert done is not None and done.rows_done == 11 and done.finished_at is not None
    readable(db, health_rows)


def test_retire_is_refused_while_a_key_is_in_use_then_allowed(
        db: Session, health_rows: dict[int, str], key_file: Path) -> None:
    old = crypto.keyring().primary
    refused = run("retire", old)
    assert refused.exit_code == 1 and "is the primary key" in refused.output
    kid = crypto_keys.generate_key()
    crypto_keys.make_primary(kid)  # primary, but the rows are not rotated yet
    refused = run("retire", old)
    assert refused.exit_code == 1
    assert "still used by 10 in assisted_request.needs, 1 in booking_intake_answers" \
        in refused.output
    assert old in json.loads(key_file.read_text())["keys"]
    assert run("rotate").exit_code == 0
    done = run("retire", old)
    assert done.exit_code == 0, done.output
    assert set(json.loads(key_file.read_text())["keys"]) == {kid}
    readable(db, health_rows)
    assert db.scalar(select(AuditEvent.target_id).where(
        AuditEvent.action == "keys.retire").order_by(AuditEvent.id.desc())) == old
    unknown = run("retire", "deadbeef")
    assert unknown.exit_code == 1 and "not in the keyring" in unknown.output


def test_retire_is_refused_while_sealed_files_use_the_key(
        db: Session, key_file: Path) -> None:
    old = crypto.keyring().primary
    kid = crypto_keys.generate_key()
    crypto_keys.make_primary(kid)
    crypto.register_blob_store("test-files", lambda session: {old: 2})
    try:
        refused = run("retire", old)
        assert refused.exit_code == 1 and "2 in files:test-files" in refused.output
    finally:
        crypto.BLOB_STORES.pop("test-files")


def test_a_missing_or_wrong_keyring_is_a_clear_error(
        db: Session, health_rows: dict[int, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DARAPORT_KEY_FILE", str(tmp_path / "nowhere.json"))
    result = run("status")
    assert result.exit_code == 1 and "nowhere.json does not exist" in result.output
    # a keyring without the key the rows were written with: rotation stops, names the key
    monkeypatch.delenv("DARAPORT_KEY_FILE")
    monkeypatch.setenv("DARAPORT_KEYRING", Keyring.generate().to_json())
    result = run("rotate")
    assert result.exit_code == 1 and "is not in the keyring (DARAPORT_KEYRING)" in result.output
    result = run("generate")
    assert result.exit_code == 1 and "comes from DARAPORT_KEYRING" in result.output


def test_migration_0016_encrypts_existing_plaintext_and_downgrade_restores_it(
        tmp_path_factory: pytest.TempPathFactory, platform: Platform, key_file: Path) -> None:
    acme = with_booking(platform.brands["acme-clinic"].loaded.config)
    for url in _test_database(tmp_path_factory, "_crypto_migration"):
        upgrade(url)
        engine = make_engine(url)
        with brand_session(make_sessionmaker(engine), None) as session:
            answers, request = add_health_data(session, acme)
            session.commit()
            ids = answers.id, request.id
        engine.dispose()
        downgrade(url, "0015_payments_stripe")
        engine = make_engine(url)
        with engine.connect() as conn:
            needs = conn.execute(text("SELECT needs FROM assisted_request")).scalar_one()
            answers_raw = conn.execute(text(
                "SELECT answers FROM booking_intake_answers")).scalar_one()
        engine.dispose()
        assert needs == "help with bipolar medication review zr52"
        plain = answers_raw if isinstance(answers_raw, list) else json.loads(answers_raw)
        assert plain[0]["values"] == ["night terrors since the accident qx81"]
        upgrade(url)
        engine = make_engine(url)
        with engine.connect() as conn:
            token = conn.execute(text("SELECT needs FROM assisted_request")).scalar_one()
        assert token.startswith(f"dp1:{crypto.keyring().primary}:")
        with Session(engine) as session:
            assert session.get(AssistanceRequest, ids[1]).needs == needs  # type: ignore
            assert session.get(IntakeAnswers, ids[0]).answers == plain  # type: ignore
        engine.dispose()


def test_rotation_reseals_registered_files_and_then_their_old_key_retires(
        db: Session, key_file: Path, tmp_path: Path) -> None:
    old = crypto.keyring().primary
    store = tmp_path / "files"
    store.mkdir()
    for n in range(3):
        (store / f"f{n}").write_bytes(crypto.seal_bytes(f"scan {n}".encode(), f"test:f{n}"))

    def by_key(session: Session) -> dict[str, int]:
        counts: dict[str, int] = {}
        for path in store.iterdir():
            kid = crypto.blob_key_id(path.read_bytes())
            counts[kid] = counts.get(kid, 0) + 1
        return counts

    def reseal(session: Session, batch_size: int) -> int:
        done = 0
        for path in sorted(store.iterdir()):
            blob = path.read_bytes()
            fresh = crypto.reseal_bytes(blob, f"test:{path.name}")
            if fresh is not blob:
                path.write_bytes(fresh)
                done += 1
        return done

    crypto.register_blob_store("test-files", by_key, reseal)
    try:
        kid = crypto_keys.generate_key()
        assert in_use(db) == {"files:test-files": {old: 3}}
        result = run("rotate", kid)
        assert result.exit_code == 0 and "3 files re-sealed" in result.output, result.output
        assert in_use(db) == {"files:test-files": {kid: 3}}
        assert [crypto.open_bytes((store / f"f{n}").read_bytes(), f"test:f{n}")
                for n in range(3)] == [b"scan 0", b"scan 1", b"scan 2"]
        assert run("retire", old).exit_code == 0
    finally:
        crypto.BLOB_STORES.pop("test-files")
        crypto.BLOB_RESEALERS.pop("test-files")
