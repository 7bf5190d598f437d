"""The availability engine's fast paths give exactly the answers of the exact ones: the
arithmetic grid of a day without a clock change, the early stop of ``limit``, and next slots
for a whole directory page read in a constant number of queries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.identity.services import is_member
from engine.platform import Platform
from modules.booking import batch, calendar, changes, waitlist
from modules.booking import services as booking
from modules.booking.availability import (
    DayOff,
    Existing,
    ExtraHours,
    SlotRules,
    TimeOff,
    WeeklyRange,
    _candidates_exact,
    _day_grid,
    _steady_offset,
    available_slots,
    floor_seconds,
)
from modules.booking.models_waitlist import WaitlistOffer
from modules.booking.schemas import OverrideInput
from tests.modules.booking.conftest import FIRST_VISIT, Practice, variant
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
    assert _day_grid(zone, day, tuple(ranges), duration, interval) == tuple(
        (floor_seconds(start), floor_seconds(end))
        for start, end in _candidates_exact(day, ranges, rules, zone))


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




# --- next slots for a directory page ----------------------------------------------------------

PAGE_NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # Friday; Madrid's clocks change on the 29th


@pytest.fixture
def page(db: Session, platform: Platform, brands: dict[str, BrandConfig],
         practice: Callable[..., Practice], create_user: Callable[..., User],
         ) -> Iterator[list[int]]:
    """Specialists of every shape a directory page holds: zones either side of a DST change,
    two bookable types and a staff-only one, caps and overrides, a fully booked day from the
    other brand, a slot held for a waitlisted patient, one listed only elsewhere."""
    acme, wellness = brands["acme-clinic"], brands["wellness-corp"]
    with clock.freeze(PAGE_NOW):
        ids: list[int] = []
        plain = practice(hours=((0, "09:00", "10:00"), (4, "13:00", "15:00")))
        ids.append(plain.specialist.id)
        far = practice(zone="America/Santiago", hours=((6, "00:00", "02:00"),),
                       appointment_type=variant(FIRST_VISIT, slot_interval_minutes=30,
                                                max_days_ahead=40))
        ids.append(far.specialist.id)
        busy = practice(zone="Australia/Lord_Howe", hours=tuple(
            (d, "08:00", "12:00") for d in range(7)))
        calendar.save_appointment_type(db, busy.specialist, acme, variant(
            FIRST_VISIT, name="Another", duration_minutes=30, slot_interval_minutes=30,
            daily_cap=1))
        calendar.save_appointment_type(db, busy.specialist, acme, variant(
            FIRST_VISIT, name="A staff one", duration_minutes=15, slot_interval_minutes=15,
            bookable_by="staff"))
        calendar.add_override(db, busy.specialist, acme, OverrideInput(
            kind="day_off", on_date=date(2026, 3, 21)))
        calendar.add_override(db, busy.specialist, acme, OverrideInput(
            kind="time_off", start_at=datetime(2026, 3, 22, 21, tzinfo=UTC),
            end_at=datetime(2026, 3, 22, 23, tzinfo=UTC)))
        ids.append(busy.specialist.id)
        # the other brand books Madrid's Monday morning; a waitlisted patient holds an hour
        madrid = practice(hours=((0, "09:00", "12:00"), (1, "09:00", "10:00")))
        other = create_user(role="patient", brand="wellness-corp")
        wellness_type = calendar.save_appointment_type(db, madrid.specialist, wellness, variant(
            FIRST_VISIT, catalog_key="session"))
        booking.book(db, other, wellness, madrid.specialist.id, wellness_type.id,
                     datetime(2026, 3, 23, 8, tzinfo=UTC))
        holder, waiting = (create_user(role="patient", brand="acme-clinic") for _ in range(2))
        held = booking.book(db, holder, acme, madrid.specialist.id,
                            madrid.appointment_type.id, datetime(2026, 3, 23, 9, tzinfo=UTC))
        waitlist.join_waitlist(db, waiting, acme, madrid.specialist.id,
                               madrid.appointment_type.id)
        app = platform.app_for("acme-clinic")
        with app.test_request_context("/", base_url="http://acme.localhost"):
            changes.cancel(db, holder, acme, held.id)
        assert db.scalar(select(func.count(WaitlistOffer.id)).where(
            WaitlistOffer.status == "held").execution_options(all_brands=True)) == 1
        ids.append(madrid.specialist.id)
        ids.append(practice(also_on=(), hours=((0, "09:00", "17:00"),)).specialist.id)
        db.flush()
        yield ids


def next_slots_type_by_type(session: Session, brand: BrandConfig, specialist_id: int,
                            count: int) -> list[tuple[int, datetime]]:
    """The reference: every patient-bookable type through the one-type availability service,
    over the whole horizon, merged (first type by name wins a shared time)."""
    found: dict[datetime, int] = {}
    for t in changes.bookable_types(session, brand, specialist_id):
        now = clock.now()
        for slot in booking.available_slots(session, brand, specialist_id, t.id, now,
                                            now + timedelta(days=t.max_days_ahead + 1)):
            found.setdefault(slot.start_at, t.id)
    return [(found[k], k) for k in sorted(found)][:count]


@pytest.mark.parametrize("count", [1, 3, 8])
@pytest.mark.parametrize("slug", ["acme-clinic", "wellness-corp"])
def test_batched_next_slots_equal_the_one_type_service_for_every_specialist(
        page: list[int], brands: dict[str, BrandConfig], session_of: Callable[[str], Session],
        slug: str, count: int) -> None:
    brand, session = brands[slug], session_of(slug)
    with clock.freeze(PAGE_NOW):
        many = batch.next_slots_many(session, brand, page, count)
        listed = [i for i in page if is_member(session, brand, session.get(User, i))]
        for i in page:
            got = [(t.id, s.start_at) for t, s in many[i]]
            expected = next_slots_type_by_type(session, brand, i, count) if i in listed else []
            assert got == expected
            if i in listed:
                assert [(t.id, s.start_at) for t, s in changes.next_slots(
                    session, brand, i, count)] == expected
    assert len(listed) == (5 if slug == "acme-clinic" else 4)


def test_a_held_slot_and_another_brands_appointment_are_not_offered(
        page: list[int], brands: dict[str, BrandConfig],
        session_of: Callable[[str], Session]) -> None:
    with clock.freeze(PAGE_NOW):
        found = batch.next_slots_many(session_of("acme-clinic"), brands["acme-clinic"],
                                      page[3:4], 3)
    # Monday 09:00 is booked on wellness-corp and 10:00 held; after the 29th Madrid is UTC+2
    assert [s.start_at for _, s in found[page[3]]] == [
        datetime(2026, 3, 23, 10, tzinfo=UTC), datetime(2026, 3, 24, 8, tzinfo=UTC),
        datetime(2026, 3, 30, 7, tzinfo=UTC)]


def test_a_page_of_many_specialists_costs_the_queries_of_a_page_of_one(
        page: list[int], platform: Platform, brands: dict[str, BrandConfig],
        session_of: Callable[[str], Session]) -> None:
    session, brand = session_of("acme-clinic"), brands["acme-clinic"]
    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    engine = platform.runtime.engine
    with clock.freeze(PAGE_NOW):
        batch.next_slots_many(session, brand, page, 3)  # warm the session
        event.listen(engine, "before_cursor_execute", count)
        try:
            batch.next_slots_many(session, brand, page[:1], 3)
            one = len(seen)
            seen.clear()
            batch.next_slots_many(session, brand, page, 3)
            five = len(seen)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert one == five <= 8
