"""`cli.py demo` sets up booking: demo specialists have calendars, hours and types, demo
patients see free slots and hold a booked appointment; a second run adds nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from engine import clock
from engine.identity.models import User
from modules.booking import services
from modules.booking.models import Appointment, AppointmentType, Calendar, WeeklyRule
from tests.test_demo import demo_db_url, demo_env, demo_platform, run_demo  # noqa: F401


def _booking_counts(platform) -> dict[str, int]:
    with platform.runtime.sessions() as s:
        return {model.__name__: s.scalar(select(func.count()).select_from(model)) or 0
                for model in (Calendar, WeeklyRule, AppointmentType, Appointment)}


def test_after_the_demo_a_demo_patient_sees_free_slots_of_a_demo_specialist(
        demo_env, demo_platform):  # noqa: F811
    run_demo()
    platform = demo_platform()
    acme = platform.brands["acme-clinic"].loaded.config
    with platform.runtime.sessions() as s:
        lucia = s.scalar(select(User).where(User.email == "lucia.moreno@care-collective.example"))
        types = s.scalars(select(AppointmentType).where(
            AppointmentType.specialist_id == lucia.id,
            AppointmentType.brand_id == "acme-clinic")).all()
        assert {(t.duration_minutes, t.price_minor, t.currency) for t in types} == {
            (60, 8000, "EUR"), (45, 6000, "EUR"), (20, 3000, "EUR")}
        start = clock.now()
        slots = services.available_slots(s, acme, lucia.id, types[0].id, start,
                                         start + timedelta(days=14))
        assert slots
        zones = dict(s.execute(select(User.email, Calendar.timezone)
                               .join(Calendar, Calendar.specialist_id == User.id)).all())
    assert zones["lucia.moreno@care-collective.example"] == "Europe/Madrid"
    assert zones["emily.carter@care-collective.example"] == "America/New_York"
    assert len(zones) == 7


def test_a_demo_patient_books_a_free_slot_of_a_demo_specialist(
        demo_env, demo_platform):  # noqa: F811
    run_demo()
    platform = demo_platform()
    wellness = platform.brands["wellness-corp"].loaded.config
    with platform.runtime.sessions() as s:
        jordan = s.scalar(select(User).where(User.email == "jordan.lee@globex.example"))
        emily = s.scalar(select(User).where(User.email == "emily.carter@care-collective.example"))
        session_type = s.scalar(select(AppointmentType).where(
            AppointmentType.specialist_id == emily.id))
        assert (session_type.brand_id, session_type.modality, session_type.duration_minutes) \
            == ("wellness-corp", "video", 50)
        start = clock.now()
        slot = services.available_slots(s, wellness, emily.id, session_type.id, start,
                                        start + timedelta(days=14))[0]
        booked = services.book(s, jordan, wellness, emily.id, session_type.id, slot.start_at)
        assert (booked.status, booked.price_minor, booked.currency) == ("confirmed", 9500, "USD")


def test_a_second_demo_run_creates_no_booking_data_twice(demo_env, demo_platform):  # noqa: F811
    run_demo()
    before = _booking_counts(demo_platform())
    assert before["Calendar"] == 7 and before["AppointmentType"] == 4 * 3 + 2 + 4
    run_demo()
    assert _booking_counts(demo_platform()) == before
