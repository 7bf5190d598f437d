"""Field encryption at rest: no plaintext in a raw dump of the database, ciphertexts bound to
their row and column, tampering detected, keyring errors clear, files sealed, blind indexes."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from engine import clock, crypto
from engine.config import BrandConfig
from engine.crypto import DecryptError, Keyring, KeyringError
from engine.db import brand_session, make_engine, make_sessionmaker
from engine.identity import services as identity
from engine.migrate import upgrade
from engine.platform import Platform
from modules.assisted.models import AssistanceRequest
from modules.booking import calendar
from modules.booking import services as booking
from modules.booking.models_intake import IntakeAnswers
from modules.booking.schemas import WeeklyRangeInput
from tests.conftest import PASSWORD, _test_database, unique_email
from tests.modules.booking.conftest import FIRST_VISIT, variant, with_booking

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday
MONDAY_9_MADRID = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ANSWER = "night terrors since the accident qx81"  # text no other column holds by chance
NEEDS = "help with bipolar medication review zr52"
# in person: a video visit would need the telehealth consent first, beside the point here
IN_PERSON = variant(FIRST_VISIT, modality="in_person", location="Calle Mayor 1, Madrid")


@dataclass
class Stored:
    engine: Engine
    url: str
    intake_id: int
    request_id: int


def add_health_data(session: Session, acme: BrandConfig, answer: str = ANSWER,
                    needs: str = NEEDS) -> tuple[IntakeAnswers, AssistanceRequest]:
    """A booked appointment with intake answers, and an assistance request: real services."""
    specialist = identity.create_user(session, acme, role="specialist", name="Dr Vega",
                                      email=unique_email("spec"), password=PASSWORD)
    patient = identity.create_user(session, acme, role="patient", name="Ana Ruiz",
                                   email=unique_email("pat"), password=PASSWORD)
    calendar.set_calendar_zone(session, specialist, acme, "Europe/Madrid")
    calendar.set_weekly_rules(session, specialist, acme,
                              [WeeklyRangeInput(weekday=0, start_minute=540, end_minute=1020)])
    kind = calendar.save_appointment_type(session, specialist, acme, IN_PERSON)
    session.flush()
    with clock.freeze(NOW):
        appointment = booking.book(session, patient, acme, specialist.id, kind.id,
                                   MONDAY_9_MADRID)
    answers = IntakeAnswers(brand_id=acme.slug, appointment_id=appointment.id,
                            source="intake_form", form_key="first",
                            answers=[{"key": "why", "label": "Why?", "values": [answer]}])
    request = AssistanceRequest(brand_id=acme.slug, patient_id=patient.id,
                                submitted_by_id=patient.id, needs=needs,
                                time_windows=["0:morning"], timezone="Europe/Madrid")
    session.add_all([answers, request])
    session.flush()
    return answers, request


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, platform: Platform) -> Iterator[Stored]:
    """A database of its own where health data is committed for real (a raw dump reads it)."""
    for url in _test_database(tmp_path_factory, "_crypto"):
        upgrade(url)
        engine = make_engine(url)
        acme = with_booking(platform.brands["acme-clinic"].loaded.config)
        with brand_session(make_sessionmaker(engine), None) as session:
            answers, request = add_health_data(session, acme)
            session.commit()
            ids = answers.id, request.id
        engine.dispose()  # SQLite: everything on disk; PostgreSQL: no open transaction
        reader = make_engine(url)
        yield Stored(reader, url, *ids)
        reader.dispose()


def raw_dump(url: str) -> bytes:
    """The database as an attacker with a copy of it would read it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return b"".join(Path(p).read_bytes() for p in (parsed.database or "",
                                                        f"{parsed.database}-wal")
                        if Path(p).exists())
    if shutil.which("pg_dump") or Path("/usr/bin/pg_dump").exists():
        env = {**os.environ, "PGPASSWORD": parsed.password or ""}
        return subprocess.run(
            ["/usr/bin/pg_dump", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
             "-U", parsed.username or "postgres", "--data-only", parsed.database or ""],
            check=True, capture_output=True, env=env).stdout
    engine = make_engine(url)  # no pg_dump: every row of every table, as text
    with engine.connect() as conn:
        names = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
        out = b"".join(str(list(conn.execute(text(f'SELECT * FROM "{n}"')))).encode()
                       for n in names)
    engine.dispose()
    return out


