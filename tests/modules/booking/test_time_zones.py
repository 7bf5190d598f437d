"""Property-based tests over zones and dates, DST transitions included: working hours never move,
no slot is offered twice or at a local time that does not exist, and every viewer sees the same
instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from modules.booking.availability import SlotRules, WeeklyRange, available_slots, slots_by_day
from modules.booking.schemas import parse_start

ZONES = ("Europe/Madrid", "America/New_York", "America/Santiago", "Australia/Lord_Howe")
VIEWERS = ZONES + ("UTC", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns", "Asia/Tokyo")


@cache
def transition_days(zone_name: str) -> tuple[date, ...]:
    """Local dates (2024-2030) on which the zone's UTC offset changes (by noon)."""
    zone = ZoneInfo(zone_name)
    days = []
    day = date(2024, 1, 1)
    previous = datetime(2023, 12, 31, 12, tzinfo=zone).utcoffset()
    while day < date(2031, 1, 1):
        offset = datetime(day.year, day.month, day.day, 12, tzinfo=zone).utcoffset()
        if offset != previous:
            days.append(day)
        previous = offset
        day += timedelta(days=1)
    return tuple(days)


@st.composite
def zone_and_day(draw: st.DrawFn) -> tuple[str, date]:
    """A zone and a local date: near one of its DST transitions, or any date."""
    zone = draw(st.sampled_from(ZONES))
    near = draw(st.sampled_from(transition_days(zone)))
    anywhere = draw(st.dates(date(2024, 1, 1), date(2030, 12, 31)))
    return zone, draw(st.sampled_from([near, near, near - timedelta(days=1), anywhere]))


# grids of whole minutes whose steps divide the offsets' 30-minute granularity
durations = st.sampled_from([15, 20, 30, 45, 50, 60, 90])
intervals = st.sampled_from([5, 10, 15, 20, 30, 45, 60])


def window(zone: ZoneInfo, first: date, days: int) -> tuple[datetime, datetime, datetime]:
    """Local midnight of ``first`` to local midnight ``days`` later, and a ``now`` before."""
    last = first + timedelta(days=days)
    start = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=zone).astimezone(UTC)
    return start, end, start - timedelta(days=1)


def rules(duration: int, interval: int) -> SlotRules:
    return SlotRules(1, duration_minutes=duration, slot_interval_minutes=interval,
                     max_days_ahead=730)


@settings(max_examples=150, deadline=None)
@given(zone_and_day(), durations, intervals)
def test_monday_nine_to_five_yields_exactly_those_local_hours(
        zone_day: tuple[str, date], duration: int, interval: int) -> None:
    zone_name, day = zone_day
    zone = ZoneInfo(zone_name)
    start, end, now = window(zone, day - timedelta(days=day.weekday()), 14)
    found = available_slots(zone, [WeeklyRange(0, 9 * 60, 17 * 60)], [], [],
                            rules(duration, interval), start, end, now)
    got = [s.start_at.astimezone(zone) for s in found]
    mondays = {g.date() for g in got}
    assert len(mondays) == 2 and all(d.weekday() == 0 for d in mondays)
    expected_times = [9 * 60 + k for k in range(0, 8 * 60 - duration + 1, interval)]
    for monday in mondays:
        on_day = [g for g in got if g.date() == monday]
        assert [g.hour * 60 + g.minute for g in on_day] == expected_times
    for slot in found:
        assert slot.end_at - slot.start_at == timedelta(minutes=duration)
        local_end = slot.end_at.astimezone(zone)
        assert local_end.date() == slot.start_at.astimezone(zone).date()
        assert local_end.hour * 60 + local_end.minute <= 17 * 60


