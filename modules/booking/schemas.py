"""Input of the booking services, parsed with pydantic (unknown fields are errors)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.web import UserError


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def parse_minute(value: object) -> object:
    """'09:30' -> 570; '24:00' is the end of the day (1440). Integers pass through."""
    if isinstance(value, str):
        hours, sep, minutes = value.partition(":")
        if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            raise ValueError("write the time as HH:MM, e.g. 09:30")
        h, m = int(hours), int(minutes)
        if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
            raise ValueError("the time is between 00:00 and 24:00")
        return h * 60 + m
    return value


class WeeklyRangeInput(_Input):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start_minute: int = Field(ge=0, le=1439)
    end_minute: int = Field(ge=1, le=1440)

    @field_validator("start_minute", "end_minute", mode="before")
    @classmethod
    def _clock_time(cls, v: object) -> object:
        return parse_minute(v)

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.start_minute >= self.end_minute:
            raise ValueError("a range ends after it starts")
        return self


class OverrideInput(_Input):
    """Extra hours or a day off on a local date; time off between two aware instants."""

    kind: Literal["extra_hours", "day_off", "time_off"]
    on_date: date | None = None
    start_minute: int | None = Field(None, ge=0, le=1439)
    end_minute: int | None = Field(None, ge=1, le=1440)
    start_at: datetime | None = None
    end_at: datetime | None = None

    @field_validator("start_minute", "end_minute", mode="before")
    @classmethod
    def _clock_time(cls, v: object) -> object:
        return parse_minute(v)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        dated = self.on_date is not None
        minutes = (self.start_minute, self.end_minute)
        instants = (self.start_at, self.end_at)
        if self.kind == "day_off":
            if not dated or minutes != (None, None) or instants != (None, None):
                raise ValueError("a day off gives only on_date")
        elif self.kind == "extra_hours":
            if not dated or None in minutes or instants != (None, None):
                raise ValueError("extra hours give on_date, start_minute and end_minute")
            if self.start_minute >= self.end_minute:  # type: ignore[operator]
                raise ValueError("extra hours end after they start")
        else:
            if dated or minutes != (None, None) or None in instants:
                raise ValueError("time off gives start_at and end_at")
            for v in instants:
                if v.tzinfo is None:  # type: ignore[union-attr]
                    raise ValueError("time off instants need a zone offset")
            if self.start_at >= self.end_at:  # type: ignore[operator]
                raise ValueError("time off ends after it starts")
        return self


class AppointmentTypeInput(_Input):
    name: str = Field(min_length=1, max_length=120)
    duration_minutes: int = Field(ge=5, le=480)
    modality: Literal["video", "in_person", "both"]
    location: str | None = Field(None, max_length=200)
    price: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    catalog_key: str | None = Field(None, max_length=63,
                                    description="a key of the brand's pricing.appointment_types")
    buffer_before_minutes: int = Field(0, ge=0, le=240)
    buffer_after_minutes: int = Field(0, ge=0, le=240)
    min_notice_minutes: int = Field(0, ge=0, le=60 * 24 * 90)
    max_days_ahead: int = Field(60, ge=1, le=730)
    slot_interval_minutes: int = Field(30, ge=5, le=480)
    daily_cap: int | None = Field(None, ge=1, le=100)
    weekly_cap: int | None = Field(None, ge=1, le=500)
    needs_confirmation: bool = False
    bookable_by: Literal["patients", "staff"] = "patients"

    @field_validator("location")
    @classmethod
    def _blank_location(cls, v: str | None) -> str | None:
        return v or None

    @model_validator(mode="after")
    def _location(self) -> Self:
        if self.modality != "video" and not self.location:
            raise ValueError("in-person appointments need a location")
        return self


def parse_zone(value: str) -> str:
    """An IANA zone name, or a UserError."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(str(_l("“%(zone)s” is not a time zone (e.g. Europe/Madrid).",
                               zone=value)),
                        code="invalid_timezone", field="timezone") from exc
    return value


def parse_start(value: datetime | str) -> datetime:
    """An appointment start: an aware datetime, or ISO 8601 text with a zone offset."""
    if isinstance(value, str):
        if len(value) > 40:
            raise UserError(str(_l("This is not a time.")), code="invalid_time", field="start")
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise UserError(str(_l("This is not a time (use ISO 8601, e.g. "
                                   "2026-03-02T09:00:00Z).")),
                            code="invalid_time", field="start") from exc
    if not isinstance(value, datetime):
        raise UserError(str(_l("This is not a time.")), code="invalid_time", field="start")
    if value.tzinfo is None or value.utcoffset() is None:
        raise UserError(str(_l("The time needs a zone offset (e.g. 2026-03-02T09:00:00+01:00).")),
                        code="invalid_time", field="start")
    return value
