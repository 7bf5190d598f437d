"""Intake answers stored with an appointment: the one table holding them.

They are health data. Every read and write goes through ``modules.booking.intake``; ``answers``
is encrypted at field level (:mod:`engine.crypto`): the ``answers`` column holds an AES-GCM token
bound to this table, column and the row's ``seal``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.crypto import EncryptedJSON, Sealed, encrypted
from engine.db import Base, BrandScoped

INTAKE_SOURCES = ("matching", "intake_form")


class IntakeAnswers(Sealed, BrandScoped, Base):
    """The answers a patient gave for one appointment (from matching or an intake form)."""

    __tablename__ = "booking_intake_answers"
    __table_args__ = (
        CheckConstraint("source IN ('matching','intake_form')", name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("booking_appointment.id", ondelete="CASCADE"), unique=True)
    source: Mapped[str] = mapped_column(String(12))
    # the intake form's key in brand YAML ("matching" for the matching questionnaire)
    form_key: Mapped[str] = mapped_column(String(63))
    answers_sealed: Mapped[str] = mapped_column(
        "answers", EncryptedJSON("booking_intake_answers.answers"))
    # list[dict[str, Any]] in, out: encrypted on write, decrypted on read
    answers = encrypted("answers_sealed")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        # never the answers: they are health data
        return (f"<IntakeAnswers {self.id} appointment={self.appointment_id} {self.source} "
                f"brand={self.brand_id}>")
