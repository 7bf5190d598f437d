"""Account deletion: requested -> confirmed (emailed link or password) -> grace period ->
executed by the job. Afterwards no table and no file of the data dir holds the patient's email
or name; a cancel in the grace period stops it; a legal hold keeps it waiting."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity import throttle
from engine.identity.models import User, brand_realm
from engine.notify import Email
from engine.privacy import deletion, holds
from engine.privacy.jobs import privacy_sweep
from engine.privacy.models import DataExport, DeletionRequest
from modules.api.models import ApiToken
from modules.booking.models import Appointment
from modules.booking.models_intake import IntakeAnswers
from tests.conftest import PASSWORD

from .conftest import next_weekday_at, unique_name
from .helpers import file_hits, text_hits

PAGE = "/account/privacy/"


def _request(client, scope: str = "all"):  # type: ignore[no-untyped-def]
    return client.submit("/account/privacy/delete", {"scope": scope}, form_page=PAGE)


def _latest_mail(db: Session, to: str) -> Email:
    mail = db.scalars(select(Email).where(Email.recipient == to).order_by(Email.id.desc())).first()
    assert mail is not None
    return mail


def _after_grace(acme: BrandConfig):  # type: ignore[no-untyped-def]
    return clock.freeze(clock.now() + timedelta(days=acme.retention.deletion_grace_days, hours=1))


def test_deletion_leaves_no_personal_data_in_any_table_or_file(
        client, db: Session, create_user: Callable[..., User], signin, acme: BrandConfig,
        appointment_with_answers: Callable, practice, settings) -> None:
    name = unique_name()
    patient = create_user(brand="acme-clinic", name=name)
    email = patient.email
    past, _ = appointment_with_answers(patient, clock.now() - timedelta(days=40),
                                       answer=f"I am {name}, my sleep is poor")
    future, _ = appointment_with_answers(patient, next_weekday_at(9, days_ahead=30),
                                         answer="nervous")
    patient.phone = "+34600111222"
    db.add(ApiToken(brand_id="acme-clinic", user_id=patient.id, name=f"{name}'s laptop",
                    token_hash="a" * 64, prefix="dp_abc", expires_at=clock.now() + timedelta(
                        days=30)))
    throttle.record_failure(db, brand_realm("acme-clinic"), email, "203.0.113.9")
    db.flush()
    signin(client, email)
    client.submit("/account/privacy/consent/telehealth/grant", form_page=PAGE)
    client.submit("/account/privacy/export", form_page=PAGE)  # a ZIP in the data dir
    assert file_hits(settings.data_dir, [email])

    assert _request(client).status_code == 302
    confirm = re.search(r"https?://[^/]+(/\S+)", _latest_mail(db, email).body_text or "")
    assert confirm is not None and "/delete/confirm/" in confirm.group(1)
    assert client.submit(confirm.group(1), form_page=confirm.group(1)).status_code == 302
    row = db.scalar(select(DeletionRequest).where(DeletionRequest.user_id == patient.id))
    assert row.status == "scheduled"

    privacy_sweep()  # inside the grace period: nothing happens
    assert db.get(DeletionRequest, row.id).status == "scheduled"
    with _after_grace(acme):
        privacy_sweep()
    db.expire_all()
    assert db.get(DeletionRequest, row.id).status == "executed"
    assert text_hits(db, [email, name]) == []
    assert file_hits(settings.data_dir, [email, name]) == []
    # records under a legal duty stay, restricted to the pseudonym; health answers are gone
    assert db.get(Appointment, past.id).patient_id == patient.id
    assert db.get(Appointment, future.id).status == "cancelled"
    assert db.scalars(select(IntakeAnswers).where(
        IntakeAnswers.appointment_id.in_([past.id, future.id]))).all() == []
    assert db.scalar(select(DataExport).where(DataExport.user_id == patient.id)) is None
    # the old session no longer works
    assert client.get("/me").status_code == 302
    assert signin(client, email).status_code != 302


def test_cancel_during_the_grace_period_keeps_everything(
        client, db: Session, create_user: Callable[..., User], signin,
        acme: BrandConfig) -> None:
    patient = create_user(brand="acme-clinic")
    signin(client, patient.email)
    _request(client)
    row = db.scalar(select(DeletionRequest).where(DeletionRequest.user_id == patient.id))
    confirmed = client.submit(f"/account/privacy/delete/{row.id}/confirm",
                              {"password": PASSWORD}, form_page=PAGE)
    assert confirmed.status_code == 302
    db.expire_all()
    assert db.get(DeletionRequest, row.id).execute_after is not None
    client.submit(f"/account/privacy/delete/{row.id}/cancel", form_page=PAGE)
    db.expire_all()
    assert db.get(DeletionRequest, row.id).status == "cancelled"
    with _after_grace(acme):
        privacy_sweep()
    db.expire_all()
    assert db.get(User, patient.id).email == patient.email
    assert _latest_mail(db, patient.email).template == "privacy/mail/deletion_cancelled"


def test_confirmation_needs_the_right_password(
        client, db: Session, create_user: Callable[..., User], signin) -> None:
    patient = create_user(brand="acme-clinic")
    signin(client, patient.email)
    _request(client)
    row = db.scalar(select(DeletionRequest).where(DeletionRequest.user_id == patient.id))
    wrong = client.submit(f"/account/privacy/delete/{row.id}/confirm",
                          {"password": "wrong password here"}, form_page=PAGE)
    assert wrong.status_code == 401
    assert db.get(DeletionRequest, row.id).status == "requested"


def test_a_legal_hold_keeps_a_due_deletion_waiting(
        db: Session, create_user: Callable[..., User], acme: BrandConfig, settings) -> None:
    patient = create_user(brand="acme-clinic")
    row, token = deletion.request_deletion(db, patient, acme, "all")
    deletion.confirm_with_token(db, patient, acme, token)
    hold = holds.place(db, None, "acme-clinic", "litigation hold 2026-44", user_id=patient.id)
    with _after_grace(acme):
        assert deletion.execute_due(db, acme, settings.data_dir) == (0, 1)
        assert db.get(User, patient.id).email == patient.email
        holds.release(db, None, hold.id)
        assert deletion.execute_due(db, acme, settings.data_dir) == (1, 0)
        assert deletion.execute_due(db, acme, settings.data_dir) == (0, 0)  # once
    assert db.get(User, patient.id).email.endswith("@deleted.invalid")


def test_scoped_deletion_keeps_the_account(
        db: Session, create_user: Callable[..., User], acme: BrandConfig, settings,
        appointment_with_answers: Callable) -> None:
    patient = create_user(brand="acme-clinic")
    _, answers = appointment_with_answers(patient, next_weekday_at(9), answer="kept")
    row, token = deletion.request_deletion(db, patient, acme, "messages")
    deletion.confirm_with_token(db, patient, acme, token)
    with _after_grace(acme):
        deletion.execute_due(db, acme, settings.data_dir)
    assert db.get(DeletionRequest, row.id).status == "executed"
    assert db.get(User, patient.id).email == patient.email
    assert db.get(IntakeAnswers, answers.id) is not None
