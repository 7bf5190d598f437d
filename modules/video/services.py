"""Video visits: join links, opening a link, admitting, ending, and the record of a visit.

Services take ``(session, actor, brand, ...)`` and never read the request. The platform secret
(which signs links, per brand) is passed in by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.web import UserError
from modules.booking.models import Appointment
from modules.video import VideoSettings
from modules.video.links import BadLink, JoinClaim, read_join, sign_join
from modules.video.models import Visit, VisitEvent

JOINABLE_STATUSES = ("confirmed", "completed", "no_show")
CANCELLED_STATUSES = ("cancelled", "late_cancelled")


class LinkRefused(UserError):
    """A join link that does not open a room; ``code`` says why (the page explains it):
    tampered, other_brand, other_participant, not_found, not_video, cancelled, not_confirmed,
    ended, too_early, expired."""

    def __init__(self, code: str, status: int = 403, *, opens_at: datetime | None = None):
        super().__init__(code, code=code, status=status)
        self.opens_at = opens_at


def video_settings(brand: BrandConfig) -> VideoSettings:
    settings = getattr(brand.modules, "video", None)
    if not isinstance(settings, VideoSettings) or not settings.enabled:
        raise UserError(_("Video visits are not offered here."), code="not_found", status=404)
    return settings


def join_window(brand: BrandConfig, appointment: Appointment) -> tuple[datetime, datetime]:
    """When the appointment's join links open and close (from its current times)."""
    settings = video_settings(brand)
    return (appointment.start_at - timedelta(minutes=settings.join_before_minutes),
            appointment.end_at + timedelta(minutes=settings.join_after_minutes))


def role_of(appointment: Appointment, user_id: int) -> str | None:
    if user_id == appointment.specialist_id:
        return "specialist"
    if user_id == appointment.patient_id:
        return "patient"
    return None


def join_token(platform_secret: str, brand: BrandConfig, appointment: Appointment,
               user_id: int) -> str | None:
    """The join-link token of ``user_id`` for a video appointment of ``brand`` (None when
    they take no part in it or it is not a video appointment)."""
    role = role_of(appointment, user_id)
    if role is None or appointment.modality != "video" or appointment.brand_id != brand.slug:
        return None
    return sign_join(platform_secret, JoinClaim(brand.slug, appointment.id, user_id, role))


def visit_of(session: Session, appointment: Appointment) -> Visit:
    """The appointment's visit, created on first use (two first uses at once make one)."""
    visit = session.scalar(select(Visit).where(Visit.appointment_id == appointment.id))
    if visit is not None:
        return visit
    try:
        with session.begin_nested():
            visit = Visit(appointment_id=appointment.id, brand_id=appointment.brand_id)
            session.add(visit)
    except IntegrityError:
        visit = session.scalar(select(Visit).where(Visit.appointment_id == appointment.id))
        assert visit is not None
    return visit


@dataclass(frozen=True)
class Opened:
    """A link that opens a room: the visit, its appointment, who opened it and the other."""

    visit: Visit  # None only from open_link(create_visit=False) before anyone joined
    appointment: Appointment
    role: str
    user: User
    peer: User
    closes_at: datetime


def open_link(session: Session, actor: User, brand: BrandConfig, platform_secret: str,
              token: str, *, create_visit: bool = True) -> Opened:
    """Check ``token`` for ``actor`` on ``brand`` now; :class:`LinkRefused` says why not.

    The visit is made on first use unless ``create_visit`` is false (a page that only shows
    the room writes nothing; joining it makes the visit). Without it ``visit`` may be None.

    The signature and the participant are checked before anything about the appointment is
    looked at, so a link never tells a stranger whether an appointment exists or changed.
    """
    try:
        claim = read_join(platform_secret, brand.slug, token)
    except BadLink as exc:
        raise LinkRefused(exc.reason, 404) from exc
    if claim.user_id != actor.id:
        raise LinkRefused("other_participant")
    appointment = session.scalar(select(Appointment).where(
        Appointment.id == claim.appointment_id, Appointment.brand_id == brand.slug))
    if appointment is None or role_of(appointment, actor.id) != claim.role:
        raise LinkRefused("not_found", 404)
    if appointment.modality != "video":
        raise LinkRefused("not_video", 404)
    if appointment.status in CANCELLED_STATUSES:
        raise LinkRefused("cancelled", 410)
    visit = session.scalar(select(Visit).where(Visit.appointment_id == appointment.id))
    if visit is not None and visit.ended_at is not None:
        raise LinkRefused("ended", 410)
    if appointment.status not in JOINABLE_STATUSES:
        raise LinkRefused("not_confirmed", 409)
    opens_at, closes_at = join_window(brand, appointment)
    now = clock.now()
    if now < opens_at:
        raise LinkRefused("too_early", 425, opens_at=opens_at)
    if now > closes_at:
        raise LinkRefused("expired", 410)
    peer_id = appointment.patient_id if claim.role == "specialist" else appointment.specialist_id
    peer = session.get(User, peer_id)
    assert peer is not None  # foreign key
    if visit is None and create_visit:
        visit = visit_of(session, appointment)
    return Opened(visit, appointment, claim.role, actor, peer, closes_at)  # type: ignore[arg-type]


