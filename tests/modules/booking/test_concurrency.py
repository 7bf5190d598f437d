"""No double booking under races: many concurrent attempts from separate connections and two
brands against one specialist's calendar (committed data, cleaned up afterwards), the
PostgreSQL exclusion constraint itself, and SQLite's answer to a stale writer."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine import clock
from engine.config import BrandConfig
from engine.db import brand_session, make_sessionmaker
from engine.demo import delete_rows_of_users
from engine.identity.models import SpecialistMembership, User
from engine.platform import Platform
from engine.privacy.consent import current_documents
from engine.privacy.models import ConsentRecord
from engine.web import UserError
from modules.booking import services as booking
from modules.booking.models import Appointment, AppointmentType, Calendar, WeeklyRule
from tests.modules.booking.conftest import Practice, with_booking

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MADRID = ZoneInfo("Europe/Madrid")
BRANDS = ("acme-clinic", "wellness-corp")


def monday(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 3, 2, hh, mm, tzinfo=MADRID).astimezone(UTC)


@dataclass
class Calendar2Brands:
    factory: sessionmaker[Session]
    brands: dict[str, BrandConfig]
    specialist_id: int
    type_ids: dict[str, int]
    patients: dict[str, list[User]]


@pytest.fixture
def shared_calendar(platform: Platform, db_engine: Engine) -> Iterator[Calendar2Brands]:
    """A specialist listed on both example brands, Monday 09:00-17:00 Madrid, a 60-minute type
    on each brand, and 15 patients per brand; committed, and deleted after the test."""
    factory = make_sessionmaker(db_engine)
    brands = {slug: with_booking(platform.brands[slug].loaded.config) for slug in BRANDS}
    tag = uuid.uuid4().hex[:10]
    with factory() as s:
        specialist = User(realm="network:care-collective", role="specialist",
                          network="care-collective", email=f"race-{tag}@example.com",
                          name="Dr Race", password_hash="-")
        s.add(specialist)
        s.flush()
        s.add_all(SpecialistMembership(brand_id=slug, user_id=specialist.id) for slug in BRANDS)
        calendar = Calendar(specialist_id=specialist.id, timezone="Europe/Madrid")
        s.add(calendar)
        s.flush()
        s.add(WeeklyRule(calendar_id=calendar.id, weekday=0, start_minute=540, end_minute=1020))
        types = {slug: AppointmentType(brand_id=slug, specialist_id=specialist.id, name="Visit",
                                       duration_minutes=60, modality="video", price_minor=0,
                                       currency=brands[slug].currency, slot_interval_minutes=30)
                 for slug in BRANDS}
        s.add_all(types.values())
        patients = {slug: [User(realm=f"brand:{slug}", role="patient", brand_id=slug,
                                email=f"race-{tag}-{i}@example.com", name=f"Patient {i}",
                                password_hash="-") for i in range(15)] for slug in BRANDS}
        s.add_all(p for group in patients.values() for p in group)
        s.flush()
        # the patients have given their brand's consents (video appointments need telehealth)
        s.add_all(ConsentRecord(brand_id=slug, user_id=p.id, document_key=doc.key,
                                version=doc.version, granted=True, method="signup")
                  for slug, group in patients.items() for p in group
                  for doc in current_documents(brands[slug]))
        s.commit()
        setup = Calendar2Brands(factory, brands, specialist.id,
                                {slug: t.id for slug, t in types.items()}, patients)
    try:
        yield setup
    finally:
        user_ids = [specialist.id] + [p.id for g in patients.values() for p in g]
        with factory() as s:
            # rows other modules keep about these appointments (e.g. their payments) first
            delete_rows_of_users(s, set(user_ids))
            s.execute(delete(Appointment).where(Appointment.specialist_id == specialist.id))
            s.execute(delete(AppointmentType).where(
                AppointmentType.specialist_id == specialist.id))
            s.execute(delete(Calendar).where(Calendar.specialist_id == specialist.id))
            s.execute(delete(SpecialistMembership).where(
                SpecialistMembership.user_id == specialist.id))
            s.execute(delete(User).where(User.id.in_(user_ids)))
            s.commit()


def committed_appointments(setup: Calendar2Brands) -> list[Appointment]:
    with setup.factory() as s:
        return list(s.scalars(select(Appointment).where(
            Appointment.specialist_id == setup.specialist_id).order_by(Appointment.start_at)))


def test_concurrent_attempts_book_exactly_the_non_overlapping_slots(
        shared_calendar: Calendar2Brands) -> None:
    setup = shared_calendar
    # groups of attempts that overlap each other (only one of each may win), and groups that
    # touch but do not overlap one another (10:00 and 16:00 are alone and must win)
    groups = {
        "09:00": [monday(9)] * 8,
        "10:00": [monday(10)],
        "11:00/11:30": [monday(11), monday(11, 30)] * 3,
        "13:00/13:30": [monday(13), monday(13, 30)] * 3,
        "15:00": [monday(15)] * 4,
        "16:00": [monday(16)],
    }
    attempts = [(group, start) for group, starts in groups.items() for start in starts]
    assert len(attempts) >= 20
    barrier = threading.Barrier(len(attempts))
    used = {slug: 0 for slug in BRANDS}
    plan: list[tuple[str, str, datetime, User]] = []
    for i, (group, start) in enumerate(attempts):
        slug = BRANDS[i % 2]
        plan.append((group, slug, start, setup.patients[slug][used[slug]]))
        used[slug] += 1

    def attempt(group: str, slug: str, start: datetime, patient: User) -> tuple[str, str]:
        barrier.wait(timeout=30)
        session = brand_session(setup.factory, slug)
        try:
            booking.book(session, patient, setup.brands[slug], setup.specialist_id,
                         setup.type_ids[slug], start)
            session.commit()
            return group, "booked"
        except UserError as exc:
            session.rollback()
            return group, exc.code
        finally:
            session.close()

    with clock.freeze(NOW), ThreadPoolExecutor(max_workers=len(plan)) as pool:
        results = list(pool.map(lambda args: attempt(*args), plan))

    assert {code for _, code in results} <= {"booked", "slot_taken"}, results
    wins = {group: sum(1 for g, code in results if g == group and code == "booked")
            for group in groups}
    assert wins == {group: 1 for group in groups}
    stored = committed_appointments(setup)
    assert len(stored) == len(groups)
    assert {a.brand_id for a in stored} <= set(BRANDS)
    for a, b in combinations(stored, 2):
        assert a.blocked_end_at <= b.blocked_start_at or b.blocked_end_at <= a.blocked_start_at


@pytest.fixture
def postgresql_only(db_engine: Engine) -> None:
    if db_engine.dialect.name != "postgresql":
        pytest.skip("the exclusion constraint exists on PostgreSQL")


@pytest.fixture
def sqlite_only(db_engine: Engine) -> None:
    if db_engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single-writer behaviour")


def test_database_refuses_overlapping_appointments_of_one_specialist_across_brands(
        postgresql_only: None, db: Session, practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice()

    def row(brand: str, start: datetime, status: str = "confirmed") -> Appointment:
        patient = create_user(role="patient", brand=brand)
        return Appointment(brand_id=brand, specialist_id=p.specialist.id, patient_id=patient.id,
                           appointment_type_id=p.appointment_type.id, booked_by_id=patient.id,
                           modality="video", start_at=start, end_at=start + timedelta(hours=1),
                           blocked_start_at=start, blocked_end_at=start + timedelta(hours=1),
                           status=status, price_minor=0, currency="EUR")

    booking.insert_appointment(db, row("acme-clinic", monday(9)))
    # written past every check in Python: the database itself says no, as "slot taken"
    with pytest.raises(UserError) as caught:
        booking.insert_appointment(db, row("wellness-corp", monday(9, 30)))
    assert caught.value.code == "slot_taken"
    # the session is still usable; cancelled rows and touching rows do not clash
    booking.insert_appointment(db, row("wellness-corp", monday(9, 30), "cancelled"))
    booking.insert_appointment(db, row("wellness-corp", monday(10)))
    assert db.scalar(select(func.count(Appointment.id)).where(
        Appointment.specialist_id == p.specialist.id)) == 3


def test_sqlite_writer_with_a_stale_read_gets_busy_and_writes_nothing(
        sqlite_only: None, shared_calendar: Calendar2Brands) -> None:
    setup = shared_calendar
    acme = setup.brands["acme-clinic"]
    first, second = setup.patients["acme-clinic"][:2]
    stale = brand_session(setup.factory, "acme-clinic")
    fresh = brand_session(setup.factory, "acme-clinic")
    try:
        with clock.freeze(NOW):
            stale.scalar(select(func.count(User.id)))  # reads: its snapshot starts here
            booking.book(fresh, first, acme, setup.specialist_id, setup.type_ids["acme-clinic"],
                         monday(9))
            fresh.commit()
            error: Any = None
            try:
                booking.book(stale, second, acme, setup.specialist_id,
                             setup.type_ids["acme-clinic"], monday(12))
            except UserError as exc:
                error = exc
            stale.rollback()
    finally:
        stale.close()
        fresh.close()
    assert error is not None and (error.code, error.status) == ("busy", 503)
    assert [a.start_at for a in committed_appointments(setup)] == [monday(9)]

