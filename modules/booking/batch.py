"""Batched reads for many specialists at once: the next free slots of a whole directory page.

Per specialist, the next slots take about ten queries (the specialist, the membership, the
calendar, rules, overrides, types, appointments and waitlist holds, per window and type).
Here each of those is ONE query for the whole page, so a page of 1,000 specialists costs the
same eight queries as a page of one: the specialists, their memberships, calendars, weekly
rules, overrides and patient-bookable types, then per 14-day window the appointments (of
every brand: one calendar) and the waitlist holds of those still short of slots. Nearly
every page is served by the first window.

The rules are those of :func:`modules.booking.services.available_slots` exactly: the same
pure engine, fed the same rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import SpecialistMembership, User
from engine.web import network_id
from modules.booking import availability
from modules.booking.availability import COUNTED_STATUSES, Existing, Override, Slot, WeeklyRange
from modules.booking.calendar import booking_settings
from modules.booking.models import (
    Appointment,
    AppointmentType,
    Calendar,
    DateOverride,
    WeeklyRule,
)
from modules.booking.models_waitlist import FreedSlot, WaitlistOffer
from modules.booking.services import _as_override, _rules_of

NEXT_SLOTS_STEP = timedelta(days=14)
# caps count whole local days and ISO weeks around a window (as the services do)
CAP_MARGIN = timedelta(days=8)


def listed_specialists(session: Session, brand: BrandConfig, ids: Sequence[int]) -> set[int]:
    """The ids of specialists listed on ``brand`` (its network, an active membership)."""
    specialists = set(session.scalars(select(User.id).where(
        User.id.in_(ids), User.role == "specialist", User.network == network_id(brand))))
    return set(session.scalars(select(SpecialistMembership.user_id).where(
        SpecialistMembership.brand_id == brand.slug, SpecialistMembership.active.is_(True),
        SpecialistMembership.user_id.in_(specialists)).execution_options(all_brands=True)))


def _calendar_entries(session: Session, ids: Iterable[int], start: datetime,
                      end: datetime) -> dict[int, list[Existing]]:
    """Per specialist, the appointments of EVERY brand and the live waitlist holds touching
    ``[start, end)``: what ``services._calendar_appointments`` reads for one, in two queries."""
    ids = list(ids)
    entries: dict[int, list[Existing]] = defaultdict(list)
    for specialist_id, *row in session.execute(
            select(Appointment.specialist_id, Appointment.start_at,
                   Appointment.blocked_start_at, Appointment.blocked_end_at,
                   Appointment.status, Appointment.appointment_type_id)
            .where(Appointment.specialist_id.in_(ids),
                   Appointment.status.in_(COUNTED_STATUSES),
                   Appointment.blocked_end_at > start, Appointment.blocked_start_at < end)
            .execution_options(all_brands=True)):
        entries[specialist_id].append(Existing(*row))
    for specialist_id, s, bs, be in session.execute(
            select(WaitlistOffer.specialist_id, FreedSlot.start_at, FreedSlot.blocked_start_at,
                   FreedSlot.blocked_end_at)
            .join(WaitlistOffer, WaitlistOffer.freed_slot_id == FreedSlot.id)
            .where(WaitlistOffer.specialist_id.in_(ids), WaitlistOffer.status == "held",
                   WaitlistOffer.expires_at > clock.now(),
                   FreedSlot.blocked_end_at > start, FreedSlot.blocked_start_at < end)
            .execution_options(all_brands=True)):
        # a hold blocks like a requested appointment and counts towards no cap
        entries[specialist_id].append(Existing(s, bs, be, "requested", None))
    return entries


def next_slots_many(session: Session, brand: BrandConfig, specialist_ids: Sequence[int],
                    count: int, *, listed: set[int] | None = None,
                    ) -> dict[int, list[tuple[AppointmentType, Slot]]]:
    """For each of ``specialist_ids``, the first ``count`` free slots across their
    patient-bookable types on ``brand``, soonest first (a time offered by two types is listed
    once, with the first type by name). Specialists not listed on ``brand``, or without a
    calendar or bookable type, get an empty list. A constant number of queries, whatever the
    number of specialists."""
    booking_settings(brand)
    result: dict[int, list[tuple[AppointmentType, Slot]]] = {i: [] for i in specialist_ids}
    if count <= 0 or not specialist_ids:
        return result
    # ``listed``: the caller has already read which of the ids are listed on ``brand``
    if listed is None:
        listed = listed_specialists(session, brand, list(dict.fromkeys(specialist_ids)))
    else:
        listed = listed & set(specialist_ids)
    if not listed:
        return result
    zones: dict[int, str] = {}
    calendar_of: dict[int, int] = {}
    for calendar_id, specialist_id, zone in session.execute(
            select(Calendar.id, Calendar.specialist_id, Calendar.timezone)
            .where(Calendar.specialist_id.in_(listed))):
        calendar_of[calendar_id], zones[specialist_id] = specialist_id, zone
    weekly: dict[int, list[WeeklyRange]] = defaultdict(list)
    shared: dict[tuple[int, int, int], WeeklyRange] = {}  # most hours repeat across a page
    for calendar_id, *hours in session.execute(
            select(WeeklyRule.calendar_id, WeeklyRule.weekday, WeeklyRule.start_minute,
                   WeeklyRule.end_minute).where(WeeklyRule.calendar_id.in_(calendar_of))
            .order_by(WeeklyRule.weekday, WeeklyRule.start_minute)):
        key = (hours[0], hours[1], hours[2])
        weekly_range = shared.get(key) or shared.setdefault(key, WeeklyRange(*key))
        weekly[calendar_of[calendar_id]].append(weekly_range)
    dated: dict[int, list[Override]] = defaultdict(list)
    for row in session.scalars(select(DateOverride).where(
            DateOverride.calendar_id.in_(calendar_of))
            .order_by(DateOverride.on_date, DateOverride.start_at, DateOverride.id)):
        dated[calendar_of[row.calendar_id]].append(_as_override(row))
    types: dict[int, list[AppointmentType]] = defaultdict(list)
    for t in session.scalars(select(AppointmentType).where(
            AppointmentType.brand_id == brand.slug, AppointmentType.specialist_id.in_(zones),
            AppointmentType.active.is_(True), AppointmentType.bookable_by == "patients")
            .order_by(AppointmentType.name, AppointmentType.id)):
        types[t.specialist_id].append(t)
    rules = {t.id: _rules_of(t) for kinds in types.values() for t in kinds}

    now = clock.now()
    found: dict[int, dict[datetime, tuple[AppointmentType, Slot]]] = defaultdict(dict)
    horizon = {i: now + timedelta(days=max(t.max_days_ahead for t in kinds) + 1)
               for i, kinds in types.items()}
    pending = set(horizon)
    start = now
    # windows in order: once one ends with enough slots, no later one holds an earlier time
    while pending:
        end = start + NEXT_SLOTS_STEP
        entries = _calendar_entries(session, pending, start - CAP_MARGIN, end + CAP_MARGIN)
        for i in list(pending):
            window_end = min(end, horizon[i])
            for t in types[i]:
                for slot in availability.available_slots(
                        zones[i], weekly[i], dated[i], entries[i], rules[t.id], start,
                        window_end, now, limit=count):
                    found[i].setdefault(slot.start_at, (t, slot))
            if len(found[i]) >= count or window_end >= horizon[i]:
                pending.discard(i)
        start = end
    for i, slots in found.items():
        result[i] = [slots[k] for k in sorted(slots)][:count]
    return result

