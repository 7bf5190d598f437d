"""Scheduling data: a specialist's calendar (one across every brand), appointment types,
weekly availability, date overrides and appointments.

The calendar, its weekly ranges and overrides belong to the specialist (network-wide). An
appointment type is offered on one brand (its price is in that brand's currency). Appointments
are brand-scoped rows, but they all block the same specialist calendar: the availability engine
and the PostgreSQL exclusion constraint look at every brand's appointments.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.db import Base, BrandScoped

MODALITIES = ("video", "in_person", "both")
BOOKABLE_BY = ("patients", "staff")
STATUSES = ("requested", "confirmed", "cancelled", "late_cancelled", "completed", "no_show")
OVERRIDE_KINDS = ("extra_hours", "day_off", "time_off")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({','.join(repr(v) for v in values)})"


class Calendar(Base):
    """A specialist's one calendar: the zone its rules are written in.

    Its row is also the per-specialist lock taken before a booking is checked and written.
    """

    __tablename__ = "booking_calendar"

    id: Mapped[int] = mapped_column(primary_key=True)
    specialist_id: Mapped[int] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    # changes (to a new random token) with every write that can change this specialist's free
    # slots, in the write's own transaction: the key of the cached next free slots
    # (modules/booking/slot_cache.py). Random, not a counter, so a rolled-back write's value
    # is never seen again.
    slots_token: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(8),
                                             server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    def __repr__(self) -> str:
        return f"<Calendar {self.id} specialist={self.specialist_id} {self.timezone}>"


class SlotsEpoch(Base):
    """One row whose token changes with every bulk UPDATE/DELETE of slot-shaping rows (whose
    specialists the ORM cannot name): every cached next-slots entry is then stale at once."""

    __tablename__ = "booking_slots_epoch"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


class AppointmentType(BrandScoped, Base):
    """What a patient books with a specialist on one brand, and the rules of its slots."""

    __tablename__ = "booking_appointment_type"
    __table_args__ = (
        CheckConstraint(_in("modality", MODALITIES), name="modality"),
        CheckConstraint(_in("bookable_by", BOOKABLE_BY), name="bookable_by"),
        CheckConstraint("modality = 'video' OR location IS NOT NULL", name="location"),
        CheckConstraint("duration_minutes BETWEEN 5 AND 480", name="duration"),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
        CheckConstraint("length(currency) = 3", name="currency"),
        CheckConstraint("buffer_before_minutes BETWEEN 0 AND 240 "
                        "AND buffer_after_minutes BETWEEN 0 AND 240", name="buffers"),
        CheckConstraint("min_notice_minutes >= 0", name="notice"),
        CheckConstraint("max_days_ahead BETWEEN 1 AND 730", name="horizon"),
        CheckConstraint("slot_interval_minutes BETWEEN 5 AND 480", name="interval"),
        CheckConstraint("(daily_cap IS NULL OR daily_cap >= 1) "
                        "AND (weekly_cap IS NULL OR weekly_cap >= 1)", name="caps"),
        Index("ix_booking_appointment_type_specialist", "specialist_id", "brand_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    specialist_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    duration_minutes: Mapped[int]
    modality: Mapped[str] = mapped_column(String(10))
    location: Mapped[str | None] = mapped_column(String(200))
    price_minor: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3))
    buffer_before_minutes: Mapped[int] = mapped_column(default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(default=0)
    min_notice_minutes: Mapped[int] = mapped_column(default=0)
    max_days_ahead: Mapped[int] = mapped_column(default=60)
    slot_interval_minutes: Mapped[int] = mapped_column(default=30)
    daily_cap: Mapped[int | None]
    weekly_cap: Mapped[int | None]
    needs_confirmation: Mapped[bool] = mapped_column(default=False)
    bookable_by: Mapped[str] = mapped_column(String(10), default="patients")
    active: Mapped[bool] = mapped_column(default=True)
    intake_form: Mapped[str | None] = mapped_column(String(63))  # key in intake_forms
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return (f"<AppointmentType {self.id} {self.name!r} specialist={self.specialist_id} "
                f"brand={self.brand_id}>")


class WeeklyRule(Base):
    """A weekly working range, in minutes after midnight in the calendar's zone."""

    __tablename__ = "booking_weekly_rule"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("start_minute >= 0 AND start_minute < end_minute "
                        "AND end_minute <= 1440", name="range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("booking_calendar.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int]  # 0 = Monday
    start_minute: Mapped[int]
    end_minute: Mapped[int]

    def __repr__(self) -> str:
        return (f"<WeeklyRule {self.id} day={self.weekday} "
                f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}-"
                f"{self.end_minute // 60:02d}:{self.end_minute % 60:02d}>")


