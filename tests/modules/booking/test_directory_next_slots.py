"""The directory list's next free times: one card hook per specialist, one batched JSON request
for the whole page (the same slots as each profile's own next.json), and clear errors for bad
ids."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import SpecialistMembership, User
from engine.platform import Platform
from modules.booking import calendar, slot_cache
from modules.booking import services as booking
from modules.booking.schemas import AppointmentTypeInput, OverrideInput, WeeklyRangeInput
from modules.directory import services as directory
from modules.directory.schemas import ProfileInput
from tests.conftest import BrandClient
from tests.modules.booking.conftest import Practice

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


def _list(db: Session, platform: Platform, specialist: User, name: str) -> None:
    acme = platform.brands["acme-clinic"].loaded.config
    profile = directory.save_profile(db, specialist, acme, ProfileInput(
        display_name=name, languages=("es",), modalities=("video",)))
    directory.set_visible(db, profile, "acme-clinic", True)
    db.flush()


def test_directory_cards_carry_the_specialist_for_one_batched_request(
        client: BrandClient, practice: Callable[..., Practice], platform: Platform,
        db: Session) -> None:
    p = practice()
    _list(db, platform, p.specialist, "Dr Vega")
    page = client.get("/specialists/").get_data(as_text=True)
    assert f'class="profile-card" data-specialist="{p.specialist.id}"' in page
    assert 'data-url="/appointments/book/next.json"' in page
    assert 'data-title="Próximas horas libres"' in page or 'data-title="Next free times"' in page
    assert "/static/m/booking/directory-slots.js" in page
    script = client.get("/static/m/booking/directory-slots.js")
    assert script.status_code == 200 and b"data.specialists" in script.data
    script.close()


def test_batch_answers_each_specialists_own_next_slots(
        client: BrandClient, practice: Callable[..., Practice]) -> None:
    morning = practice()
    afternoon = practice(hours=((0, "15:00", "18:00"),))
    idle = practice(hours=())
    ids = [morning.specialist.id, afternoon.specialist.id, idle.specialist.id]
    data = client.get("/appointments/book/next.json?ids=" + ",".join(map(str, ids))).get_json()
    assert data["book"] == "/appointments/book/{specialist}?type={type}"
    for p in (morning, afternoon, idle):
        own = client.get(f"/appointments/book/{p.specialist.id}/next.json").get_json()
        batched = data["specialists"][str(p.specialist.id)]
        assert [start for start, _ in batched] == [s["start"] for s in own["slots"]]
        assert [data["book"].format(specialist=p.specialist.id, type=kind)
                for _, kind in batched] == [s["url"] for s in own["slots"]]
    assert [start for start, _ in data["specialists"][str(afternoon.specialist.id)]] == [
        "2026-03-02T14:00:00Z", "2026-03-02T15:00:00Z", "2026-03-02T16:00:00Z"]
    assert data["specialists"][str(idle.specialist.id)] == []


def test_batch_reveals_nothing_of_specialists_not_listed_on_the_brand(
        client_for: Callable[[str], BrandClient], practice: Callable[..., Practice]) -> None:
    only_acme = practice(also_on=())
    wellness = client_for("wellness-corp")
    data = wellness.get(f"/appointments/book/next.json?ids={only_acme.specialist.id},999999"
                        ).get_json()
    assert data["specialists"] == {str(only_acme.specialist.id): [], "999999": []}


def test_batch_costs_the_same_queries_for_one_specialist_or_many(
        client: BrandClient, practice: Callable[..., Practice], platform: Platform,
        cache: slot_cache.SlotCache) -> None:
    people = [practice() for _ in range(6)]

    def queries(ids: list[int]) -> int:
        seen: list[str] = []
        engine = platform.runtime.engine
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get("/appointments/book/next.json?ids="
                              + ",".join(map(str, ids))).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    one = queries([people[0].specialist.id])
    cache.clear()  # both computed, not read from the cache
    assert queries([p.specialist.id for p in people]) == one
    # once cached, the page costs the keys and the listing only
    assert queries([p.specialist.id for p in people]) < one


@pytest.mark.parametrize("ids, code", [
    ("", "invalid_ids"), ("3,x", "invalid_ids"), ("-1", "invalid_ids"),
    ("1" * 13, "invalid_ids"), (",".join(str(i) for i in range(1, 1002)), "too_many_ids"),
])
@pytest.mark.parametrize("accept", ["application/json", "text/html,*/*", None])
def test_batch_refuses_bad_ids_clearly(client: BrandClient, ids: str, code: str,
                                       accept: str | None) -> None:
    """A .json URL answers a JSON problem whatever the client's Accept header says."""
    resp = client.get(f"/appointments/book/next.json?ids={ids}",
                      headers={"Accept": accept} if accept else {})
    assert resp.status_code == 400
    assert resp.mimetype == "application/json"
    assert resp.get_json()["error"] == code and resp.get_json()["field"] == "ids"


