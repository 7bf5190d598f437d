"""The availability engine's fast paths give exactly the answers of the exact ones: the
arithmetic grid of a day without a clock change, the early stop of ``limit``, and next slots
for a whole directory page read in a constant number of queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from modules.booking.availability import (
    DayOff,
    Existing,
    ExtraHours,
    SlotRules,
    TimeOff,
    WeeklyRange,
    _candidates,
    _candidates_exact,
    _steady_offset,
    available_slots,
)
from tests.modules.booking.test_time_zones import ZONES, transition_days

ALL_ZONES = ZONES + ("UTC", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns",
                     "Africa/Casablanca", "America/Havana", "Asia/Gaza")


@st.composite
def zone_and_day(draw: st.DrawFn) -> tuple[str, date]:
    """A zone and a local date: a DST switch day, a day either side of one, or any day."""
    zone = draw(st.sampled_from(ALL_ZONES))
    switches = transition_days(zone) or (date(2026, 3, 29),)
    near = draw(st.sampled_from(switches))
    anywhere = draw(st.dates(date(2020, 1, 1), date(2032, 12, 31)))
    return zone, draw(st.sampled_from([near, near - timedelta(days=1),
                                       near + timedelta(days=1), anywhere]))


@st.composite
def day_ranges(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Merged, sorted local ranges of one day (minutes after midnight, up to 24:00)."""
    cuts = sorted(draw(st.sets(st.integers(0, 96), min_size=2, max_size=6)))
    pairs = [(cuts[i] * 15, cuts[i + 1] * 15) for i in range(0, len(cuts) - 1, 2)]
    return [(s, e) for s, e in pairs if s < e]


@settings(max_examples=400, deadline=None)
@given(zone_and_day(), day_ranges(), st.sampled_from([15, 20, 30, 45, 60, 90]),
       st.sampled_from([5, 10, 15, 30, 60]))
@example(("Europe/Madrid", date(2026, 3, 29)), [(0, 1440)], 30, 30)
@example(("America/Santiago", date(2026, 9, 6)), [(0, 1440)], 30, 15)
@example(("Australia/Lord_Howe", date(2026, 4, 5)), [(60, 180)], 30, 15)
def test_the_arithmetic_grid_equals_the_zoneinfo_grid_on_every_day(
        zone_day: tuple[str, date], ranges: list[tuple[int, int]], duration: int,
        interval: int) -> None:
    zone_name, day = zone_day
    zone = ZoneInfo(zone_name)
    rules = SlotRules(1, duration_minutes=duration, slot_interval_minutes=interval)
    assert list(_candidates(day, ranges, rules, zone)) == \
        list(_candidates_exact(day, ranges, rules, zone))


def test_a_dst_switch_day_takes_the_exact_path_and_the_days_around_it_do_not() -> None:
    madrid = ZoneInfo("Europe/Madrid")
    assert _steady_offset(date(2026, 3, 29), madrid) is None
    assert _steady_offset(date(2026, 10, 25), madrid) is None
    assert _steady_offset(date(2026, 3, 28), madrid) == timedelta(hours=1)
    assert _steady_offset(date(2026, 3, 30), madrid) == timedelta(hours=2)
    # Santiago's clocks skip midnight: the day that loses its 00:00 is the switch day
    santiago = ZoneInfo("America/Santiago")
    assert _steady_offset(date(2026, 9, 6), santiago) is None
    assert _steady_offset(date(2026, 9, 5), santiago) == timedelta(hours=-4)


WEEKLY = [WeeklyRange(d, 8 * 60, 20 * 60) for d in range(5)] + [WeeklyRange(5, 600, 720)]
NOW = datetime(2026, 3, 20, 6, tzinfo=UTC)  # DST in Madrid on the 29th, in Santiago in April


def busy_calendar(count: int) -> list[Existing]:
    starts = [NOW + timedelta(hours=3 + 5 * k, minutes=30 * (k % 3)) for k in range(count)]
    return [Existing(s, s - timedelta(minutes=10), s + timedelta(minutes=40), "confirmed", 1)
            for s in starts]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ALL_ZONES), st.integers(0, 40), st.integers(0, 60),
       st.sampled_from([None, 1, 3]), st.sampled_from([None, 2, 9]),
       st.sampled_from([0, 90, 60 * 30]))
def test_the_first_n_slots_with_a_limit_are_the_first_n_without(
        zone: str, limit: int, appointments: int, daily_cap: int | None,
        weekly_cap: int | None, notice: int) -> None:
    rules = SlotRules(1, duration_minutes=45, slot_interval_minutes=15,
                      buffer_before_minutes=10, min_notice_minutes=notice, max_days_ahead=30,
                      daily_cap=daily_cap, weekly_cap=weekly_cap)
    overrides = [DayOff(date(2026, 3, 23)), ExtraHours(date(2026, 3, 29), 0, 1440),
                 TimeOff(NOW + timedelta(days=5), NOW + timedelta(days=6, hours=3))]
    args = (zone, WEEKLY, overrides, busy_calendar(appointments), rules, NOW,
            NOW + timedelta(days=40), NOW)
    everything = available_slots(*args)
    assert available_slots(*args, limit=limit) == everything[:limit]


def test_a_limit_stops_on_the_first_free_slots_and_zero_asks_for_none() -> None:
    rules = SlotRules(1, duration_minutes=30, slot_interval_minutes=30)
    args = ("Europe/Madrid", WEEKLY, [], busy_calendar(2), rules, NOW,
            NOW + timedelta(days=14), NOW)
    first = available_slots(*args, limit=3)
    assert [s.start_at for s in first] == [
        datetime(2026, 3, 20, 7, tzinfo=UTC), datetime(2026, 3, 20, 7, 30, tzinfo=UTC),
        datetime(2026, 3, 20, 8, tzinfo=UTC)]
    assert available_slots(*args, limit=0) == []


