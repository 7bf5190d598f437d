"""The availability engine on its own: rules, overrides, buffers, notice, horizon and caps."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from modules.booking.availability import (
    DayOff,
    Existing,
    ExtraHours,
    Slot,
    SlotRules,
    TimeOff,
    WeeklyRange,
    available_slots,
    ceil_seconds,
    first_instant_at_or_after,
    floor_seconds,
    local_wall_time_exists,
    slots_by_day,
)

MADRID = ZoneInfo("Europe/Madrid")
MONDAY = date(2026, 3, 2)  # a Monday in winter time (UTC+1)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NINE_TO_FIVE = [WeeklyRange(0, 9 * 60, 17 * 60)]
HOUR = SlotRules(appointment_type_id=1, duration_minutes=60, slot_interval_minutes=60)


def local(day: date, hh: int, mm: int = 0, zone: ZoneInfo = MADRID) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=zone).astimezone(UTC)


def day_window(day: date, days: int = 1) -> tuple[datetime, datetime]:
    return local(day, 0), local(day + timedelta(days=days), 0)


def starts(slots: list[Slot], zone: ZoneInfo = MADRID) -> list[str]:
    return [s.start_at.astimezone(zone).strftime("%a %H:%M") for s in slots]


def appointment(start: datetime, minutes: int = 60, *, before: int = 0, after: int = 0,
                status: str = "confirmed", type_id: int | None = 1) -> Existing:
    return Existing(start, start - timedelta(minutes=before),
                    start + timedelta(minutes=minutes + after), status, type_id)


def slots(rules: SlotRules = HOUR, *, weekly: list[WeeklyRange] = NINE_TO_FIVE,
          overrides: list = (), existing: list[Existing] = (), day: date = MONDAY,
          days: int = 1, now: datetime = NOW, zone: ZoneInfo = MADRID) -> list[Slot]:
    return available_slots(zone, weekly, list(overrides), list(existing), rules,
                           *day_window(day, days), now)


def test_weekly_range_yields_hourly_slots_in_the_specialists_zone() -> None:
    found = slots()
    assert starts(found) == [f"Mon {h:02d}:00" for h in range(9, 17)]
    assert found[0].start_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert all(s.end_at - s.start_at == timedelta(hours=1) for s in found)


def test_slot_interval_steps_from_the_range_start_and_last_slot_ends_by_range_end() -> None:
    rules = SlotRules(1, duration_minutes=50, slot_interval_minutes=20)
    found = slots(rules, weekly=[WeeklyRange(0, 9 * 60 + 10, 11 * 60)])
    assert starts(found) == ["Mon 09:10", "Mon 09:30", "Mon 09:50", "Mon 10:10"]


def test_several_ranges_a_day_and_overlapping_ranges_give_each_slot_once() -> None:
    weekly = [WeeklyRange(0, 9 * 60, 11 * 60), WeeklyRange(0, 10 * 60, 12 * 60),
              WeeklyRange(0, 15 * 60, 17 * 60)]
    assert starts(slots(weekly=weekly)) == ["Mon 09:00", "Mon 10:00", "Mon 11:00",
                                            "Mon 15:00", "Mon 16:00"]


def test_range_may_end_at_midnight() -> None:
    found = slots(weekly=[WeeklyRange(0, 22 * 60, 24 * 60)])
    assert starts(found) == ["Mon 22:00", "Mon 23:00"]


def test_weekday_rules_apply_only_on_their_weekday() -> None:
    found = slots(weekly=[WeeklyRange(1, 9 * 60, 11 * 60)], days=7)
    assert starts(found) == ["Tue 09:00", "Tue 10:00"]


def test_minimum_notice_hides_slots_starting_sooner() -> None:
    rules = SlotRules(1, 60, 60, min_notice_minutes=120)
    now = local(MONDAY, 10, 30)
    assert starts(slots(rules, now=now)) == ["Mon 13:00", "Mon 14:00", "Mon 15:00", "Mon 16:00"]
    exact = local(MONDAY, 11, 0)  # exactly two hours before 13:00 still counts
    assert starts(slots(rules, now=exact))[0] == "Mon 13:00"


def test_slots_already_started_are_never_offered() -> None:
    assert starts(slots(now=local(MONDAY, 15, 1))) == ["Mon 16:00"]


def test_maximum_horizon_hides_slots_after_max_days_ahead() -> None:
    rules = SlotRules(1, 60, 60, max_days_ahead=7)
    now = local(MONDAY, 12, 0)
    found = slots(rules, day=MONDAY, days=15, now=now)
    assert starts(found) == ["Mon 12:00", "Mon 13:00", "Mon 14:00", "Mon 15:00",
                             "Mon 16:00"] + ["Mon 09:00", "Mon 10:00", "Mon 11:00", "Mon 12:00"]
    assert found[-1].start_at == now + timedelta(days=7)


def test_existing_appointment_blocks_its_time_on_every_overlapping_slot() -> None:
    rules = SlotRules(1, 60, 30)
    found = slots(rules, existing=[appointment(local(MONDAY, 11))])
    assert "Mon 10:00" in starts(found)
    for blocked in ("Mon 10:30", "Mon 11:00", "Mon 11:30"):
        assert blocked not in starts(found)
    assert "Mon 12:00" in starts(found)


def test_buffers_of_an_existing_appointment_block_time_around_it() -> None:
    rules = SlotRules(1, 60, 30)
    taken = appointment(local(MONDAY, 11), before=30, after=30)
    found = starts(slots(rules, existing=[taken]))
    assert "Mon 09:30" in found
    assert "Mon 10:00" not in found  # ends 11:00 but the other's buffer starts 10:30
    assert "Mon 12:00" not in found  # the other's after-buffer runs to 12:30
    assert "Mon 12:30" in found


def test_buffers_of_the_new_slot_must_not_touch_an_existing_appointment() -> None:
    rules = SlotRules(1, 60, 30, buffer_before_minutes=15, buffer_after_minutes=30)
    found = slots(rules, existing=[appointment(local(MONDAY, 12))])
    assert "Mon 10:30" in starts(found)  # 10:30-11:30, after-buffer to 12:00
    assert "Mon 11:00" not in starts(found)  # after-buffer would run into 12:00
    assert "Mon 13:00" not in starts(found)  # before-buffer from 12:45
    assert "Mon 13:30" in starts(found)
    slot = next(s for s in found if starts([s]) == ["Mon 13:30"])
    assert (slot.blocked_start_at, slot.blocked_end_at) == (local(MONDAY, 13, 15),
                                                            local(MONDAY, 15, 0))


@pytest.mark.parametrize("status", ["cancelled", "late_cancelled"])
def test_cancelled_appointments_free_their_time(status: str) -> None:
    found = slots(existing=[appointment(local(MONDAY, 11), status=status)])
    assert "Mon 11:00" in starts(found)


def test_daily_cap_closes_the_day_once_reached_counting_only_this_type() -> None:
    rules = SlotRules(1, 60, 60, daily_cap=2)
    one = [appointment(local(MONDAY, 9))]
    assert len(slots(rules, existing=one)) == 7
    other_type = one + [appointment(local(MONDAY, 10), type_id=2)]
    assert "Mon 11:00" in starts(slots(rules, existing=other_type))
    cancelled = one + [appointment(local(MONDAY, 10), status="cancelled")]
    assert "Mon 11:00" in starts(slots(rules, existing=cancelled))
    two = one + [appointment(local(MONDAY, 16), status="requested")]
    assert slots(rules, existing=two) == []
    # the next day is open again
    assert starts(slots(rules, existing=two, weekly=[WeeklyRange(1, 9 * 60, 10 * 60)],
                        days=2)) == ["Tue 09:00"]


def test_daily_cap_counts_the_specialists_local_day_not_the_utc_day() -> None:
    rules = SlotRules(1, 60, 60, daily_cap=1)
    # 00:30 Madrid on Monday is still Sunday in UTC
    early = appointment(local(MONDAY, 0, 30))
    assert early.start_at.date() == MONDAY - timedelta(days=1)
    assert slots(rules, existing=[early]) == []


def test_weekly_cap_closes_the_iso_week_once_reached() -> None:
    rules = SlotRules(1, 60, 60, weekly_cap=2)
    every_day = [WeeklyRange(d, 9 * 60, 10 * 60) for d in range(7)]
    taken = [appointment(local(MONDAY + timedelta(days=1), 9)),
             appointment(local(MONDAY + timedelta(days=3), 9))]
    found = slots(rules, weekly=every_day, existing=taken, days=14)
    assert [s.start_at.astimezone(MADRID).date() for s in found] == [
        MONDAY + timedelta(days=d) for d in range(7, 14)]


def test_day_off_removes_weekly_hours_of_that_date_only() -> None:
    found = slots(overrides=[DayOff(MONDAY)], days=8)
    assert {s.start_at.astimezone(MADRID).date() for s in found} == {MONDAY + timedelta(days=7)}


def test_extra_hours_add_slots_even_on_a_day_off() -> None:
    found = slots(overrides=[DayOff(MONDAY), ExtraHours(MONDAY, 18 * 60, 20 * 60)])
    assert starts(found) == ["Mon 18:00", "Mon 19:00"]
    sunday = MONDAY - timedelta(days=1)
    assert starts(slots(overrides=[ExtraHours(sunday, 10 * 60, 11 * 60)], day=sunday,
                        now=NOW - timedelta(days=1))) == ["Sun 10:00"]


def test_time_off_removes_every_slot_it_overlaps() -> None:
    off = TimeOff(local(MONDAY, 10, 30), local(MONDAY, 13, 0))
    assert starts(slots(overrides=[off])) == ["Mon 09:00", "Mon 13:00", "Mon 14:00",
                                              "Mon 15:00", "Mon 16:00"]


def test_window_limits_slots_by_start() -> None:
    found = available_slots(MADRID, NINE_TO_FIVE, [], [], HOUR, local(MONDAY, 10),
                            local(MONDAY, 12), NOW)
    assert starts(found) == ["Mon 10:00", "Mon 11:00"]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        available_slots(MADRID, NINE_TO_FIVE, [], [], HOUR, datetime(2026, 3, 2),
                        datetime(2026, 3, 3), NOW)


def test_spring_forward_gap_is_never_offered() -> None:
    sunday = date(2026, 3, 29)  # Madrid: 02:00 -> 03:00
    rules = SlotRules(1, 30, 30)
    found = slots(rules, weekly=[WeeklyRange(6, 60, 5 * 60)], day=sunday)
    assert starts(found) == ["Sun 01:00", "Sun 01:30", "Sun 03:00", "Sun 03:30", "Sun 04:00",
                             "Sun 04:30"]
    # 01:30-02:00 local is the last half hour before the jump: 00:30-01:00 UTC
    assert found[1].end_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_range_starting_inside_the_gap_starts_when_the_clocks_jump() -> None:
    sunday = date(2026, 3, 29)
    assert first_instant_at_or_after(datetime(2026, 3, 29, 2, 30), MADRID) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC)
    found = slots(SlotRules(1, 30, 30), weekly=[WeeklyRange(6, 2 * 60 + 30, 4 * 60)],
                  day=sunday)
    # the grid from 02:30 continues at 03:00, which is the instant of the jump
    assert starts(found) == ["Sun 03:00", "Sun 03:30"]
    assert found[0].start_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_fall_back_hour_is_offered_once() -> None:
    sunday = date(2026, 10, 25)  # Madrid: 03:00 -> 02:00
    found = slots(SlotRules(1, 30, 30), weekly=[WeeklyRange(6, 60, 4 * 60)], day=sunday,
                  now=local(sunday, 0) - timedelta(days=1))
    walls = starts(found)
    assert walls == ["Sun 01:00", "Sun 01:30", "Sun 02:00", "Sun 02:30", "Sun 03:00",
                     "Sun 03:30"]
    two = found[2].start_at
    assert two == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # the first 02:00 (summer time)
    assert local_wall_time_exists(datetime(2026, 10, 25, 2, 30), MADRID)
    assert not local_wall_time_exists(datetime(2026, 3, 29, 2, 30), MADRID)


def test_slots_by_day_groups_by_the_viewers_date() -> None:
    found = slots(weekly=[WeeklyRange(0, 9 * 60, 11 * 60), WeeklyRange(1, 8 * 60, 9 * 60)],
                  days=2)
    tokyo = slots_by_day(found, "Asia/Tokyo")  # UTC+9: Monday 10:00 Madrid is 18:00 Tokyo
    assert {d: len(v) for d, v in tokyo.items()} == {MONDAY: 2, MONDAY + timedelta(days=1): 1}
    assert [s for group in tokyo.values() for s in group] == found


@pytest.mark.parametrize("moment", [
    datetime(2026, 3, 2, 7, 30, tzinfo=UTC), datetime(2026, 3, 2, 7, 30, 0, 1, tzinfo=UTC),
    datetime(2026, 3, 2, 8, 30, 0, 999999, tzinfo=MADRID),
    datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)], ids=str)
def test_whole_seconds_round_outwards_exactly(moment: datetime) -> None:
    exact = moment.timestamp()
    assert (floor_seconds(moment), ceil_seconds(moment)) == (math.floor(exact), math.ceil(exact))


def test_an_appointment_ending_a_microsecond_into_a_slot_still_blocks_it() -> None:
    """Busy time is kept in whole seconds rounded outwards: never a slot it overlaps."""
    nine = local(MONDAY, 9)
    ends = nine + timedelta(microseconds=1)
    found = slots(existing=[Existing(nine - timedelta(hours=1), nine - timedelta(hours=1), ends,
                                     "confirmed", 2)])
    assert starts(found)[0] == "Mon 10:00"
    found = slots(existing=[Existing(nine - timedelta(hours=1), nine - timedelta(hours=1), nine,
                                     "confirmed", 2)])
    assert starts(found)[0] == "Mon 09:00"
