"""Input of the assisted journey's forms, parsed with pydantic (unknown fields are errors), and
the messages a person sees when their input is refused."""

from __future__ import annotations

from typing import Any, Literal

from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

WEEKDAYS = range(7)  # 0 = Monday
# a part of the day, as [start, end) minutes after local midnight in the patient's zone
DAY_PARTS: dict[str, tuple[int, int]] = {
    "morning": (8 * 60, 12 * 60),
    "afternoon": (12 * 60, 17 * 60),
    "evening": (17 * 60, 21 * 60),
}
TIME_WINDOWS = tuple(f"{day}:{part}" for day in WEEKDAYS for part in DAY_PARTS)
MAX_NEEDS = 4000
MAX_NOTE = 500


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class RequestInput(_Input):
    """An assistance request: needs (health data), preferences and the times that suit."""

    needs: str = Field(min_length=10, max_length=MAX_NEEDS)
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}$")
    modality: Literal["any", "video", "in_person"] = "any"
    time_windows: tuple[Literal[*TIME_WINDOWS], ...] = Field(  # type: ignore[valid-type]
        min_length=1, max_length=len(TIME_WINDOWS))
    urgency: Literal["routine", "soon", "urgent"] = "routine"
    # who the request is for, when an organization's admin submits it for a member
    patient_id: int | None = Field(None, ge=1)

    @field_validator("needs", mode="before")
    @classmethod
    def _newlines(cls, v: object) -> object:
        return v.replace("\r\n", "\n").replace("\r", "\n") if isinstance(v, str) else v

    @field_validator("language", mode="before")
    @classmethod
    def _blank_language(cls, v: object) -> object:
        return v or None

    @field_validator("time_windows", mode="after")
    @classmethod
    def _unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v))


class AllocationInput(_Input):
    """A coordinator's choice: a specialist's appointment type at a start, and why."""

    specialist_id: int = Field(ge=1)
    appointment_type_id: int = Field(ge=1)
    start: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=3, max_length=500)
    modality: Literal["video", "in_person"] | None = None

    @field_validator("modality", mode="before")
    @classmethod
    def _blank_modality(cls, v: object) -> object:
        return v or None


class AnotherTimeInput(_Input):
    """The patient's answer to a proposal they cannot take."""

    note: str = Field("", max_length=MAX_NOTE)


def error_messages(exc: ValidationError) -> dict[str, str]:
    """field -> a message a person can act on, for every refused field of an assisted form."""
    messages: dict[str, Any] = {
        "needs": _l("Describe what you need in 10 to %(n)d characters.", n=MAX_NEEDS),
        "language": _l("Choose a language from the list."),
        "modality": _l("Choose video, in person or either."),
        "time_windows": _l("Choose at least one time that suits you."),
        "urgency": _l("Choose how soon you need an appointment."),
        "patient_id": _l("Choose a member of your organization."),
        "specialist_id": _l("Choose a specialist."),
        "appointment_type_id": _l("Choose an appointment type."),
        "start": _l("Choose one of the free times."),
        "reason": _l("Record why you chose this specialist (3 to 500 characters)."),
        "note": _l("Keep the note to %(n)d characters.", n=MAX_NOTE),
    }
    out: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        field = str(err["loc"][0]) if err["loc"] else "form"
        if err["type"] == "extra_forbidden":
            field = "form"
        out.setdefault(field, str(messages.get(field, _l("This value is not valid."))))
    return out