# --- the per-process cache of next slots: used only while provably exact ---------------------


@pytest.fixture
def cache() -> Iterator[slot_cache.SlotCache]:
    slot_cache.slots.clear()
    yield slot_cache.slots
    slot_cache.slots.clear()


def _starts(db: Session, brand: BrandConfig, specialist: User) -> list[datetime]:
    found = slot_cache.next_slots(db, brand, [specialist.id], 3)[specialist.id]
    return [c.slot.start_at for c in found]


def _monday(hour: int) -> datetime:
    return datetime(2026, 3, 2, hour, 0, tzinfo=UTC)  # Madrid is UTC+1: 09:00 is 08:00 UTC


def test_a_second_read_is_served_from_the_cache_with_the_same_answer(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        cache: slot_cache.SlotCache) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    first = _starts(db, acme, p.specialist)
    assert first == [_monday(8), _monday(9), _monday(10)]
    assert (cache.hits, cache.misses) == (0, 1)
    assert _starts(db, acme, p.specialist) == first
    assert (cache.hits, cache.misses) == (1, 1)


def test_a_booking_makes_the_cached_slots_stale_at_once(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User], cache: slot_cache.SlotCache) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    assert _starts(db, acme, p.specialist)[0] == _monday(8)
    patient = create_user(role="patient", brand="acme-clinic")
    booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id, _monday(8))
    assert _starts(db, acme, p.specialist) == [_monday(9), _monday(10), _monday(11)]
    assert cache.hits == 0


def test_a_booking_on_another_brand_reaches_the_shared_calendars_cache(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User], cache: slot_cache.SlotCache,
        session_of: Callable[[str], Session]) -> None:
    p = practice()
    acme, wellness = brands["acme-clinic"], brands["wellness-corp"]
    assert _starts(db, acme, p.specialist)[0] == _monday(8)
    wellness_db = session_of("wellness-corp")
    kind = calendar.save_appointment_type(
        wellness_db, wellness_db.get(User, p.specialist.id), wellness,
        AppointmentTypeInput(name="Counselling", duration_minutes=50, modality="video",
                             catalog_key="session"))
    patient = wellness_db.get(User, create_user(role="patient", brand="wellness-corp").id)
    booking.book(wellness_db, patient, wellness, p.specialist.id, kind.id, _monday(8))
    wellness_db.flush()
    assert _starts(db, acme, p.specialist)[0] == _monday(9)


def test_new_weekly_hours_and_a_day_off_make_the_cache_stale(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        cache: slot_cache.SlotCache) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    assert _starts(db, acme, p.specialist)[0] == _monday(8)
    calendar.set_weekly_rules(db, p.specialist, acme, [
        WeeklyRangeInput(weekday=0, start_minute=15 * 60, end_minute=18 * 60)])
    assert _starts(db, acme, p.specialist)[0] == _monday(14)
    calendar.add_override(db, p.specialist, acme, OverrideInput(
        kind="day_off", on_date=date(2026, 3, 2)))
    db.flush()
    assert _starts(db, acme, p.specialist)[0] == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    assert cache.hits == 0


def test_time_passing_the_first_slot_recomputes(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        cache: slot_cache.SlotCache) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    assert _starts(db, acme, p.specialist)[0] == _monday(8)
    with clock.freeze(_monday(8) + timedelta(minutes=30)):
        assert _starts(db, acme, p.specialist) == [_monday(9), _monday(10), _monday(11)]
    assert cache.hits == 0


def test_an_unlisted_specialist_is_never_served_from_the_cache(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        cache: slot_cache.SlotCache) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    assert _starts(db, acme, p.specialist)
    db.execute(update(SpecialistMembership).where(
        SpecialistMembership.user_id == p.specialist.id,
        SpecialistMembership.brand_id == "acme-clinic").values(active=False)
        .execution_options(all_brands=True))
    assert _starts(db, acme, p.specialist) == []


def test_a_rolled_back_booking_leaves_the_cache_exact(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User], cache: slot_cache.SlotCache) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    patient = create_user(role="patient", brand="acme-clinic")
    savepoint = db.begin_nested()
    booking.book(db, patient, acme, p.specialist.id, p.appointment_type.id, _monday(8))
    assert _starts(db, acme, p.specialist)[0] == _monday(9)  # cached under the new token
    savepoint.rollback()
    assert _starts(db, acme, p.specialist)[0] == _monday(8)


def test_a_bulk_delete_whose_specialists_the_hook_cannot_name_makes_every_entry_stale(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        cache: slot_cache.SlotCache) -> None:
    p = practice()
    acme = brands["acme-clinic"]
    assert _starts(db, acme, p.specialist)
    calendar.set_weekly_rules(db, p.specialist, acme, [])  # a bulk DELETE and nothing new
    assert _starts(db, acme, p.specialist) == []
