"""Console: operators place legal holds (with a reason) on a user or a brand, and release them;
other accounts cannot reach the page."""

from __future__ import annotations

from sqlalchemy import select

from engine.audit_models import AuditEvent
from engine.privacy import holds
from engine.privacy.models import LegalHold


def test_operator_places_and_releases_a_hold_with_a_reason(operator_console, create_user, db):
    patient = create_user(brand="acme-clinic")
    page = operator_console.get("/privacy/holds")
    assert page.status_code == 200 and "No active legal holds." in page.get_data(as_text=True)
    refused = operator_console.submit("/privacy/holds", {
        "brand": "acme-clinic", "user_id": str(patient.id), "reason": "  "},
        form_page="/privacy/holds")
    assert refused.status_code == 400
    assert not holds.is_held(db, "acme-clinic", patient.id)
    placed = operator_console.submit("/privacy/holds", {
        "brand": "acme-clinic", "user_id": str(patient.id), "reason": "subpoena 2026-118"},
        form_page="/privacy/holds")
    assert placed.status_code == 302
    assert holds.is_held(db, "acme-clinic", patient.id)
    assert not holds.brand_held(db, "acme-clinic")
    assert "subpoena 2026-118" in operator_console.get("/privacy/holds").get_data(as_text=True)
    hold = db.scalar(select(LegalHold).where(LegalHold.user_id == patient.id))
    operator_console.submit(f"/privacy/holds/{hold.id}/release", form_page="/privacy/holds")
    db.expire_all()
    assert not holds.is_held(db, "acme-clinic", patient.id)
    actions = list(db.scalars(select(AuditEvent.action).where(
        AuditEvent.target_type == "legal_hold", AuditEvent.target_id == str(hold.id))))
    assert actions == ["privacy.hold.place", "privacy.hold.release"]


def test_a_hold_on_another_brands_user_is_refused(operator_console, create_user, db):
    patient = create_user(brand="wellness-corp")
    refused = operator_console.submit("/privacy/holds", {
        "brand": "acme-clinic", "user_id": str(patient.id), "reason": "wrong brand"},
        form_page="/privacy/holds")
    assert refused.status_code == 400
    assert db.scalar(select(LegalHold)) is None


def test_only_operators_reach_the_holds_page(console, console_signin, create_user):
    assert console.get("/privacy/holds").status_code == 302
