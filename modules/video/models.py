"""Video visits: one visit per video appointment, and what happened in it.

A visit holds only control state (admitted, ended); no media ever reaches the server, so
nothing of the call's content is stored. Events (joined, admitted, left, ended) carry times
and durations for the specialist's record and the attendance suggestion; they hold no health
data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.db import Base, BrandScoped

ROLES = ("specialist", "patient")
EVENT_KINDS = ("joined", "admitted", "left", "ended")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({','.join(repr(v) for v in values)})"


class Visit(BrandScoped, Base):
    """The video visit of one video appointment (created when a participant first opens it)."""

    __tablename__ = "video_visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("booking_appointment.id", ondelete="CASCADE"), unique=True)
    admitted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        state = "ended" if self.ended_at else "admitted" if self.admitted_at else "open"
        return (f"<Visit {self.id} appointment={self.appointment_id} {state} "
                f"brand={self.brand_id}>")


class VisitEvent(BrandScoped, Base):
    """Something that happened in a visit: a participant joined or left, the patient was
    admitted, the specialist ended the visit (with its duration in seconds)."""

    __tablename__ = "video_event"
    __table_args__ = (
        CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint("duration_seconds IS NULL OR duration_seconds >= 0", name="duration"),
        Index("ix_video_event_visit_at", "visit_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("video_visit.id", ondelete="CASCADE"))
    # the participant the event is about (SET NULL when an account is erased: the record of a
    # visit that took place outlives the account, without naming anyone)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_user.id", ondelete="SET NULL"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    duration_seconds: Mapped[int | None]

    def __repr__(self) -> str:
        return f"<VisitEvent {self.id} visit={self.visit_id} {self.role} {self.kind} {self.at}>"


__all__ = ["EVENT_KINDS", "ROLES", "Visit", "VisitEvent"]
