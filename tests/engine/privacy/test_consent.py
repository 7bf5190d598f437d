"""Consent: the sign-up form requires and records it, required consents gate booking a video
appointment, withdrawing takes effect at once, a new version asks again, history is kept, and a
published document's text cannot change."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from engine.privacy import consent
from engine.privacy.models import ConsentRecord
from engine.settings import ROOT
from engine.web import UserError
from modules.booking import services as booking

from .conftest import Practice, next_weekday_at, unique_name


def _records(db: Session, user: User) -> list[ConsentRecord]:
    return list(db.scalars(select(ConsentRecord).where(ConsentRecord.user_id == user.id)
                           .order_by(ConsentRecord.id)))


def test_signup_form_shows_requires_and_records_the_privacy_consent(client_for, db) -> None:
    client = client_for("wellness-corp")
    page = client.get("/account/signup").get_data(as_text=True)
    assert 'name="consent-privacy"' in page
    assert "Your employer never sees what you discuss" in page  # the document's own text
    email = f"new-{unique_name().split()[-1]}@example.com"
    form = {"name": "New Person", "email": email, "password": "long enough password"}
    refused = client.submit("/account/signup", form)
    assert refused.status_code == 400
    assert db.scalar(select(User).where(User.email == email)) is None
    accepted = client.submit("/account/signup", {**form, "consent-privacy": "yes"})
    assert accepted.status_code == 302
    user = db.scalar(select(User).where(User.email == email))
    assert user is not None
    [rec] = _records(db, user)
    assert (rec.document_key, rec.version, rec.granted, rec.method) == \
        ("privacy", 2, True, "signup")


def test_video_booking_needs_telehealth_consent_and_withdrawal_applies_at_once(
        db: Session, acme: BrandConfig, practice: Practice, create_user: Callable[..., User],
        settings) -> None:
    patient = create_user(brand="acme-clinic", consents=False)
    start = next_weekday_at(9)
    with pytest.raises(UserError) as refused:
        booking.book(db, patient, acme, practice.specialist.id, practice.video.id, start)
    assert refused.value.code == "consent_required"
    assert "/account/privacy/consent?for=video" in refused.value.message
    consent.record(db, patient, acme, "telehealth", granted=True, method="web",
                   brands_dir=settings.brands_dir)
    first = booking.book(db, patient, acme, practice.specialist.id, practice.video.id, start)
    assert first.modality == "video"
    consent.record(db, patient, acme, "telehealth", granted=False, method="web",
                   brands_dir=settings.brands_dir)
    with pytest.raises(UserError) as again:
        booking.book(db, patient, acme, practice.specialist.id, practice.video.id,
                     start + timedelta(hours=1))
    assert again.value.code == "consent_required"


def test_withdraw_is_one_click_on_the_privacy_page_and_history_is_kept(
        client, db, create_user, signin, acme, settings) -> None:
    patient = create_user(brand="acme-clinic", consents=False)
    signin(client, patient.email)
    granted = client.submit("/account/privacy/consent/telehealth/grant",
                            form_page="/account/privacy/")
    assert granted.status_code == 302
    assert consent.missing(db, patient, acme, "video") == []
    withdrawn = client.submit("/account/privacy/consent/telehealth/withdraw",
                              form_page="/account/privacy/")
    assert withdrawn.status_code == 302
    assert [d.key for d in consent.missing(db, patient, acme, "video")] == ["telehealth"]
    client.submit("/account/privacy/consent/telehealth/grant", form_page="/account/privacy/")
    assert [(r.granted, r.method) for r in _records(db, patient)] == \
        [(True, "web"), (False, "web"), (True, "web")]
    [state] = [s for s in consent.states(db, patient, acme) if s.document.key == "telehealth"]
    assert state.granted
    page = client.get("/account/privacy/").get_data(as_text=True)
    assert page.count("telehealth v1") == 3  # the history lists every record


def test_a_new_version_of_a_required_document_asks_again_before_the_next_page(
        client_for, db, create_user, signin, wellness, settings) -> None:
    client = client_for("wellness-corp")
    patient = create_user(brand="wellness-corp", consents=False)
    # accepted version 1; the brand now publishes version 2
    db.add(ConsentRecord(brand_id="wellness-corp", user_id=patient.id, document_key="privacy",
                         version=1, granted=True, method="signup"))
    db.flush()
    assert [d.key for d in consent.outdated(db, patient, wellness)] == ["privacy"]
    signin(client, patient.email)
    page = client.get("/me")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/account/privacy/consent?")
    asked = client.get(page.headers["Location"]).get_data(as_text=True)
    assert "This document has changed since you accepted it." in asked
    done = client.submit("/account/privacy/consent",
                         {"for": "signup", "next": "/me", "consent-privacy": "yes"},
                         form_page=page.headers["Location"])
    assert done.status_code == 302 and done.headers["Location"] == "/me"
    assert client.get("/me").status_code == 200
    assert consent.outdated(db, patient, wellness) == []


def test_withdrawing_the_signup_consent_stops_the_portal_until_given_again(
        client_for, db, create_user, signin) -> None:
    client = client_for("wellness-corp")
    patient = create_user(brand="wellness-corp", consents=False)
    signin(client, patient.email)
    client.submit("/account/privacy/consent/privacy/grant", form_page="/account/privacy/")
    assert client.get("/me").status_code == 200
    client.submit("/account/privacy/consent/privacy/withdraw", form_page="/account/privacy/")
    assert client.get("/me").status_code == 302
    assert client.get("/account/privacy/").status_code == 200  # the way back stays open


def test_a_published_document_cannot_change_without_a_new_version(
        db: Session, acme: BrandConfig, tmp_path: Path) -> None:
    brands = tmp_path / "brands"
    shutil.copytree(ROOT / "brands", brands)
    assert "privacy v1 es" in consent.publish(db, acme, brands)
    assert consent.publish(db, acme, brands) == []  # unchanged: nothing new, no error
    text = brands / "consent" / "acme-privacy-es-v1.md"
    text.write_text(text.read_text() + "\nUna cláusula nueva.\n")
    with pytest.raises(consent.ConsentDocumentChanged, match="version 2 instead"):
        consent.publish(db, acme, brands)
    with pytest.raises(consent.ConsentDocumentChanged):
        consent.record(db, User(id=0, brand_id="acme-clinic"), acme, "privacy", granted=True,
                       method="web", brands_dir=brands)


def test_the_employer_sees_only_members_who_consented_to_sharing(
        db: Session, wellness: BrandConfig, create_user: Callable[..., User], settings) -> None:
    from engine.identity.services import organization_roster

    admin = create_user(role="org_admin", brand="wellness-corp", organization="globex")
    sharing = create_user(brand="wellness-corp", organization="globex", name="Shares Data")
    private = create_user(brand="wellness-corp", organization="globex", consents=False,
                          name="Keeps Private")
    assert [u.id for u in organization_roster(db, admin, wellness)] == [sharing.id]
    consent.record(db, private, wellness, "employer-sharing", granted=True, method="web",
                   brands_dir=settings.brands_dir)
    assert {u.id for u in organization_roster(db, admin, wellness)} == {sharing.id, private.id}
    consent.record(db, sharing, wellness, "employer-sharing", granted=False, method="web",
                   brands_dir=settings.brands_dir)
    assert [u.id for u in organization_roster(db, admin, wellness)] == [private.id]


def test_the_booking_form_refuses_a_video_appointment_without_consent_and_says_where_to_give_it(
        client, db: Session, practice: Practice, create_user: Callable[..., User], signin,
        acme: BrandConfig) -> None:
    from modules.booking.models import Appointment

    patient = create_user(brand="acme-clinic", consents=False)
    signin(client, patient.email)
    path = f"/appointments/book/{practice.specialist.id}"
    start = next_weekday_at(9).isoformat()
    form = {"appointment_type": practice.video.id, "start": start}
    refused = client.submit(path, form, form_page=f"{path}?type={practice.video.id}&start={start}")
    assert refused.status_code == 403
    assert "/account/privacy/consent?for=video" in refused.get_data(as_text=True)
    assert db.scalar(select(Appointment).where(Appointment.patient_id == patient.id)) is None
    client.submit("/account/privacy/consent", {"for": "video", "consent-telehealth": "yes"},
                  form_page="/account/privacy/consent?for=video")
    booked = client.submit(path, form, form_page=f"{path}?type={practice.video.id}&start={start}")
    assert booked.status_code == 302
    assert db.scalar(select(Appointment).where(Appointment.patient_id == patient.id)) is not None
