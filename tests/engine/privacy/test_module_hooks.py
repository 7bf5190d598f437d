"""The data-rights hooks of assisted and api, called directly: export holds the patient's rows
only, erasure removes them, retention blanks old finished requests once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from engine import clock
from engine.identity.models import User
from modules.api import privacy as api_privacy
from modules.api.models import ApiToken
from modules.assisted import privacy as assisted_privacy
from modules.assisted.models import AssistanceRequest


def _request(db: Session, patient: User, needs: str, status: str = "submitted",
             age_days: int = 0) -> AssistanceRequest:
    at = clock.now() - timedelta(days=age_days)
    row = AssistanceRequest(brand_id=patient.brand_id, patient_id=patient.id,
                            submitted_by_id=patient.id, needs=needs, time_windows=["0:morning"],
                            timezone="Europe/Madrid", status=status, created_at=at,
                            updated_at=at)
    db.add(row)
    db.flush()
    return row


def test_assisted_export_and_erase_reach_only_the_patients_requests(
        db: Session, create_user: Callable[..., User]) -> None:
    patient, other = create_user(brand="acme-clinic"), create_user(brand="acme-clinic")
    _request(db, patient, "panic at night")
    theirs = _request(db, other, "someone else's needs")
    exported = assisted_privacy.export_data(db, patient)
    assert [r["needs"] for r in exported["assistance_requests"]] == ["panic at night"]
    assert assisted_privacy.erase_data(db, patient, "messages") == {}
    counts = assisted_privacy.erase_data(db, patient, "all")
    assert counts["assistance_requests"] == 1
    assert assisted_privacy.export_data(db, patient)["assistance_requests"] == []
    assert db.get(AssistanceRequest, theirs.id) is not None


def test_assisted_retention_blanks_old_finished_needs_once_and_skips_held_patients(
        db: Session, create_user: Callable[..., User]) -> None:
    patient, held = create_user(brand="acme-clinic"), create_user(brand="acme-clinic")
    old = _request(db, patient, "old words", status="accepted", age_days=800)
    open_ = _request(db, patient, "still open", status="submitted", age_days=800)
    held_old = _request(db, held, "held words", status="cancelled", age_days=800)
    cutoff = clock.now() - timedelta(days=730)
    kwargs = {"held_user_ids": {held.id}}
    assert assisted_privacy.purge_needs(db, "acme-clinic", cutoff, dry_run=True, **kwargs) == 1
    assert assisted_privacy.purge_needs(db, "acme-clinic", cutoff, dry_run=False, **kwargs) == 1
    assert assisted_privacy.purge_needs(db, "acme-clinic", cutoff, dry_run=False, **kwargs) == 0
    db.expire_all()
    assert db.get(AssistanceRequest, old.id).needs == ""
    assert db.get(AssistanceRequest, old.id).updated_at < cutoff  # not an edit
    assert db.get(AssistanceRequest, open_.id).needs == "still open"
    assert db.get(AssistanceRequest, held_old.id).needs == "held words"


def test_api_tokens_are_exported_without_secrets_and_erased(
        db: Session, create_user: Callable[..., User]) -> None:
    patient = create_user(brand="acme-clinic")
    db.add(ApiToken(brand_id="acme-clinic", user_id=patient.id, name="laptop",
                    token_hash="b" * 64, prefix="dp_xyz",
                    expires_at=clock.now() + timedelta(days=1)))
    db.flush()
    [token] = api_privacy.export_data(db, patient)["api_tokens"]
    assert token["name"] == "laptop" and "b" * 64 not in str(token)
    assert api_privacy.erase_data(db, patient, "all") == {"api_tokens": 1}
    assert api_privacy.export_data(db, patient)["api_tokens"] == []
