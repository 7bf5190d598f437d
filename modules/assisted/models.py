"""Assisted journey data: a patient's request for help finding a specialist, and the
coordinators' allocations (each a proposed appointment booked on the patient's behalf).

``AssistanceRequest.needs`` is health data: it lives in that one column, encrypted at field level
(:mod:`engine.crypto`, bound to the row's ``seal``), and is read and written only through
:mod:`modules.assisted.services`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.crypto import EncryptedText, Sealed, encrypted
from engine.db import Base, BrandScoped

REQUEST_STATUSES = ("submitted", "proposed", "accepted", "another_time", "cancelled")
# a coordinator works on these: new requests and those the patient sent back
OPEN_STATUSES = ("submitted", "another_time")
URGENCIES = ("routine", "soon", "urgent")
MODALITY_PREFERENCES = ("any", "video", "in_person")
OUTCOMES = ("proposed", "accepted", "another_time", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({','.join(repr(v) for v in values)})"


class AssistanceRequest(Sealed, BrandScoped, Base):
    """What a patient (or their organization's admin) asks a coordinator to arrange."""

    __tablename__ = "assisted_request"
    __table_args__ = (
        CheckConstraint(_in("status", REQUEST_STATUSES), name="status"),
        CheckConstraint(_in("urgency", URGENCIES), name="urgency"),
        CheckConstraint(_in("modality", MODALITY_PREFERENCES), name="modality"),
        Index("ix_assisted_request_queue", "brand_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"),
                                            index=True)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id",
                                                            ondelete="RESTRICT"))
    # health data: only through the services (see the module docstring)
    needs_sealed: Mapped[str] = mapped_column("needs", EncryptedText("assisted_request.needs"))
    needs = encrypted("needs_sealed")  # str, encrypted on write, decrypted on read
    language: Mapped[str | None] = mapped_column(String(8))
    modality: Mapped[str] = mapped_column(String(10), default="any")
    # time windows that suit, as "<weekday 0-6>:<morning|afternoon|evening>" in ``timezone``
    time_windows: Mapped[list[str]] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64))
    urgency: Mapped[str] = mapped_column(String(10), default="routine")
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    def __repr__(self) -> str:
        return (f"<AssistanceRequest {self.id} {self.status} patient={self.patient_id} "
                f"brand={self.brand_id}>")


class Allocation(BrandScoped, Base):
    """A coordinator's answer to a request: a specialist, an appointment booked for the
    patient, the reason for the choice, and what the patient said."""

    __tablename__ = "assisted_allocation"
    __table_args__ = (
        CheckConstraint(_in("outcome", OUTCOMES), name="outcome"),
        CheckConstraint("length(reason) > 0", name="reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("assisted_request.id", ondelete="CASCADE"), index=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("booking_appointment.id", ondelete="RESTRICT"))
    coordinator_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id",
                                                           ondelete="RESTRICT"))
    specialist_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id",
                                                          ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16), default="proposed")
    # the patient's words when asking for another time (about times, for the coordinator)
    patient_note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    answered_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return (f"<Allocation {self.id} request={self.request_id} {self.outcome} "
                f"appointment={self.appointment_id}>")
