"""Batched reads for many specialists at once: the next free slots of a whole directory page.

Per specialist, the next slots take about ten queries (the specialist, the membership, the
calendar, rules, overrides, types, appointments and waitlist holds, per window and type).
Here each of those is ONE query for the whole page, so a page of 1,000 specialists costs the
same queries as a page of one: the listed specialists, their calendars, weekly rules,
overrides and patient-bookable types, then per 14-day window the appointments (of every brand:
one calendar) and the waitlist holds of those still short of slots. Nearly every page is served
by the first window.

The rows are read as plain values, instants as whole POSIX seconds computed by the database
(:func:`engine.db.epoch_floor`), and fed to the availability engine's prepared calendar
(:class:`~modules.booking.availability.CalendarView`): the same pure engine, and the same rules,
as :func:`modules.booking.services.available_slots` for one specialist and type.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import NamedTuple

from sqlalchemy import ColumnElement, String, cast, func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.db import epoch_ceil, epoch_floor
from engine.identity.models import SpecialistMembership, User
from engine.web import network_id
from modules.booking import availability
from modules.booking.availability import (
    BLOCKING_STATUSES,
    COUNTED_STATUSES,
    CalendarView,
    Slot,
    SlotRules,
    Week,
    week_of,
)
from modules.booking.calendar import booking_settings
from modules.booking.models import (
    Appointment,
    AppointmentType,
    Calendar,
    DateOverride,
    WeeklyRule,
)
from modules.booking.models_waitlist import FreedSlot, WaitlistOffer

NEXT_SLOTS_STEP = timedelta(days=14)
# caps count whole local days and ISO weeks around a window (as the services do)
CAP_MARGIN = timedelta(days=8)
NO_HOURS = week_of(())


class BookableType(NamedTuple):
    """What a listing needs of a patient-bookable appointment type (read without the ORM):
    its id and name to show and link, and its scheduling rules."""

    id: int
    name: str
    specialist_id: int
    rules: SlotRules


_TYPE_COLUMNS = (AppointmentType.id, AppointmentType.name, AppointmentType.specialist_id,
                 AppointmentType.duration_minutes, AppointmentType.slot_interval_minutes,
                 AppointmentType.buffer_before_minutes, AppointmentType.buffer_after_minutes,
                 AppointmentType.min_notice_minutes, AppointmentType.max_days_ahead,
                 AppointmentType.daily_cap, AppointmentType.weekly_cap)


def _bookable_type(row: Sequence) -> BookableType:
    (type_id, name, specialist_id, duration, interval, before, after, notice, ahead, daily,
     weekly) = row
    return BookableType(type_id, name, specialist_id, SlotRules(
        type_id, duration_minutes=duration, slot_interval_minutes=interval,
        buffer_before_minutes=before, buffer_after_minutes=after, min_notice_minutes=notice,
        max_days_ahead=ahead, daily_cap=daily, weekly_cap=weekly))


def _listed_on(brand: BrandConfig) -> tuple[ColumnElement[bool], ...]:
    """A specialist listed on ``brand``: its network, an active membership (on a query that
    joins User and SpecialistMembership)."""
    return (User.role == "specialist", User.network == network_id(brand),
            SpecialistMembership.brand_id == brand.slug, SpecialistMembership.active.is_(True))


def listed_specialists(session: Session, brand: BrandConfig, ids: Sequence[int]) -> set[int]:
    """The ids of specialists listed on ``brand``."""
    return set(session.scalars(
        select(SpecialistMembership.user_id)
        .join(User, User.id == SpecialistMembership.user_id)
        .where(SpecialistMembership.user_id.in_(ids), *_listed_on(brand))
        .execution_options(all_brands=True)))


def listed_calendars(session: Session, brand: BrandConfig, ids: Sequence[int],
                     ) -> dict[int, tuple[int, str, str]]:
    """The calendars of the specialists of ``ids`` listed on ``brand`` (as
    :func:`listed_specialists`), in one query: specialist id -> (calendar id, zone, slots
    token). A listed specialist without a calendar has no slots, and no entry here."""
    return {specialist_id: (calendar_id, zone, token)
            for calendar_id, specialist_id, zone, token in session.connection().execute(
                select(Calendar.id, Calendar.specialist_id, Calendar.timezone,
                       Calendar.slots_token)
                .join(User, User.id == Calendar.specialist_id)
                .join(SpecialistMembership, SpecialistMembership.user_id == User.id)
                .where(Calendar.specialist_id.in_(ids), *_listed_on(brand)))}


def _weekly_ranges(text: str) -> list[tuple[int, int, int]]:
    """(weekday, start minute, end minute) of "weekday:start-end" items joined by commas."""
    ranges = []
    for item in text.split(","):
        weekday, _, span = item.partition(":")
        start, _, end = span.partition("-")
        ranges.append((int(weekday), int(start), int(end)))
    return ranges


class _Calendars:
    """The prepared calendars of many specialists: hours and overrides read once, busy time
    read per window."""

    def __init__(self, session: Session, specialists: Iterable[int],
                 calendars: Iterable[tuple[int, int, str]] | None = None) -> None:
        """``calendars``: the (id, specialist id, zone) rows of ``specialists``' calendars
        when the caller has read them already."""
        self.zones: dict[int, str] = {}
        calendar_of: dict[int, int] = {}
        if calendars is None:
            calendars = session.connection().execute(
                select(Calendar.id, Calendar.specialist_id, Calendar.timezone)
                .where(Calendar.specialist_id.in_(list(specialists))))
        for calendar_id, specialist_id, zone in calendars:
            calendar_of[calendar_id], self.zones[specialist_id] = specialist_id, zone
        # each calendar's weekly ranges as one text ("0:540-1020,2:540-720"): a page shares a
        # few patterns, each parsed and prepared once
        weeks: dict[str, Week] = {}
        self.weeks: dict[int, Week] = {}
        pattern = func.aggregate_strings(
            cast(WeeklyRule.weekday, String) + ":" + cast(WeeklyRule.start_minute, String)
            + "-" + cast(WeeklyRule.end_minute, String), ",")
        for calendar_id, text in session.connection().execute(
                select(WeeklyRule.calendar_id, pattern)
                .where(WeeklyRule.calendar_id.in_(calendar_of))
                .group_by(WeeklyRule.calendar_id)):
            week = weeks.get(text)
            if week is None:
                week = weeks[text] = week_of(_weekly_ranges(text))
            self.weeks[calendar_of[calendar_id]] = week
        self.days_off: dict[int, list[date]] = defaultdict(list)
        self.extra: dict[int, list[tuple[date, int, int]]] = defaultdict(list)
        self.time_off: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for calendar_id, kind, on, start_minute, end_minute, off_start, off_end in \
                session.connection().execute(select(
                    DateOverride.calendar_id, DateOverride.kind, DateOverride.on_date,
                    DateOverride.start_minute, DateOverride.end_minute,
                    epoch_floor(DateOverride.start_at), epoch_ceil(DateOverride.end_at))
                    .where(DateOverride.calendar_id.in_(calendar_of))):
            specialist_id = calendar_of[calendar_id]
            if kind == "day_off":
                self.days_off[specialist_id].append(on)
            elif kind == "extra_hours":
                self.extra[specialist_id].append((on, start_minute, end_minute))
            else:
                self.time_off[specialist_id].append((off_start, off_end))

    def views(self, session: Session, ids: Iterable[int], start: datetime, end: datetime,
              counted: bool) -> dict[int, CalendarView]:
        """Each specialist's calendar with the appointments of EVERY brand and the live
        waitlist holds touching ``[start, end)`` (what ``services._calendar_appointments``
        reads for one, in two queries). ``counted``: also the appointments that count towards
        caps (completed, no-show), which only capped types need."""
        ids = list(ids)
        busy: dict[int, list[tuple[int, int]]] = defaultdict(list)
        counts: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
        # every brand's appointments: read on the connection, past the brand scoping of the
        # ORM session (and its per-row cost)
        connection = session.connection()
        touching = (Appointment.specialist_id.in_(ids), Appointment.blocked_end_at > start,
                    Appointment.blocked_start_at < end)
        blocked = (epoch_floor(Appointment.blocked_start_at),
                   epoch_ceil(Appointment.blocked_end_at))
        if counted:
            for specialist_id, status, blocked_start, blocked_end, starts, type_id in \
                    connection.execute(select(
                        Appointment.specialist_id, Appointment.status, *blocked,
                        epoch_floor(Appointment.start_at), Appointment.appointment_type_id)
                        .where(Appointment.status.in_(COUNTED_STATUSES), *touching)):
                if status in BLOCKING_STATUSES:
                    busy[specialist_id].append((blocked_start, blocked_end))
                counts[specialist_id].append((starts, type_id))
        else:  # in index order: each specialist's rows together, grouped without a dict
            rows = connection.execute(
                select(Appointment.specialist_id, *blocked)
                .where(Appointment.status.in_(BLOCKING_STATUSES), *touching)
                .order_by(Appointment.specialist_id, Appointment.blocked_start_at)).all()
            busy.update((specialist_id, [row[1:] for row in group])  # type: ignore[misc]
                        for specialist_id, group in groupby(rows, itemgetter(0)))
        # a hold blocks like a requested appointment and counts towards no cap
        for specialist_id, blocked_start, blocked_end in connection.execute(
                select(WaitlistOffer.specialist_id, epoch_floor(FreedSlot.blocked_start_at),
                       epoch_ceil(FreedSlot.blocked_end_at))
                .join(WaitlistOffer, WaitlistOffer.freed_slot_id == FreedSlot.id)
                .where(WaitlistOffer.specialist_id.in_(ids), WaitlistOffer.status == "held",
                       WaitlistOffer.expires_at > clock.now(),
                       FreedSlot.blocked_end_at > start, FreedSlot.blocked_start_at < end)):
            busy[specialist_id].append((blocked_start, blocked_end))
        return {i: CalendarView(self.zones[i], self.weeks.get(i, NO_HOURS),
                                self.days_off.get(i, ()),
                                self.extra.get(i, ()), self.time_off.get(i, ()),
                                busy.get(i, ()), counts.get(i, ()))
                for i in ids}


def next_slots_many(session: Session, brand: BrandConfig, specialist_ids: Sequence[int],
                    count: int, *, listed: set[int] | None = None,
                    calendars: Iterable[tuple[int, int, str]] | None = None,
                    ) -> dict[int, list[tuple[BookableType, Slot]]]:
    """For each of ``specialist_ids``, the first ``count`` free slots across their
    patient-bookable types on ``brand``, soonest first (a time offered by two types is listed
    once, with the first type by name). Specialists not listed on ``brand``, or without a
    calendar or bookable type, get an empty list. A constant number of queries, whatever the
    number of specialists. ``listed`` and ``calendars`` (the listed specialists' calendar
    rows, as :class:`_Calendars` takes them) spare reading again what the caller has read."""
    booking_settings(brand)
    result: dict[int, list[tuple[BookableType, Slot]]] = {i: [] for i in specialist_ids}
    if count <= 0 or not specialist_ids:
        return result
    # ``listed``: the caller has already read which of the ids are listed on ``brand``
    if listed is None:
        listed = listed_specialists(session, brand, list(dict.fromkeys(specialist_ids)))
    else:
        listed = listed & set(specialist_ids)
    if not listed:
        return result
    prepared = _Calendars(session, listed, calendars)
    types: dict[int, list[BookableType]] = defaultdict(list)
    for row in session.connection().execute(  # the brand is in the WHERE clause
            select(*_TYPE_COLUMNS).where(
                AppointmentType.brand_id == brand.slug,
                AppointmentType.specialist_id.in_(prepared.zones),
                AppointmentType.active.is_(True), AppointmentType.bookable_by == "patients")
            .order_by(AppointmentType.name, AppointmentType.id)):
        kind = _bookable_type(row)
        types[kind.specialist_id].append(kind)

    now = clock.now()
    horizon: dict[int, datetime] = {}
    reach: dict[int, timedelta] = {}
    capped: set[int] = set()
    for i, kinds in types.items():
        horizon[i] = now + timedelta(days=max(t.rules.max_days_ahead for t in kinds) + 1)
        # without caps only the blocked intervals touching the window matter: the longest slot
        # with its buffers either side is enough margin
        reach[i] = max(t.rules.duration + t.rules.buffer_before + t.rules.buffer_after
                       for t in kinds)
        if any(t.rules.daily_cap is not None or t.rules.weekly_cap is not None for t in kinds):
            capped.add(i)
    # specialists with several types: their offers merged by time, the first type (by name)
    # keeping a time two offer
    merged: dict[int, dict[datetime, tuple[BookableType, Slot]]] = {}
    pending = set(horizon)
    start = now
    # windows in order: once one ends with enough slots, no later one holds an earlier time
    while pending:
        end = start + NEXT_SLOTS_STEP
        margin = CAP_MARGIN if pending & capped else max(reach[i] for i in pending)
        views = prepared.views(session, pending, start - margin, end + margin,
                                counted=bool(pending & capped))
        for i in list(pending):
            kinds, window_end = types[i], min(end, horizon[i])
            if len(kinds) == 1:  # one type's slots come out in order: nothing to merge
                kind, got = kinds[0], result[i]
                got.extend((kind, slot) for slot in availability.free_slots(
                    views[i], kind.rules, start, window_end, now, limit=count - len(got)))
                enough = len(got) >= count
            else:
                offers = merged.setdefault(i, {})
                for kind in kinds:
                    for slot in availability.free_slots(views[i], kind.rules, start,
                                                        window_end, now, limit=count):
                        offers.setdefault(slot.start_at, (kind, slot))
                enough = len(offers) >= count
            if enough or window_end >= horizon[i]:
                pending.discard(i)
        start = end
    for i, offers in merged.items():
        result[i] = [offers[k] for k in sorted(offers)][:count]
    return result
