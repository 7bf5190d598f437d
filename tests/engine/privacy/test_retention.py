"""Retention: a dry run counts exactly what the real run removes, held users' rows (and a held
brand's) are untouched, a second run changes nothing, and the counts reach the audit log."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.audit_models import AuditEvent
from engine.cli import main
from engine.config import BrandConfig
from engine.identity.models import User
from engine.privacy import holds, retention
from modules.booking.models_intake import IntakeAnswers

DAY = timedelta(days=1)


def _answers_of(db: Session, answers_ids: list[int]) -> int:
    return db.scalar(select(func.count(IntakeAnswers.id))
                     .where(IntakeAnswers.id.in_(answers_ids))) or 0


def _old_and_new(appointment_with_answers: Callable, patient: User) -> tuple[int, int]:
    now = clock.now()
    # acme-clinic keeps intake answers 1825 days
    _, old = appointment_with_answers(patient, now - 1900 * DAY, answer="old answer",
                                      answered_at=now - 1900 * DAY)
    _, new = appointment_with_answers(patient, now - 30 * DAY, answer="recent answer",
                                      answered_at=now - 30 * DAY)
    return old.id, new.id


def test_dry_run_counts_equal_the_real_run_held_rows_stay_and_a_second_run_does_nothing(
        db: Session, acme: BrandConfig, create_user: Callable[..., User],
        appointment_with_answers: Callable) -> None:
    free, held = create_user(brand="acme-clinic"), create_user(brand="acme-clinic")
    free_old, free_new = _old_and_new(appointment_with_answers, free)
    held_old, held_new = _old_and_new(appointment_with_answers, held)
    holds.place(db, None, "acme-clinic", "court order 12/2026", user_id=held.id)

    dry = retention.run(db, acme, dry_run=True)
    assert _answers_of(db, [free_old, free_new, held_old, held_new]) == 4  # nothing removed
    real = retention.run(db, acme, dry_run=False)
    assert dry.counts == real.counts
    assert real.counts["booking.intake_answers"] >= 1
    assert _answers_of(db, [free_old]) == 0
    assert _answers_of(db, [free_new, held_old, held_new]) == 3
    again = retention.run(db, acme, dry_run=False)
    assert again.total == 0
    events = db.scalars(select(AuditEvent).where(
        AuditEvent.brand_id == "acme-clinic",
        AuditEvent.action.in_(("privacy.retention.purge", "privacy.retention.run")))).all()
    purge = [e for e in events if e.action == "privacy.retention.purge"
             and e.target_type == "booking.intake_answers"]
    assert len(purge) == 1
    assert json.loads(purge[0].details)["count"] == real.counts["booking.intake_answers"]
    assert len([e for e in events if e.action == "privacy.retention.run"]) == 2


def test_a_brand_under_legal_hold_is_skipped(
        db: Session, acme: BrandConfig, create_user: Callable[..., User],
        appointment_with_answers: Callable) -> None:
    patient = create_user(brand="acme-clinic")
    old, _ = _old_and_new(appointment_with_answers, patient)
    hold = holds.place(db, None, "acme-clinic", "regulator inquiry")
    report = retention.run(db, acme, dry_run=False)
    assert report.held and report.total == 0
    assert _answers_of(db, [old]) == 1
    holds.release(db, None, hold.id)
    assert retention.run(db, acme, dry_run=False).counts["booking.intake_answers"] >= 1
    assert _answers_of(db, [old]) == 0


def test_cli_dry_run_reports_and_removes_nothing(
        db: Session, create_user: Callable[..., User],
        appointment_with_answers: Callable) -> None:
    patient = create_user(brand="acme-clinic")
    old, new = _old_and_new(appointment_with_answers, patient)
    result = CliRunner().invoke(main, ["privacy", "retention", "--brand", "acme-clinic",
                                       "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "acme-clinic: booking.intake_answers: would remove" in result.output
    assert _answers_of(db, [old, new]) == 2
    unknown = CliRunner().invoke(main, ["privacy", "retention", "--brand", "nope"])
    assert unknown.exit_code != 0 and "unknown brand" in unknown.output


def test_cli_legal_holds_need_a_reason(db: Session, create_user: Callable[..., User]) -> None:
    patient = create_user(brand="acme-clinic")
    runner = CliRunner()
    missing = runner.invoke(main, ["privacy", "hold", "place", "acme-clinic",
                                   "--user", str(patient.id), "--reason", "  "])
    assert missing.exit_code != 0 and "reason" in missing.output
    placed = runner.invoke(main, ["privacy", "hold", "place", "acme-clinic",
                                  "--user", str(patient.id), "--reason", "case 7"])
    assert placed.exit_code == 0, placed.output
    assert holds.is_held(db, "acme-clinic", patient.id)
    listed = runner.invoke(main, ["privacy", "hold", "list", "--brand", "acme-clinic"])
    assert "case 7" in listed.output


def test_closed_accounts_lose_their_consent_history_after_the_brands_period(
        db: Session, acme: BrandConfig, create_user: Callable[..., User], settings) -> None:
    from engine.privacy import deletion
    from engine.privacy.models import ConsentRecord

    patient = create_user(brand="acme-clinic")  # has consent records (signup)
    _, token = deletion.request_deletion(db, patient, acme, "all")
    deletion.confirm_with_token(db, patient, acme, token)
    records = select(func.count(ConsentRecord.id)).where(ConsentRecord.user_id == patient.id)
    with clock.freeze(clock.now() + timedelta(days=acme.retention.deletion_grace_days + 1)):
        assert deletion.execute_due(db, acme, settings.data_dir) == (1, 0)
        # closed today: kept for closed_accounts_days (30 on acme-clinic)
        assert retention.run(db, acme, dry_run=False).counts["engine.closed_accounts"] == 0
    kept = db.scalar(records)
    assert kept >= 1
    later = clock.now() + timedelta(days=acme.retention.deletion_grace_days + 1
                                    + acme.retention.closed_accounts_days + 1)
    with clock.freeze(later):
        dry = retention.run(db, acme, dry_run=True)
        assert dry.counts["engine.closed_accounts"] == kept
        assert retention.run(db, acme, dry_run=False).counts == dry.counts
        assert retention.run(db, acme, dry_run=False).total == 0
    assert db.scalar(records) == 0
