"""Audit log pages on a brand: a patient's "who accessed my record" and an organization admin's
view of their organization's events. Neither shows details, IP addresses or health data: only
who (role and name), what (the kind of action), on what and when.

Operators read and filter every event in the console (engine/console/audit_views.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.audit_models import AuditEvent
from engine.identity.models import User
from engine.identity.permissions import requires
from engine.modules import PORTAL_PREFIX, NavEntry
from engine.web import BrandContext, current_brand, db

PAGE_SIZE = 50

patient_bp = Blueprint("audit_patient", __name__)
org_bp = Blueprint("audit_org", __name__, url_prefix=PORTAL_PREFIX["org"])

ACTION_LABELS: dict[str, Any] = {
    "auth.signin": _l("Signed in"),
    "auth.signout": _l("Signed out"),
    "auth.lockout": _l("Sign-in locked after failed attempts"),
    "auth.password_change": _l("Changed the password"),
    "auth.password_reset": _l("Reset the password"),
    "access.denied": _l("Access refused"),
    "user.create": _l("Account created"),
    "record.view": _l("Viewed the record"),
    "intake.view": _l("Viewed the intake answers"),
    "appointment.view": _l("Viewed an appointment"),
    "export.download": _l("Downloaded a data export"),
    "consent.change": _l("Changed a consent"),
}
ROLE_LABELS: dict[str, Any] = {
    "patient": _l("Patient"), "specialist": _l("Specialist"),
    "org_admin": _l("Organization admin"), "coordinator": _l("Coordinator"),
    "affiliate": _l("Affiliate"), "operator": _l("Platform operator"),
}


def action_label(action: str) -> str:
    """A readable name of an action (the action itself when it has none)."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def _before() -> int | None:
    raw = request.args.get("before", "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        abort(400)
    return int(raw)


def _names(session: Session, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}


def patient_access_log(session: Session, patient: User, brand_id: str, *,
                       before: int | None = None, limit: int = PAGE_SIZE) -> list[AuditEvent]:
    """Events of ``brand_id`` concerning ``patient``'s record, newest first."""
    stmt = select(AuditEvent).where(AuditEvent.brand_id == brand_id,
                                    AuditEvent.patient_id == patient.id)
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    return list(session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)))


def organization_events(session: Session, admin: User, brand_id: str, *,
                        before: int | None = None, limit: int = PAGE_SIZE) -> list[AuditEvent]:
    """Events of ``brand_id`` whose patient or actor is a member of ``admin``'s organization."""
    if not admin.organization:
        return []
    members = select(User.id).where(User.brand_id == brand_id,
                                    User.organization == admin.organization)
    stmt = select(AuditEvent).where(
        AuditEvent.brand_id == brand_id,
        or_(AuditEvent.patient_id.in_(members), AuditEvent.actor_id.in_(members)))
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    return list(session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)))


def _rows(events: list[AuditEvent], people: dict[int, User],
          visible: set[int] | None) -> list[dict[str, Any]]:
    """What a page shows of each event. ``visible``: whose names may be shown (None: all)."""
    rows = []
    for ev in events:
        actor = people.get(ev.actor_id) if ev.actor_id else None
        patient = people.get(ev.patient_id) if ev.patient_id else None
        rows.append({
            "id": ev.id, "at": ev.occurred_at, "action": action_label(ev.action),
            "outcome": ev.outcome,
            "role": str(ROLE_LABELS.get(ev.actor_role or "", ev.actor_role or "")),
            "actor": actor.name if actor and (visible is None or actor.id in visible) else None,
            "is_self": actor is not None and actor.id == current_user.id,
            "patient": patient.name if patient and (visible is None or patient.id in visible)
            else None,
        })
    return rows


@patient_bp.route("/me/access-log")
@requires("core.audit.own")
def access_log() -> Any:
    """Who accessed my record, and when."""
    session = db()
    events = patient_access_log(session, current_user, current_brand.slug,  # type: ignore[arg-type]
                                before=_before())
    people = _names(session, {e.actor_id for e in events if e.actor_id})
    return render_template("audit/access_log.html", rows=_rows(events, people, None),
                           next_before=events[-1].id if len(events) == PAGE_SIZE else None)


@org_bp.route("/activity")
@requires("core.audit.org")
def org_events() -> Any:
    """What happened to and by the members of my organization (no details, no health data)."""
    session = db()
    admin: User = current_user  # type: ignore[assignment]
    events = organization_events(session, admin, current_brand.slug, before=_before())
    ids = {i for e in events for i in (e.actor_id, e.patient_id) if i}
    people = _names(session, ids)
    members = {u.id for u in people.values()
               if u.brand_id == current_brand.slug and u.organization == admin.organization}
    return render_template("audit/org_events.html", rows=_rows(events, people, members),
                           next_before=events[-1].id if len(events) == PAGE_SIZE else None)


def register(app: Flask, ctx: BrandContext) -> None:
    app.register_blueprint(patient_bp)
    app.register_blueprint(org_bp)
    ctx.nav.setdefault("patient", []).append(
        NavEntry("patient", "audit_patient.access_log", _l("Access log"), "core.audit.own", 93))
    ctx.nav.setdefault("org", []).append(
        NavEntry("org", "audit_org.org_events", _l("Activity"), "core.audit.org", 20))
    for entries in ctx.nav.values():
        entries.sort(key=lambda e: e.order)