def brute_force(zone: ZoneInfo, day: date, start_minute: int, end_minute: int, duration: int,
                interval: int) -> list[datetime]:
    """The expected slot starts of one range, found by walking every five minutes of real time
    and reading the clock (independent of the engine's zoneinfo arithmetic)."""
    midnight = datetime(day.year, day.month, day.day)
    first_seen: dict[datetime, datetime] = {}
    reached: list[tuple[datetime, datetime]] = []  # (instant, clock reading), in order
    t = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=1)
    while t < datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=3):
        reading = t.astimezone(zone).replace(tzinfo=None)
        first_seen.setdefault(reading, t)
        reached.append((t, reading))
        t += timedelta(minutes=5)

    def first_at_or_after(wall: datetime) -> datetime:
        return next(instant for instant, reading in reached if reading >= wall)

    range_start = first_at_or_after(midnight + timedelta(minutes=start_minute))
    range_end = first_at_or_after(midnight + timedelta(minutes=end_minute))
    out = []
    for minute in range(start_minute, end_minute, interval):
        wall = midnight + timedelta(minutes=minute)
        instant = first_seen.get(wall)
        if instant is None:
            continue  # the clocks never show this time: skipped by a transition
        if range_start <= instant and instant + timedelta(minutes=duration) <= range_end:
            out.append(instant)
    return out


@settings(max_examples=150, deadline=None)
@given(zone_and_day(), durations, intervals,
       st.integers(0, 23 * 60).map(lambda m: m - m % 5), st.integers(10, 24 * 60))
@example(("Europe/Madrid", date(2026, 3, 29)), 30, 45, 0, 300)  # gap 02:00-03:00
@example(("Australia/Lord_Howe", date(2026, 10, 4)), 20, 20, 60, 120)  # gap 02:00-02:30
@example(("America/Santiago", date(2026, 9, 6)), 30, 45, 0, 180)  # gap 00:00-01:00
@example(("America/New_York", date(2026, 11, 1)), 30, 15, 0, 240)  # 01:00-02:00 twice
@example(("Australia/Lord_Howe", date(2026, 4, 5)), 15, 10, 60, 120)  # 01:30-02:00 twice
def test_any_range_over_any_transition_matches_the_clock_on_the_wall(
        zone_day: tuple[str, date], duration: int, interval: int, start_minute: int,
        length: int) -> None:
    zone_name, day = zone_day
    zone = ZoneInfo(zone_name)
    end_minute = min(24 * 60, start_minute + length - length % 5)
    if end_minute <= start_minute:
        end_minute = start_minute + 5
    start, end, now = window(zone, day, 1)
    found = available_slots(zone, [WeeklyRange(day.weekday(), start_minute, end_minute)], [],
                            [], rules(duration, interval), start, end, now)
    instants = [s.start_at for s in found]
    assert instants == brute_force(zone, day, start_minute, end_minute, duration, interval)
    # never twice: neither the same instant nor the same clock reading
    walls = [i.astimezone(zone).replace(tzinfo=None) for i in instants]
    assert len(set(instants)) == len(instants) and len(set(walls)) == len(walls)
    for instant, wall in zip(instants, walls, strict=True):
        # a local time that exists, on the range's grid
        assert wall.replace(tzinfo=zone).astimezone(UTC) == instant or \
            wall.replace(tzinfo=zone, fold=1).astimezone(UTC) == instant
        minutes = wall.hour * 60 + wall.minute
        assert wall.date() == day and (minutes - start_minute) % interval == 0


@settings(max_examples=100, deadline=None)
@given(zone_and_day(), st.sampled_from(VIEWERS), durations, intervals)
def test_a_patient_in_another_zone_sees_the_same_instants(
        zone_day: tuple[str, date], viewer: str, duration: int, interval: int) -> None:
    zone_name, day = zone_day
    zone = ZoneInfo(zone_name)
    start, end, now = window(zone, day - timedelta(days=3), 7)
    weekly = [WeeklyRange(d, 0, 24 * 60) for d in range(7)]
    found = available_slots(zone, weekly, [], [], rules(duration, interval), start, end, now)
    grouped = slots_by_day(found, viewer)
    assert [s for group in grouped.values() for s in group] == found
    viewer_zone = ZoneInfo(viewer)
    for local_day, group in grouped.items():
        for slot in group:
            shown = slot.start_at.astimezone(viewer_zone)
            assert shown.date() == local_day
            # what the patient's page sends back to book is the same instant
            assert parse_start(shown.isoformat()) == slot.start_at
