"""The availability engine: which start times of one appointment type are free.

Pure functions over plain values (no database, no clock): the services load a specialist's
rules, overrides and appointments, and call :func:`available_slots`.

Time zones. Weekly ranges and extra hours are wall-clock times in the specialist's zone and are
evaluated per local day with zoneinfo, so a DST change never moves working hours:

- candidate start times are the local grid ``range start + k * slot interval``;
- a local time that does not exist (the hour skipped when clocks go forward) is never offered;
- a local time that exists twice (the hour repeated when clocks go back) is offered once, at its
  first occurrence;
- a range boundary that falls in a skipped hour is the instant the clocks jump;
- the slot itself (start to start + duration, in real elapsed time) must lie inside the range.

Existing appointments block their whole ``blocked`` interval (the appointment plus its buffers);
a new slot conflicts when its own blocked interval overlaps one of them. This is the same rule as
the PostgreSQL exclusion constraint on ``booking_appointment``.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60

# Statuses that hold time on the calendar (and that the exclusion constraint covers).
BLOCKING_STATUSES = ("requested", "confirmed")
# Statuses that count towards the daily and weekly caps of an appointment type.
COUNTED_STATUSES = ("requested", "confirmed", "completed", "no_show")


@dataclass(frozen=True)
class WeeklyRange:
    """Working time on one weekday (0 = Monday), in minutes after local midnight."""

    weekday: int
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday is 0 (Monday) to 6 (Sunday)")
        _check_minutes(self.start_minute, self.end_minute)


@dataclass(frozen=True)
class ExtraHours:
    """Working time added on one local date (also on a day off)."""

    on: date
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        _check_minutes(self.start_minute, self.end_minute)


@dataclass(frozen=True)
class DayOff:
    """No weekly working time on this local date."""

    on: date


@dataclass(frozen=True)
class TimeOff:
    """A period (absolute instants) in which no appointment may take place."""

    start_at: datetime
    end_at: datetime

    def __post_init__(self) -> None:
        _check_aware(self.start_at, self.end_at)
        if self.start_at >= self.end_at:
            raise ValueError("time off ends after it starts")


Override = ExtraHours | DayOff | TimeOff


@dataclass(frozen=True)
class Existing:
    """An appointment already on the specialist's calendar (any brand)."""

    start_at: datetime
    blocked_start_at: datetime
    blocked_end_at: datetime
    status: str
    appointment_type_id: int | None = None


@dataclass(frozen=True)
class SlotRules:
    """The scheduling rules of one appointment type."""

    appointment_type_id: int | None
    duration_minutes: int
    slot_interval_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    min_notice_minutes: int = 0
    max_days_ahead: int = 60
    daily_cap: int | None = None
    weekly_cap: int | None = None

    def __post_init__(self) -> None:
        if self.duration_minutes <= 0 or self.slot_interval_minutes <= 0:
            raise ValueError("duration and slot interval are positive")
        if min(self.buffer_before_minutes, self.buffer_after_minutes,
               self.min_notice_minutes, self.max_days_ahead) < 0:
            raise ValueError("buffers, notice and horizon are not negative")

    # as timedeltas, made once per type (a directory page asks a thousand times)
    @cached_property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @cached_property
    def buffer_before(self) -> timedelta:
        return timedelta(minutes=self.buffer_before_minutes)

    @cached_property
    def buffer_after(self) -> timedelta:
        return timedelta(minutes=self.buffer_after_minutes)

    @cached_property
    def notice(self) -> timedelta:
        return timedelta(minutes=self.min_notice_minutes)

    @cached_property
    def horizon(self) -> timedelta:
        return timedelta(days=self.max_days_ahead)


class Slot(NamedTuple):
    """A bookable appointment time (UTC), with the interval it would block. Ordered by start
    (a tuple: a directory page makes thousands)."""

    start_at: datetime
    end_at: datetime
    blocked_start_at: datetime
    blocked_end_at: datetime


def _check_minutes(start: int, end: int) -> None:
    if not 0 <= start < end <= MINUTES_PER_DAY:
        raise ValueError("a range starts before it ends, within 00:00-24:00")


def _check_aware(*values: datetime) -> None:
    for v in values:
        if v.tzinfo is None or v.utcoffset() is None:
            raise ValueError("times must be timezone-aware")


def local_wall_time_exists(naive: datetime, zone: ZoneInfo) -> bool:
    """Whether ``naive`` is a reading the clocks of ``zone`` actually show."""
    utc = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    return utc.astimezone(zone).replace(tzinfo=None) == naive