def test_a_raw_dump_of_the_database_holds_no_plaintext_health_data(stored: Stored) -> None:
    dump = raw_dump(stored.url)
    assert b"Ana Ruiz" in dump  # the dump is real: unencrypted columns are in it
    for secret in (ANSWER, NEEDS, "night terrors", "bipolar"):
        assert secret.encode() not in dump
        assert secret.encode("utf-16-le") not in dump
    assert dump.count(b"dp1:") >= 2
    # and the application reads them back through its models
    with Session(stored.engine) as session:
        intake = session.get(IntakeAnswers, stored.intake_id)
        request = session.get(AssistanceRequest, stored.request_id)
        assert intake is not None and intake.answers[0]["values"] == [ANSWER]
        assert request is not None and request.needs == NEEDS


def test_a_ciphertext_swapped_into_another_row_does_not_decrypt(
        db: Session, platform: Platform) -> None:
    acme = with_booking(platform.brands["acme-clinic"].loaded.config)
    first, req_a = add_health_data(db, acme, "first answer", "needs of A, long enough")
    second, req_b = add_health_data(db, acme, "second answer", "needs of B, long enough")
    db.execute(text("UPDATE assisted_request SET needs = :t WHERE id = :i"),
               {"t": req_a.needs_sealed, "i": req_b.id})
    db.execute(text("UPDATE booking_intake_answers SET answers = :t WHERE id = :i"),
               {"t": first.answers_sealed, "i": second.id})
    db.expire_all()
    with pytest.raises(DecryptError, match="assisted_request.needs"):
        _ = db.get(AssistanceRequest, req_b.id).needs  # type: ignore[union-attr]
    with pytest.raises(DecryptError, match="booking_intake_answers.answers"):
        _ = db.get(IntakeAnswers, second.id).answers  # type: ignore[union-attr]
    # the rows they came from still read: nothing but the copy is refused
    assert db.get(AssistanceRequest, req_a.id).needs == "needs of A, long enough"  # type: ignore


def test_a_ciphertext_moved_to_another_column_does_not_decrypt() -> None:
    ring = Keyring.generate()
    token = crypto.EncryptedColumn("assisted_request", "needs", "text").seal("x", "s1", ring)
    other = crypto.EncryptedColumn("messaging_message", "body", "text")
    with pytest.raises(DecryptError):
        other.open(token, "s1", ring)


@pytest.mark.parametrize("position", [12, 20, -1, -17])
def test_a_flipped_byte_fails_to_decrypt(db: Session, platform: Platform,
                                         position: int) -> None:
    acme = with_booking(platform.brands["acme-clinic"].loaded.config)
    _, request = add_health_data(db, acme)
    token = request.needs_sealed
    body = bytearray(token.encode())
    index = position if position >= 0 else len(body) + position
    body[index] = ord("A") if body[index] != ord("A") else ord("B")
    db.execute(text("UPDATE assisted_request SET needs = :t WHERE id = :i"),
               {"t": body.decode(), "i": request.id})
    db.expire_all()
    with pytest.raises(DecryptError):
        _ = db.get(AssistanceRequest, request.id).needs  # type: ignore[union-attr]


def test_plaintext_cannot_be_written_to_an_encrypted_column(db: Session,
                                                            platform: Platform) -> None:
    acme = with_booking(platform.brands["acme-clinic"].loaded.config)
    _, request = add_health_data(db, acme)
    request.needs_sealed = "my plaintext needs"
    with pytest.raises(Exception, match="accepts only encrypted values"):
        db.flush()


def test_a_value_written_under_a_key_the_keyring_lost_gives_a_clear_error() -> None:
    old, new = Keyring.generate(), Keyring.generate()
    token = crypto.encrypt_value(b"secret", "t.c|seal", old)
    with pytest.raises(KeyringError, match=f"key '{old.primary}' is not in the keyring"):
        crypto.decrypt_value(token, "t.c|seal", new)
    with pytest.raises(DecryptError, match="not an encrypted value"):
        crypto.decrypt_value("plaintext", "t.c|seal", new)


