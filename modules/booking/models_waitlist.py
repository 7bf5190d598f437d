"""Recurring series and the waitlist.

A series links appointments booked together from one recurrence rule; it adds no column to
``booking_appointment``. A waitlist entry asks for an earlier slot of one appointment type; a
freed slot (one per cancelled appointment, which makes offering idempotent) is offered to the
entries in order, one hold at a time. A hold blocks the slot for everyone else until it expires
(evaluated against the clock on every read, so no worker is needed for it to end).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.db import Base, BrandScoped

FREQUENCIES = ("weekly", "biweekly")
ENTRY_STATUSES = ("waiting", "booked", "left")
OFFER_STATUSES = ("held", "accepted", "expired")


class Series(BrandScoped, Base):
    """Appointments a patient booked together from one recurrence rule."""

    __tablename__ = "booking_series"
    __table_args__ = (
        CheckConstraint("frequency IN ('weekly','biweekly')", name="frequency"),
        CheckConstraint("(occurrences IS NULL) <> (until IS NULL)", name="count_or_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="RESTRICT"),
                                            index=True)
    specialist_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id",
                                                          ondelete="RESTRICT"))
    appointment_type_id: Mapped[int] = mapped_column(
        ForeignKey("booking_appointment_type.id", ondelete="RESTRICT"))
    first_start_at: Mapped[datetime]
    frequency: Mapped[str] = mapped_column(String(10))
    occurrences: Mapped[int | None]
    until: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return (f"<Series {self.id} {self.frequency} specialist={self.specialist_id} "
                f"patient={self.patient_id}>")


class SeriesMember(Base):
    """One appointment of a series."""

    __tablename__ = "booking_series_member"

    series_id: Mapped[int] = mapped_column(
        ForeignKey("booking_series.id", ondelete="CASCADE"), primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("booking_appointment.id", ondelete="CASCADE"), primary_key=True, unique=True)

    def __repr__(self) -> str:
        return f"<SeriesMember series={self.series_id} appointment={self.appointment_id}>"


class WaitlistEntry(BrandScoped, Base):
    """A patient waiting for an earlier slot of one of a specialist's appointment types."""

    __tablename__ = "booking_waitlist_entry"
    __table_args__ = (
        CheckConstraint("status IN ('waiting','booked','left')", name="status"),
        Index("ix_booking_waitlist_entry_queue", "specialist_id", "appointment_type_id",
              "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"),
                                            index=True)
    specialist_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id",
                                                          ondelete="CASCADE"))
    appointment_type_id: Mapped[int] = mapped_column(
        ForeignKey("booking_appointment_type.id", ondelete="CASCADE"))
    # only slots starting before this local date (the specialist's zone) are wanted
    before: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(8), default="waiting")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return (f"<WaitlistEntry {self.id} {self.status} patient={self.patient_id} "
                f"specialist={self.specialist_id} type={self.appointment_type_id}>")


class FreedSlot(BrandScoped, Base):
    """The time a cancelled appointment gave back, offered to the waitlist (once)."""

    __tablename__ = "booking_freed_slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("booking_appointment.id", ondelete="CASCADE"), unique=True)
    specialist_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id",
                                                          ondelete="CASCADE"))
    appointment_type_id: Mapped[int] = mapped_column(
        ForeignKey("booking_appointment_type.id", ondelete="CASCADE"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    blocked_start_at: Mapped[datetime]
    blocked_end_at: Mapped[datetime]
    # no more offers: taken by someone, or nobody left in line
    closed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return (f"<FreedSlot {self.id} appointment={self.appointment_id} "
                f"{self.start_at:%Y-%m-%dT%H:%MZ}>")


class WaitlistOffer(BrandScoped, Base):
    """A freed slot held for one waitlisted patient until ``expires_at``.

    Only the hash of the emailed accept token is kept; the link works once and only while held.
    """

    __tablename__ = "booking_waitlist_offer"
    __table_args__ = (
        CheckConstraint("status IN ('held','accepted','expired')", name="status"),
        UniqueConstraint("freed_slot_id", "entry_id", name="one_offer_per_entry"),
        Index("ix_booking_waitlist_offer_specialist_hold", "specialist_id", "status",
              "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    freed_slot_id: Mapped[int] = mapped_column(
        ForeignKey("booking_freed_slot.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("booking_waitlist_entry.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"))
    specialist_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id",
                                                          ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(8), default="held")
    offered_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("booking_appointment.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return (f"<WaitlistOffer {self.id} {self.status} patient={self.patient_id} "
                f"until={self.expires_at:%Y-%m-%dT%H:%MZ}>")


__all__ = ["FreedSlot", "Series", "SeriesMember", "WaitlistEntry", "WaitlistOffer"]