def first_instant_at_or_after(naive: datetime, zone: ZoneInfo) -> datetime:
    """The earliest instant (UTC) at which the clocks of ``zone`` read ``naive`` or later.

    An existing reading maps to its (first) occurrence; a reading inside a skipped hour maps to
    the instant the clocks jump over it.
    """
    after = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if after.astimezone(zone).replace(tzinfo=None) == naive:
        return after
    # In a gap: fold=1 reads the post-transition offset and lands before the jump; fold=0
    # lands after it. Transitions happen on whole seconds: bisect to the second.
    before = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = int(before.timestamp()), int(after.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        reading = datetime.fromtimestamp(mid, UTC).astimezone(zone).replace(tzinfo=None)
        if reading >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _wall(day: date, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day) + timedelta(minutes=minute)


def _steady_offset(day: date, zone: ZoneInfo) -> timedelta | None:
    """The UTC offset of ``zone`` all through the local ``day``, or None on a day its clocks
    change (or might: any difference between the day's start, noon and end).

    Comparing the offsets read at 00:00, 12:00 and the next 00:00 finds every transition of
    real zones (they change at most once a day); a day of two transitions that cancel out would
    need them in one half-day and back, which no tz database zone has.
    """
    midnight = datetime(day.year, day.month, day.day)
    first = zone.utcoffset(midnight)
    if zone.utcoffset(midnight + timedelta(hours=12)) != first or \
            zone.utcoffset(midnight + timedelta(days=1)) != first:
        return None
    return first


def _candidates_exact(day: date, ranges: list[tuple[int, int]], rules: SlotRules,
                      zone: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
    """The grid slots of one local day with every wall time converted by zoneinfo: exact on
    days the clocks change (skipped and repeated hours)."""
    duration = timedelta(minutes=rules.duration_minutes)
    for start_minute, end_minute in ranges:
        range_start = first_instant_at_or_after(_wall(day, start_minute), zone)
        range_end = first_instant_at_or_after(_wall(day, end_minute), zone)
        for minute in range(start_minute, end_minute, rules.slot_interval_minutes):
            wall = _wall(day, minute)
            if not local_wall_time_exists(wall, zone):
                continue
            start = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
            end = start + duration
            if start >= range_start and end <= range_end:
                yield start, end


class _Intervals:
    """Sorted half-open intervals with an overlap query (any comparable bounds: the engine
    uses whole POSIX seconds)."""

    __slots__ = ("_starts", "_max_end")

    def __init__(self, intervals: Iterable[tuple[Any, Any]]):
        items = sorted(intervals)
        self._starts = [s for s, _ in items]
        # running maximum of the ends, so one bisect answers "does anything overlap?"
        self._max_end: list[Any] = []
        for _, e in items:
            self._max_end.append(max(e, self._max_end[-1]) if self._max_end else e)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def overlaps(self, start: Any, end: Any) -> bool:
        i = bisect.bisect_left(self._starts, end)  # intervals starting before ``end``
        return i > 0 and self._max_end[i - 1] > start


def _week(day: date) -> tuple[int, int]:
    iso = day.isocalendar()
    return iso[0], iso[1]


# --- whole POSIX seconds ----------------------------------------------------------------------
# The engine compares instants as integers. Every candidate start and end is a whole second (a
# whole-minute wall time less a whole-second UTC offset), so rounding the other bounds to whole
# seconds in the right direction changes no answer: "x < t" holds for a whole second x exactly
# when "x < ceil(t)", and "t < x" exactly when "floor(t) < x". Busy and time-off intervals are
# stored as (floor(start), ceil(end)) for that reason.

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY = timedelta(days=1)


def floor_seconds(moment: datetime) -> int:
    """The whole POSIX second at or before the aware ``moment`` (integer arithmetic, exact)."""
    delta = moment - _EPOCH
    return delta.days * 86400 + delta.seconds


def ceil_seconds(moment: datetime) -> int:
    """The whole POSIX second at or after the aware ``moment``."""
    delta = moment - _EPOCH
    return delta.days * 86400 + delta.seconds + (delta.microseconds > 0)


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@lru_cache(maxsize=8192)
def _day_grid(tz: ZoneInfo, day: date, ranges: tuple[tuple[int, int], ...], duration: int,
              interval: int) -> tuple[tuple[int, int], ...]:
    """(start, end) POSIX seconds of the grid slots of one local day's merged working
    ``ranges``. On a day of one UTC offset every wall time exists once and is ``wall -
    offset``, so the grid is plain arithmetic; on a day the clocks change, every wall time goes
    through zoneinfo (:func:`_candidates_exact`). A pure function of its arguments and the tz
    database, kept for the specialists that share a zone, hours and slot shape (most of a
    directory page)."""
    offset = _steady_offset(day, tz)
    if offset is None:
        rules = SlotRules(None, duration_minutes=duration, slot_interval_minutes=interval)
        return tuple((floor_seconds(s), floor_seconds(e))
                     for s, e in _candidates_exact(day, list(ranges), rules, tz))
    midnight = (day.toordinal() - _EPOCH_ORDINAL) * 86400 - (offset.days * 86400 + offset.seconds)
    length, step = duration * 60, interval * 60
    grid = []
    for start_minute, end_minute in ranges:
        start = midnight + start_minute * 60
        last = midnight + end_minute * 60 - length  # the slot must end by the range's end
        while start <= last:
            grid.append((start, start + length))
            start += step
    return tuple(grid)


def forget_grids() -> None:
    """Empty the engine's memo of day grids (benchmarks measure the engine cold)."""
    _day_grid.cache_clear()


# the working ranges of each weekday (0 = Monday), merged and sorted
Week = tuple[tuple[tuple[int, int], ...], ...]


def week_of(ranges: Iterable[tuple[int, int, int]]) -> Week:
    """:data:`Week` of (weekday, start minute, end minute) ranges."""
    by_day: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for weekday, start, end in ranges:
        by_day[weekday].append((start, end))
    return tuple(tuple(_merge(day)) for day in by_day)


class CalendarView:
    """One specialist's calendar prepared for availability questions: the weekly ranges merged
    per weekday, the overrides by date, and the busy and time-off intervals and the counted
    appointments as whole POSIX seconds. Built from the engine's values
    (:meth:`of`) or straight from database rows (a directory page's batch read)."""

    __slots__ = ("tz", "_weekly", "_days_off", "_extra", "time_off", "busy", "_counted",
                 "_caps")

    def __init__(self, zone: str | ZoneInfo, week: Week, days_off: Iterable[date] = (),
                 extra: Iterable[tuple[date, int, int]] = (),
                 time_off: Iterable[tuple[int, int]] = (),
                 busy: Iterable[tuple[int, int]] = (),
                 counted: Iterable[tuple[int, int | None]] = ()) -> None:
        """``week``: the weekly ranges (:func:`week_of`); ``extra``: (date, start minute,
        end minute); ``time_off`` and ``busy``: (floor start, ceil end) seconds, busy only of
        blocking statuses; ``counted``: (floor start seconds, appointment type id) of the
        appointments that count towards caps."""
        self.tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        self._weekly = week
        self._days_off = frozenset(days_off)
        self._extra: dict[date, list[tuple[int, int]]] = {}
        for on, start, end in extra:
            self._extra.setdefault(on, []).append((start, end))
        self.time_off = _Intervals(time_off)
        self.busy = _Intervals(busy)
        self._counted = list(counted)
        self._caps: dict[int | None, tuple[Counter[date], Counter[tuple[int, int]]]] = {}

    @classmethod
    def of(cls, zone: str | ZoneInfo, weekly: Sequence[WeeklyRange],
           overrides: Sequence[Override], existing: Sequence[Existing]) -> CalendarView:
        return cls(
            zone, week_of((r.weekday, r.start_minute, r.end_minute) for r in weekly),
            (o.on for o in overrides if isinstance(o, DayOff)),
            ((o.on, o.start_minute, o.end_minute) for o in overrides
             if isinstance(o, ExtraHours)),
            ((floor_seconds(o.start_at), ceil_seconds(o.end_at)) for o in overrides
             if isinstance(o, TimeOff)),
            ((floor_seconds(e.blocked_start_at), ceil_seconds(e.blocked_end_at))
             for e in existing if e.status in BLOCKING_STATUSES),
            ((floor_seconds(e.start_at), e.appointment_type_id) for e in existing
             if e.status in COUNTED_STATUSES))

    def ranges(self, day: date) -> tuple[tuple[int, int], ...]:
        """The local working ranges (minutes after midnight) of one local date, merged: the
        weekday's weekly ranges (none on a day off) and the date's extra hours."""
        weekly = () if day in self._days_off else self._weekly[day.weekday()]
        extra = self._extra.get(day)
        return tuple(_merge([*weekly, *extra])) if extra else weekly

    def caps(self, appointment_type_id: int | None,
             ) -> tuple[Counter[date], Counter[tuple[int, int]]]:
        """Counted appointments of one type per local date and per ISO week of the zone."""
        found = self._caps.get(appointment_type_id)
        if found is None:
            per_day: Counter[date] = Counter()
            per_week: Counter[tuple[int, int]] = Counter()
            for start, type_id in self._counted:
                if type_id == appointment_type_id:
                    local_day = _at(start).astimezone(self.tz).date()
                    per_day[local_day] += 1
                    per_week[_week(local_day)] += 1
            found = self._caps[appointment_type_id] = (per_day, per_week)
        return found


def available_slots(zone: str | ZoneInfo, weekly: Sequence[WeeklyRange],
                    overrides: Sequence[Override], existing: Sequence[Existing],
                    rules: SlotRules, window_start: datetime, window_end: datetime,
                    now: datetime, limit: int | None = None) -> list[Slot]:
    """The free slots of one appointment type whose start lies in ``[window_start, window_end)``.

    A slot is offered when it starts on the local grid of a working range and fits inside it,
    misses every time-off period, its blocked interval (with this type's buffers) overlaps no
    blocking appointment, it starts at least ``min_notice_minutes`` after ``now`` and at most
    ``max_days_ahead`` days after ``now``, and the type's daily and weekly caps (counted per
    local day and ISO week of the specialist's zone) are not reached. Sorted, no duplicates.

    With ``limit``, only the first ``limit`` slots: local days are walked in order and each
    day's slots are in order, so the walk stops as soon as it has them.
    """
    _check_aware(window_start, window_end, now)
    return free_slots(CalendarView.of(zone, weekly, overrides, existing), rules, window_start,
                      window_end, now, limit)


def free_slots(view: CalendarView, rules: SlotRules, window_start: datetime,
               window_end: datetime, now: datetime, limit: int | None = None) -> list[Slot]:
    """:func:`available_slots` on a prepared calendar (the same rules, one implementation)."""
    tz = view.tz
    earliest_at = max(window_start, now + rules.notice)
    latest_at = now + rules.horizon
    if earliest_at >= window_end or earliest_at > latest_at or (limit is not None and limit <= 0):
        return []
    # start >= earliest_at, start < window_end and start <= latest_at, in whole seconds
    earliest, end_before, latest = (ceil_seconds(earliest_at), ceil_seconds(window_end),
                                    floor_seconds(latest_at))
    capped = rules.daily_cap is not None or rules.weekly_cap is not None
    per_day, per_week = view.caps(rules.appointment_type_id) if capped else (None, None)
    before, after = rules.buffer_before_minutes * 60, rules.buffer_after_minutes * 60
    duration, interval = rules.duration_minutes, rules.slot_interval_minutes
    busy = view.busy.overlaps
    time_off = view.time_off.overlaps if view.time_off else None
    found: list[tuple[int, int]] = []
    in_order = True  # days and each day's grid come out in time order (kept as a check)
    # a local day may start up to ~26 h away from the UTC day: look one day either side
    day = earliest_at.astimezone(tz).date() - _DAY
    last_day = min(window_end, latest_at).astimezone(tz).date() + _DAY
    while day <= last_day:
        if capped and ((rules.daily_cap is not None and per_day[day] >= rules.daily_cap) or (
                rules.weekly_cap is not None and per_week[_week(day)] >= rules.weekly_cap)):
            day += _DAY
            continue
        ranges = view.ranges(day)
        for start, end in (_day_grid(tz, day, ranges, duration, interval) if ranges else ()):
            if start < earliest or start >= end_before or start > latest:
                continue
            if busy(start - before, end + after) or (time_off and time_off(start, end)):
                continue
            if found and start <= found[-1][0]:
                in_order = False
            found.append((start, end))
            if in_order and limit is not None and len(found) >= limit:
                return _slots(found, rules)
        day += _DAY
    if not in_order:  # never seen; would a zone's rules ever allow it, stay correct
        unique = {start: (start, end) for start, end in reversed(found)}  # first per start
        found = [unique[k] for k in sorted(unique)]
    return _slots(found if limit is None else found[:limit], rules)


def _slots(found: list[tuple[int, int]], rules: SlotRules) -> list[Slot]:
    before, after = rules.buffer_before, rules.buffer_after
    out = []
    for start, end in found:
        start_at, end_at = _at(start), _at(end)
        out.append(Slot(start_at, end_at, start_at - before, end_at + after))
    return out


def slots_by_day(slots: Iterable[Slot], zone: str | ZoneInfo) -> dict[date, list[Slot]]:
    """Slots grouped by the local date of their start in ``zone`` (the viewer's), in order."""
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    grouped: dict[date, list[Slot]] = {}
    for slot in sorted(slots):
        grouped.setdefault(slot.start_at.astimezone(tz).date(), []).append(slot)
    return grouped
