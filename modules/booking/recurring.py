"""Recurring appointments: every occurrence of a weekly or fortnightly rule is checked against
every rule of the appointment type and every appointment of the specialist before the patient
confirms; the free ones are booked one by one through :func:`services.book` (same lock, same
checks), and a failure of one occurrence does not undo the others.

Occurrences keep the wall-clock time of the first one in the specialist's zone (the zone the
practice's hours are written in), so a DST change never moves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.identity.services import is_member
from engine.web import UserError
from modules.booking import services
from modules.booking.availability import local_wall_time_exists
from modules.booking.calendar import appointment_type_for, booking_settings, calendar_of
from modules.booking.models import Appointment
from modules.booking.models_waitlist import Series, SeriesMember
from modules.booking.schemas import parse_start

STEP_DAYS = {"weekly": 7, "biweekly": 14}
# an until-date rule is expanded at most this far, whatever the brand's maximum
_HARD_LIMIT = 500


class SeriesRule(BaseModel):
    """How a series repeats: weekly or every two weeks, N times or until a (local) date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frequency: Literal["weekly", "biweekly"] = "weekly"
    count: int | None = Field(None, ge=1, le=10_000)
    until: date | None = None

    @model_validator(mode="after")
    def _count_or_until(self) -> Self:
        if (self.count is None) == (self.until is None):
            raise ValueError("give either a number of occurrences or an end date")
        return self


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a series: free to book, or the reason it clashes."""

    start_at: datetime
    free: bool
    reason: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What booking one chosen occurrence gave: the appointment, or why not."""

    start_at: datetime
    appointment: Appointment | None
    reason: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class SeriesResult:
    series: Series | None
    outcomes: list[Outcome]

    @property
    def booked(self) -> list[Appointment]:
        return [o.appointment for o in self.outcomes if o.appointment is not None]


def occurrence_starts(zone: str, first_start: datetime, rule: SeriesRule,
                      max_occurrences: int) -> list[datetime]:
    """The UTC starts of the rule's occurrences, keeping the first one's local wall time.

    More than ``max_occurrences`` is a UserError. A wall time that does not exist on a date
    (clocks skip it) is still listed, at the instant after the jump; availability marks it.
    """
    tz = ZoneInfo(zone)
    first_local = first_start.astimezone(tz).replace(tzinfo=None)
    step = timedelta(days=STEP_DAYS[rule.frequency])
    if rule.count is not None:
        wanted = rule.count
    else:
        assert rule.until is not None
        days = (rule.until - first_local.date()).days
        if days < 0:
            raise UserError(str(_l("The series ends before its first appointment.")),
                            code="invalid", field="until")
        wanted = days // step.days + 1
    if wanted > max_occurrences:
        raise UserError(ngettext("A series has at most %(num)d appointment here; this one "
                                 "would have %(n)d. Choose fewer or an earlier end date.",
                                 "A series has at most %(num)d appointments here; this one "
                                 "would have %(n)d. Choose fewer or an earlier end date.",
                                 max_occurrences, n=min(wanted, _HARD_LIMIT)),
                        code="too_many", field="count")
    starts = []
    for k in range(wanted):
        wall = first_local + k * step
        starts.append(wall.replace(tzinfo=tz, fold=0).astimezone(UTC))
    return starts


def _context(session: Session, brand: BrandConfig, specialist_id: int, appointment_type_id: int,
             first_start: datetime | str, rule: SeriesRule) -> tuple[Any, Any, list[datetime]]:
    settings = booking_settings(brand)
    start = parse_start(first_start)
    appointment_type = appointment_type_for(session, brand, appointment_type_id, specialist_id)
    specialist = session.get(User, specialist_id)
    calendar = calendar_of(session, specialist_id)
    if specialist is None or not is_member(session, brand, specialist) or calendar is None:
        raise UserError(str(_l("This specialist is not listed here.")), code="not_found",
                        status=404)
    starts = occurrence_starts(calendar.timezone, start, rule,
                               settings.recurring_max_occurrences)
    return calendar, appointment_type, starts