class DateOverride(Base):
    """Extra hours or a day off on a local date, or time off between two instants."""

    __tablename__ = "booking_date_override"
    __table_args__ = (
        CheckConstraint(_in("kind", OVERRIDE_KINDS), name="kind"),
        CheckConstraint(
            "(kind = 'day_off' AND on_date IS NOT NULL AND start_minute IS NULL "
            "AND start_at IS NULL) OR "
            "(kind = 'extra_hours' AND on_date IS NOT NULL AND start_minute >= 0 "
            "AND start_minute < end_minute AND end_minute <= 1440 AND start_at IS NULL) OR "
            "(kind = 'time_off' AND on_date IS NULL AND start_minute IS NULL "
            "AND start_at < end_at)",
            name="shape"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("booking_calendar.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    on_date: Mapped[date | None]
    start_minute: Mapped[int | None]
    end_minute: Mapped[int | None]
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        when = self.on_date or f"{self.start_at}..{self.end_at}"
        return f"<DateOverride {self.id} {self.kind} {when}>"


class Appointment(BrandScoped, Base):
    """A patient's appointment with a specialist, booked on one brand.

    ``blocked_*`` is the appointment plus the type's buffers: the interval no other blocking
    appointment of the specialist may overlap. On PostgreSQL the exclusion constraint
    ``ex_booking_appointment_no_overlap`` enforces it across brands; it is created by the
    migration (0003_booking), not declared here, because SQLite has no equivalent.
    """

    __tablename__ = "booking_appointment"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint("modality IN ('video','in_person')", name="modality"),
        CheckConstraint("start_at < end_at", name="start_before_end"),
        CheckConstraint("blocked_start_at <= start_at AND end_at <= blocked_end_at",
                        name="blocked_covers"),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
        Index("ix_booking_appointment_specialist_blocked", "specialist_id",
              "blocked_start_at", "blocked_end_at"),
        Index("ix_booking_appointment_patient_start", "patient_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    specialist_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id",
                                                          ondelete="RESTRICT"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="RESTRICT"))
    appointment_type_id: Mapped[int] = mapped_column(
        ForeignKey("booking_appointment_type.id", ondelete="RESTRICT"))
    booked_by_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id",
                                                         ondelete="RESTRICT"))
    modality: Mapped[str] = mapped_column(String(10))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    blocked_start_at: Mapped[datetime]
    blocked_end_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    price_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    ics_sequence: Mapped[int] = mapped_column(default=0, server_default="0")  # iCalendar SEQUENCE
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return (f"<Appointment {self.id} {self.status} specialist={self.specialist_id} "
                f"{self.start_at:%Y-%m-%dT%H:%MZ} brand={self.brand_id}>")


from modules.booking.models_intake import IntakeAnswers  # noqa: E402, F401
from modules.booking.models_reminders import ReminderSent  # noqa: E402, F401
from modules.booking.models_waitlist import (  # noqa: E402, F401
    FreedSlot,
    Series,
    SeriesMember,
    WaitlistEntry,
    WaitlistOffer,
)