def record_event(session: Session, visit: Visit, user_id: int | None, role: str, kind: str,
                 duration_seconds: int | None = None) -> VisitEvent:
    event = VisitEvent(visit_id=visit.id, brand_id=visit.brand_id, user_id=user_id, role=role,
                       kind=kind, at=clock.now(), duration_seconds=duration_seconds)
    session.add(event)
    session.flush()
    return event


def _hosted_visit(session: Session, actor: User, brand: BrandConfig, visit_id: int) -> Visit:
    video_settings(brand)
    visit = session.scalar(select(Visit).where(Visit.id == visit_id,
                                               Visit.brand_id == brand.slug))
    appointment = visit and session.get(Appointment, visit.appointment_id)
    if visit is None or appointment is None or appointment.specialist_id != actor.id:
        raise UserError(_("This video visit does not exist."), code="not_found", status=404)
    return visit


def admit_patient(session: Session, actor: User, brand: BrandConfig, visit_id: int) -> bool:
    """The specialist lets the patient in from the waiting room (once; a rejoin after a drop
    needs no second admission). True when this call admitted them."""
    visit = _hosted_visit(session, actor, brand, visit_id)
    if visit.ended_at is not None:
        raise UserError(_("This video visit has ended."), code="ended", status=410)
    if visit.admitted_at is not None:
        return False
    visit.admitted_at = clock.now()
    record_event(session, visit, actor.id, "specialist", "admitted")
    _audit(session, "video.visit.admitted", brand, actor, visit)
    return True


def end_visit(session: Session, actor: User, brand: BrandConfig, visit_id: int) -> Visit:
    """The specialist ends the visit: both links stop opening, with the visit's duration (from
    admission, else from its first join) recorded. Ending twice changes nothing."""
    visit = _hosted_visit(session, actor, brand, visit_id)
    if visit.ended_at is not None:
        return visit
    now = clock.now()
    first_join = session.scalar(select(VisitEvent.at).where(
        VisitEvent.visit_id == visit.id, VisitEvent.kind == "joined")
        .order_by(VisitEvent.at).limit(1))
    started = visit.admitted_at or first_join or now
    visit.ended_at = now
    record_event(session, visit, actor.id, "specialist", "ended",
                 max(0, int((now - started).total_seconds())))
    _audit(session, "video.visit.ended", brand, actor, visit)
    return visit


def joined(session: Session, opened: Opened, brand: BrandConfig) -> VisitEvent:
    """Record that the participant of ``opened`` joined (each join and rejoin)."""
    event = record_event(session, opened.visit, opened.user.id, opened.role, "joined")
    _audit(session, "video.visit.joined", brand, opened.user, opened.visit)
    return event


def _audit(session: Session, action: str, brand: BrandConfig, actor: User,
           visit: Visit) -> None:
    """An audit event with no health data: who, which visit and appointment."""
    appointment = session.get(Appointment, visit.appointment_id)
    audit.record(session, action=action, brand_id=brand.slug, actor=actor,
                 target_type="video_visit", target_id=visit.id,
                 patient_id=appointment.patient_id if appointment is not None else None,
                 details={"appointment_id": visit.appointment_id})


# --- the record shown to the specialist ------------------------------------------------------


@dataclass(frozen=True)
class VisitRecord:
    visit: Visit | None  # None: nobody opened a link yet
    events: list[VisitEvent]
    patient_connected_seconds: int
    suggestion: str | None  # "completed" | "no_show" | None

    @property
    def duration_seconds(self) -> int | None:
        ended = [e for e in self.events if e.kind == "ended"]
        return ended[-1].duration_seconds if ended else None


def _connected_seconds(events: list[VisitEvent], role: str, until: datetime) -> int:
    total, since = 0.0, None
    for e in events:
        if e.role != role:
            continue
        if e.kind == "joined" and since is None:
            since = e.at
        elif e.kind == "left" and since is not None:
            total += (e.at - since).total_seconds()
            since = None
    if since is not None:
        total += (until - since).total_seconds()
    return int(total)


def visit_record(session: Session, brand: BrandConfig,
                 appointment: Appointment) -> VisitRecord | None:
    """The visit of ``appointment`` with its events and an attendance suggestion: completed
    when the patient was in the call, no-show when the join window closed without them."""
    visit = session.scalar(select(Visit).where(Visit.appointment_id == appointment.id))
    now = clock.now()
    events = [] if visit is None else list(session.scalars(
        select(VisitEvent).where(VisitEvent.visit_id == visit.id)
        .order_by(VisitEvent.at, VisitEvent.id)))
    patient_in = any(e.role == "patient" and e.kind == "joined" for e in events)
    admitted = visit is not None and (visit.admitted_at is not None
                                      or video_settings(brand).admit == "automatic")
    suggestion: str | None = None
    if patient_in and admitted:
        suggestion = "completed"
    elif not patient_in and now > join_window(brand, appointment)[1]:
        suggestion = "no_show"
    if visit is None and suggestion is None:
        return None
    until = (visit.ended_at if visit is not None else None) or now
    return VisitRecord(visit, events, _connected_seconds(events, "patient", until), suggestion)


def export_rows(events: list[VisitEvent]) -> list[dict[str, Any]]:
    return [{"visit_id": e.visit_id, "role": e.role, "kind": e.kind, "at": e.at.isoformat(),
             "duration_seconds": e.duration_seconds} for e in events]


__all__ = ["LinkRefused", "Opened", "VisitRecord", "admit_patient", "end_visit", "join_token",
           "join_window", "joined", "open_link", "record_event", "video_settings",
           "visit_of", "visit_record"]
