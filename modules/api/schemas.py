"""The API's input (unknown fields are errors) and output models.

The OpenAPI document's component schemas are generated from these very models, so what the
document says and what the views parse and answer cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from modules.booking.models import STATUSES


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- input ------------------------------------------------------------------------------------

MAX_WINDOW_DAYS = 31


class AvailabilityQuery(_Input):
    """``?type=&from=&to=``: free slots of one appointment type starting in ``[from, to)``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    type: int = Field(ge=1, description="an appointment type id of the specialist")
    from_: AwareDatetime = Field(alias="from", description="ISO 8601 with a zone offset")
    to: AwareDatetime = Field(description="ISO 8601 with a zone offset; at most "
                              f"{MAX_WINDOW_DAYS} days after `from`")


class AppointmentsQuery(_Input):
    """``?status=&page=``: the caller's own appointments, soonest first."""

    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    page: int = Field(1, ge=1, le=10_000)


class BookInput(_Input):
    """Book an appointment for yourself. The patient, brand, status and price are decided by
    the server: sending them is an error (unknown field), never an override."""

    specialist_id: int = Field(ge=1)
    appointment_type_id: int = Field(ge=1)
    start: AwareDatetime = Field(description="the slot's start, ISO 8601 with a zone offset")
    modality: Literal["video", "in_person"] | None = Field(
        None, description="required when the appointment type is offered both ways")


class CancelInput(_Input):
    """Cancel one of your appointments (an empty object; the body may be left out)."""


class RescheduleInput(_Input):
    """Move one of your appointments to another free slot of the same type."""

    start: AwareDatetime = Field(description="the new start, ISO 8601 with a zone offset")


# --- output -----------------------------------------------------------------------------------


class Problem(_Output):
    """Every error: a stable code, a message in the caller's language, the field at fault."""

    error: str = Field(description="a stable, machine-readable code")
    message: str = Field(description="what went wrong, in the caller's language")
    field: str | None = Field(description="the input field at fault, if one is")


class Money(_Output):
    amount_minor: int = Field(description="integer minor units (cents)")
    currency: str = Field(min_length=3, max_length=3)


class SpecialistCard(_Output):
    id: int = Field(description="the directory profile id")
    specialist_id: int = Field(description="the specialist's id (for appointment types, "
                               "availability and booking)")
    display_name: str
    headline: str
    has_photo: bool
    specialties: list[str]
    languages: list[str]
    modalities: list[str]


class SpecialistProfile(SpecialistCard):
    bio: str


class DirectoryPage(_Output):
    items: list[SpecialistCard]
    total: int
    page: int
    pages: int


class AppointmentTypeOut(_Output):
    id: int
    specialist_id: int
    name: str
    duration_minutes: int
    modality: Literal["video", "in_person", "both"]
    location: str | None
    price: Money
    needs_confirmation: bool
    bookable_by: Literal["patients", "staff"]
    min_notice_minutes: int
    max_days_ahead: int


class AppointmentTypeList(_Output):
    items: list[AppointmentTypeOut]


class SlotOut(_Output):
    start: datetime = Field(description="UTC")
    end: datetime = Field(description="UTC")


class Availability(_Output):
    specialist_id: int
    appointment_type_id: int
    slots: list[SlotOut]


class AppointmentOut(_Output):
    id: int
    specialist_id: int
    patient_id: int
    appointment_type_id: int
    modality: Literal["video", "in_person"]
    start: datetime = Field(description="UTC")
    end: datetime = Field(description="UTC")
    status: Literal[STATUSES]  # type: ignore[valid-type]
    price: Money
    created_at: datetime


class AppointmentList(_Output):
    items: list[AppointmentOut]
    total: int
    page: int
    pages: int


INPUT_MODELS: tuple[type[BaseModel], ...] = (BookInput, CancelInput, RescheduleInput)
OUTPUT_MODELS: tuple[type[BaseModel], ...] = (
    Problem, DirectoryPage, SpecialistProfile, AppointmentTypeList, Availability,
    AppointmentOut, AppointmentList)
