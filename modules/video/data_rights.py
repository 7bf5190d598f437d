"""Data rights and retention for video visits: the events of a user's visits (times, who
joined, admitted, left, ended); no media is ever stored."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from engine.identity.models import User
from modules.booking.models import Appointment
from modules.video.models import Visit, VisitEvent
from modules.video.services import export_rows

BATCH = 1000


def _visits_of(user: User) -> Any:
    """Visits of the user's appointments on their brand (as patient, or as specialist)."""
    query = select(Visit.id).join(Appointment, Appointment.id == Visit.appointment_id).where(
        (Appointment.patient_id == user.id) | (Appointment.specialist_id == user.id))
    if user.brand_id is not None:
        query = query.where(Visit.brand_id == user.brand_id)
    return query


def export_data(session: Session, user: User) -> Mapping[str, Any]:
    """The events of the user's own participation in video visits (not the other side's)."""
    events = list(session.scalars(
        select(VisitEvent).where(VisitEvent.user_id == user.id,
                                 VisitEvent.visit_id.in_(_visits_of(user)))
        .order_by(VisitEvent.at, VisitEvent.id)
        .execution_options(all_brands=True)))
    return {"video_events": export_rows(events)}


def erase_data(session: Session, user: User, scope: str = "all") -> Mapping[str, int]:
    """Remove the user's name from the visit record: their events are kept for the other
    participant's record (a visit took place) but no longer point at them."""
    if scope not in ("all", "video_events"):
        return {}
    result = session.execute(
        update(VisitEvent).where(VisitEvent.user_id == user.id)
        .values(user_id=None).execution_options(all_brands=True, synchronize_session=False))
    return {"video_events": int(result.rowcount or 0)}  # type: ignore[attr-defined]


def purge_video_events(session: Session, brand_id: str, cutoff: datetime, *,
                       dry_run: bool = False,
                       held_user_ids: Iterable[int] = ()) -> int:
    """Delete the brand's visit events older than ``cutoff`` (batched, idempotent), except
    those of visits whose appointment involves a user under a hold."""
    held = list(held_user_ids)
    query = select(VisitEvent.id).where(VisitEvent.brand_id == brand_id,
                                        VisitEvent.at < cutoff)
    if held:
        held_visits = select(Visit.id).join(Appointment, Appointment.id == Visit.appointment_id) \
            .where(Appointment.patient_id.in_(held) | Appointment.specialist_id.in_(held))
        query = query.where(VisitEvent.visit_id.not_in(held_visits))
    if dry_run:
        return int(session.scalar(select(func.count()).select_from(
            query.execution_options(all_brands=True).subquery())) or 0)
    removed = 0
    while True:
        ids = list(session.scalars(query.limit(BATCH).execution_options(all_brands=True)))
        if not ids:
            return removed
        session.execute(delete(VisitEvent).where(VisitEvent.id.in_(ids))
                        .execution_options(all_brands=True, synchronize_session=False))
        removed += len(ids)