def test_missing_and_invalid_keyrings_are_clear_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crypto.use_keyring(None)
    try:
        monkeypatch.setenv("DARAPORT_KEY_FILE", str(tmp_path / "absent.json"))
        with pytest.raises(KeyringError, match="absent.json does not exist"):
            crypto.keyring()
        monkeypatch.delenv("DARAPORT_KEY_FILE")
        monkeypatch.setenv("DARAPORT_KEYRING", "{not json")
        with pytest.raises(KeyringError, match="DARAPORT_KEYRING is not valid keyring JSON"):
            crypto.keyring()
        ring = Keyring.generate()
        monkeypatch.setenv("DARAPORT_KEYRING", ring.to_json().replace(
            f'"primary": "{ring.primary}"', '"primary": "00000000"'))
        with pytest.raises(KeyringError, match="primary key '00000000' is not listed"):
            crypto.keyring()
        monkeypatch.setenv("DARAPORT_KEYRING", ring.to_json())
        assert crypto.keyring().primary == ring.primary
        monkeypatch.delenv("DARAPORT_KEYRING")
        loose = tmp_path / "loose.json"
        loose.write_text(ring.to_json())
        loose.chmod(0o644)
        monkeypatch.setenv("DARAPORT_KEY_FILE", str(loose))
        with pytest.raises(KeyringError, match="readable by others"):
            crypto.keyring()
    finally:
        crypto.use_keyring(None)


def test_the_development_key_file_is_created_once_with_mode_0600(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: Platform) -> None:
    monkeypatch.delenv("DARAPORT_KEY_FILE", raising=False)
    monkeypatch.delenv("DARAPORT_KEYRING", raising=False)
    crypto.configure(tmp_path)
    try:
        first = crypto.keyring()
        path = tmp_path / "keyring.json"
        assert path.stat().st_mode & 0o777 == 0o600
        assert crypto.keyring().keys == first.keys
        monkeypatch.setenv("DARAPORT_REQUIRE_KEYRING", "1")
        crypto.configure(tmp_path / "elsewhere")
        with pytest.raises(KeyringError, match="does not exist"):
            crypto.keyring()
    finally:
        crypto.configure(platform.runtime.settings.data_dir)


def test_sealed_files_open_only_with_their_context_and_untouched() -> None:
    ring = Keyring.generate()
    blob = crypto.seal_bytes(b"%PDF scan of a prescription", "messaging_attachment:s1", ring)
    assert b"prescription" not in blob and crypto.blob_key_id(blob) == ring.primary
    assert crypto.open_bytes(blob, "messaging_attachment:s1", ring) == \
        b"%PDF scan of a prescription"
    with pytest.raises(DecryptError):
        crypto.open_bytes(blob, "messaging_attachment:s2", ring)
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptError):
        crypto.open_bytes(flipped, "messaging_attachment:s1", ring)
    with pytest.raises(DecryptError, match="no DPF1 header"):
        crypto.open_bytes(b"plain file", "messaging_attachment:s1", ring)


def test_blind_indexes_are_keyed_per_purpose_and_stable_across_rotation() -> None:
    ring = Keyring.generate()
    crypto.use_keyring(ring)
    try:
        a = crypto.blind_index("ana@example.com", "identity.email")
        assert a == crypto.blind_index("ana@example.com", "identity.email")
        assert a != crypto.blind_index("ana@example.com", "messaging.search")
        assert a != crypto.blind_index("ben@example.com", "identity.email")
        crypto.use_keyring(Keyring(primary="0" * 8, keys={"0" * 8: b"k" * 32},
                                   index_key=ring.index_key))
        assert crypto.blind_index("ana@example.com", "identity.email") == a
        crypto.use_keyring(Keyring.generate())  # another installation: another index key
        assert crypto.blind_index("ana@example.com", "identity.email") != a
    finally:
        crypto.use_keyring(None)


def test_every_health_column_is_registered_for_rotation() -> None:
    from engine import crypto_keys

    specs = crypto_keys.registered()  # checks each table has the id and seal rotation needs
    names = {c.name for c in specs}
    assert {"booking_intake_answers.answers", "assisted_request.needs"} <= names


def test_reads_decrypt_once_per_value(db: Session, platform: Platform,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    acme = with_booking(platform.brands["acme-clinic"].loaded.config)
    answers, _ = add_health_data(db, acme)
    db.expunge_all()  # a fresh load, as the next request would make
    row = db.scalar(select(IntakeAnswers).where(IntakeAnswers.id == answers.id))
    calls: list[str] = []
    real = crypto.decrypt_value
    monkeypatch.setattr(crypto, "decrypt_value",
                        lambda *a, **k: calls.append("x") or real(*a, **k))
    assert row is not None and row.answers == row.answers
    assert len(calls) == 1
