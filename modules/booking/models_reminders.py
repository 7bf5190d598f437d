"""The sent-reminders ledger: one row per reminder sent, unique on what makes a reminder.

The key is (appointment, channel, offset, the appointment's start): a reminder goes out once,
whichever worker sends it and however often the sweep runs; a rescheduled appointment has a
new start, so its reminders are due again for the new time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.db import Base, BrandScoped

# engine.sms holds the notify_sms table the reminders write to; importing it here puts that
# table in the metadata Alembic compares (engine.migrate.all_metadata imports engine.notify only)
from engine.sms import SmsMessage  # noqa: F401

CHANNELS = ("email", "sms")


class ReminderSent(BrandScoped, Base):
    """A reminder of one appointment sent on one channel, for one offset and start."""

    __tablename__ = "booking_reminder_sent"
    __table_args__ = (
        UniqueConstraint("appointment_id", "channel", "offset_hours", "start_at",
                         name="uq_booking_reminder_sent_once"),
        CheckConstraint("channel IN ('email','sms')", name="channel"),
        CheckConstraint("offset_hours > 0", name="offset_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("booking_appointment.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(5))
    offset_hours: Mapped[int]
    start_at: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return (f"<ReminderSent {self.id} appointment={self.appointment_id} {self.channel} "
                f"{self.offset_hours}h start={self.start_at:%Y-%m-%dT%H:%MZ}>")
