"""Assisted's data-rights hooks (see ``engine.modules.Module``): a patient's assistance
requests (their words about their needs are health data) and the answers they gave.

Erasure deletes the patient's requests (their allocations go with them; the appointments they
led to stay with booking, which keeps them restricted). Retention blanks the needs of finished
requests older than the brand's ``intake_answers_days``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from engine.identity.models import User
from modules.assisted.models import Allocation, AssistanceRequest

BATCH = 500
FINISHED = ("accepted", "cancelled")
# what an aged-out request's needs become (never the words the patient wrote)
REDACTED = ""


def export_data(session: Session, user: User) -> Mapping[str, Any]:
    """The patient's assistance requests and the coordinators' proposals for them."""
    requests = list(session.scalars(select(AssistanceRequest).where(
        AssistanceRequest.patient_id == user.id, AssistanceRequest.brand_id == user.brand_id)
        .order_by(AssistanceRequest.id).execution_options(all_brands=True)))
    ids = [r.id for r in requests]
    allocations: dict[int, list[dict[str, Any]]] = {}
    if ids:
        for a in session.scalars(select(Allocation).where(Allocation.request_id.in_(ids))
                                 .order_by(Allocation.id).execution_options(all_brands=True)):
            allocations.setdefault(a.request_id, []).append({
                "appointment_id": a.appointment_id, "specialist_id": a.specialist_id,
                "reason": a.reason, "outcome": a.outcome, "your_note": a.patient_note,
                "proposed_at": a.created_at.isoformat(),
                "answered_at": a.answered_at.isoformat() if a.answered_at else None})
    return {"assistance_requests": [{
        "id": r.id, "needs": r.needs, "language": r.language, "modality": r.modality,
        "time_windows": r.time_windows, "timezone": r.timezone, "urgency": r.urgency,
        "status": r.status, "created_at": r.created_at.isoformat(),
        "submitted_by_self": r.submitted_by_id == user.id,
        "proposals": allocations.get(r.id, [])} for r in requests]}


def erase_data(session: Session, user: User, scope: str) -> Mapping[str, int]:
    """Scope "all": delete the patient's requests (and their allocations)."""
    if scope != "all":
        return {}
    opts = {"all_brands": True}
    own = select(AssistanceRequest.id).where(AssistanceRequest.patient_id == user.id,
                                             AssistanceRequest.brand_id == user.brand_id)
    allocations = session.execute(delete(Allocation).where(Allocation.request_id.in_(own))
                                  .execution_options(**opts)).rowcount
    requests = session.execute(delete(AssistanceRequest).where(
        AssistanceRequest.patient_id == user.id, AssistanceRequest.brand_id == user.brand_id)
        .execution_options(**opts)).rowcount
    return {"assistance_requests": requests, "assistance_allocations": allocations}


def purge_needs(session: Session, brand_id: str, cutoff: datetime, *, dry_run: bool,
                held_user_ids: Collection[int]) -> int:
    """Blank the needs of finished requests last changed before ``cutoff`` (batched), except
    held patients'. Already blank needs are not counted again (idempotent).

    The needs are encrypted (no SQL filter on them): candidates are chosen by status and age in
    SQL, then read and blanked through the model, a batch at a time.
    """
    stmt = select(AssistanceRequest).where(
        AssistanceRequest.brand_id == brand_id, AssistanceRequest.status.in_(FINISHED),
        AssistanceRequest.updated_at < cutoff)
    if held_user_ids:
        stmt = stmt.where(AssistanceRequest.patient_id.not_in(list(held_user_ids)))
    stmt = stmt.order_by(AssistanceRequest.id).limit(BATCH).execution_options(all_brands=True)
    changed, after = 0, 0
    while rows := list(session.scalars(stmt.where(AssistanceRequest.id > after))):
        for row in rows:
            if row.needs != REDACTED:
                changed += 1
                if not dry_run:
                    row.needs = REDACTED
                    # blanking is not an edit a coordinator made: keep updated_at (the write
                    # of the unchanged value stops its onupdate)
                    flag_modified(row, "updated_at")
        after = rows[-1].id
        session.flush()
    return changed


RETENTION = {"intake_answers": purge_needs}