def preview_series(session: Session, actor: User, brand: BrandConfig, specialist_id: int,
                   appointment_type_id: int, first_start: datetime | str,
                   rule: SeriesRule) -> list[Occurrence]:
    """Every occurrence of ``rule`` from ``first_start``, each marked free or clashing (with
    the reason), checked by the availability engine against every rule of the type and every
    appointment of the specialist on any brand. Writes nothing."""
    if actor.role == "patient" and actor.brand_id != brand.slug:
        raise UserError(str(_l("Sign in to this site to book.")), code="forbidden", status=403)
    calendar, appointment_type, starts = _context(session, brand, specialist_id,
                                                  appointment_type_id, first_start, rule)
    window_start, window_end = starts[0], starts[-1] + timedelta(minutes=1)
    existing = services._calendar_appointments(session, specialist_id,
                                               window_start - timedelta(days=8),
                                               window_end + timedelta(days=8))
    free = {s.start_at for s in services._free_slots(session, calendar, appointment_type,
                                                     window_start, window_end, existing)}
    now = clock.now()
    result = []
    for start in starts:
        if start in free:
            result.append(Occurrence(start, True))
            continue
        if start <= now:
            result.append(Occurrence(start, False, str(_l("This time is in the past.")),
                                     "past"))
            continue
        tz = ZoneInfo(calendar.timezone)
        if not local_wall_time_exists(start.astimezone(tz).replace(tzinfo=None), tz):
            result.append(Occurrence(start, False, str(_l("This time is not available.")),
                                     "not_available"))
            continue
        try:
            services._why_not_free(session, calendar, appointment_type, start, existing)
        except UserError as exc:
            result.append(Occurrence(start, False, _reason(exc), exc.code))
    return result


def _reason(exc: UserError) -> str:
    """A short, translated reason for a clashing occurrence."""
    reasons = {
        "slot_taken": _l("Another appointment is booked at this time."),
        "not_available": _l("The specialist does not work at this time."),
        "fully_booked": _l("That day or week is fully booked."),
        "too_many": _l("You have reached the most upcoming appointments allowed here."),
        "past": _l("This time is in the past."),
        "busy": _l("Many people are booking right now. Please try again."),
    }
    return str(reasons.get(exc.code, exc.message))


def book_series(session: Session, actor: User, brand: BrandConfig, specialist_id: int,
                appointment_type_id: int, first_start: datetime | str, rule: SeriesRule,
                chosen: list[datetime | str], *, modality: str | None = None) -> SeriesResult:
    """Book the ``chosen`` occurrences of the series (the free ones the patient confirmed).

    Each occurrence is booked by :func:`services.book` in its own savepoint, so one that is
    no longer free is reported in its outcome and the others still book. A chosen time that is
    not an occurrence of the rule is a UserError and nothing is booked. The appointments booked
    are linked by one :class:`Series`; when none could be booked there is no series.
    """
    _, appointment_type, starts = _context(session, brand, specialist_id, appointment_type_id,
                                           first_start, rule)
    wanted = sorted({parse_start(c).astimezone(UTC) for c in chosen})
    if not wanted:
        raise UserError(str(_l("Choose at least one of the free times.")), code="invalid",
                        field="chosen")
    if any(c not in starts for c in wanted):
        raise UserError(str(_l("A chosen time is not part of this series.")), code="invalid",
                        field="chosen")
    outcomes: list[Outcome] = []
    for start in wanted:
        try:
            with session.begin_nested():
                appointment = services.book(session, actor, brand, specialist_id,
                                            appointment_type.id, start, modality=modality)
        except UserError as exc:
            if exc.code in ("forbidden", "staff_only", "not_found"):
                raise  # about the whole series, not this occurrence
            outcomes.append(Outcome(start, None, _reason(exc), exc.code))
        else:
            outcomes.append(Outcome(start, appointment))
    booked = [o.appointment for o in outcomes if o.appointment is not None]
    if not booked:
        return SeriesResult(None, outcomes)
    first = starts[0]
    series = Series(brand_id=brand.slug, patient_id=booked[0].patient_id,
                    specialist_id=specialist_id, appointment_type_id=appointment_type.id,
                    first_start_at=first, frequency=rule.frequency, occurrences=rule.count,
                    until=rule.until)
    session.add(series)
    session.flush()
    session.add_all(SeriesMember(series_id=series.id, appointment_id=a.id) for a in booked)
    session.flush()
    return SeriesResult(series, outcomes)
