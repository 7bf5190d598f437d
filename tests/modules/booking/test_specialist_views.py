"""The specialist portal's booking pages: the week calendar, the availability editor,
appointment types and an appointment's actions; access, CSRF and out-of-scope ids."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.notify import Email
from engine.platform import Platform
from modules.booking import calendar
from modules.booking import services as booking
from modules.booking.models import Appointment, AppointmentType, DateOverride, WeeklyRule
from modules.booking.schemas import AppointmentTypeInput
from tests.conftest import BrandClient, spanish
from tests.modules.booking.conftest import FIRST_VISIT, Practice, variant

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday
MONDAY_9_MADRID = "2026-03-02T09:00:00+01:00"
BASE = "/specialist/calendar"
SESSION = AppointmentTypeInput(name="Counselling", duration_minutes=50, modality="video",
                               catalog_key="session", slot_interval_minutes=60)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


@pytest.fixture
def patient(create_user: Callable[..., User]) -> User:
    user = create_user(role="patient", brand="acme-clinic", name="Ana Paciente")
    user.timezone = "America/New_York"
    return user


def signed_in(client_for: Callable[[str], BrandClient], signin: Callable[..., Any],
              user: User, brand: str = "acme-clinic") -> BrandClient:
    client = client_for(brand)
    assert signin(client, user.email).status_code == 302
    return client


def book(db: Session, brands: dict[str, BrandConfig], p: Practice, patient: User,
         start: str = MONDAY_9_MADRID) -> Appointment:
    return booking.book(db, patient, brands["acme-clinic"], p.specialist.id,
                        p.appointment_type.id, start)


def rules_of(db: Session, specialist: User) -> list[tuple[int, int, int]]:
    own = calendar.calendar_of(db, specialist.id)
    assert own is not None
    return [(r.weekday, r.start_minute, r.end_minute) for r in calendar.weekly_rules(db, own)]


def status_of(db: Session, appointment_id: int) -> str:
    db.expire_all()
    found = db.get(Appointment, appointment_id)
    assert found is not None
    return found.status


# --- pages and access -------------------------------------------------------------------------


def test_every_page_renders_for_the_specialist(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User, client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    made = book(db, brands, p, patient)
    client = signed_in(client_for, signin, p.specialist)
    pages = {f"{BASE}/": "week=2026-03-02", f"{BASE}/?week=2026-03-04": "Ana Paciente",
             f"{BASE}/?week=2026-03-09": "week=2026-03-02",
             f"{BASE}/availability": "Europe/Madrid", f"{BASE}/types": "First visit",
             f"{BASE}/types/new": 'name="duration_minutes"',
             f"{BASE}/types/{p.appointment_type.id}": 'value="First visit"',
             f"{BASE}/appointments/{made.id}": "Ana Paciente"}
    for path, expected in pages.items():
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert expected in resp.get_data(as_text=True), path


def test_specialist_nav_links_to_the_calendar_pages(
        practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    client = signed_in(client_for, signin, practice().specialist)
    page = client.get("/specialist/").get_data(as_text=True)
    for path in (f"{BASE}/", f"{BASE}/availability", f"{BASE}/types"):
        assert f'href="{path}"' in page


def test_patients_get_403_and_anonymous_visitors_are_sent_to_sign_in(
        patient: User, client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    anonymous = client_for("acme-clinic")
    resp = anonymous.get(f"{BASE}/availability")
    assert resp.status_code == 302 and "/account/signin" in resp.headers["Location"]
    client = signed_in(client_for, signin, patient)
    for path in (f"{BASE}/", f"{BASE}/availability", f"{BASE}/types", f"{BASE}/types/new"):
        assert client.get(path).status_code == 403, path


def test_week_view_shows_an_appointment_booked_on_the_other_brand(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    wellness = brands["wellness-corp"]
    kind = calendar.save_appointment_type(db, p.specialist, wellness, SESSION)
    employee = create_user(role="patient", brand="wellness-corp", name="Bob Employee")
    booking.book(db, employee, wellness, p.specialist.id, kind.id, MONDAY_9_MADRID)
    client = signed_in(client_for, signin, p.specialist)
    page = client.get(f"{BASE}/?week=2026-03-02").get_data(as_text=True)
    assert "Bob Employee" in page and "wellness-corp" in page and "other-brand" in page
    assert "Counselling" in page
    # shown in the calendar's zone: 09:00 in Madrid
    assert "9:00" in page


def test_week_view_rejects_a_malformed_week(
        practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    client = signed_in(client_for, signin, practice().specialist)
    for week in ("next-tuesday", "0001-01-01", "9999-12-31"):
        assert client.get(f"{BASE}/?week={week}").status_code == 400, week


# --- the availability editor ------------------------------------------------------------------


def test_availability_editor_saves_the_zone_and_several_ranges_a_day(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    client = signed_in(client_for, signin, p.specialist)
    resp = client.submit(f"{BASE}/availability", {
        "timezone": "America/Santiago", "start_0": ["14:00", "09:00", ""],
        "end_0": ["18:00", "13:00", ""], "start_2": ["10:00"], "end_2": ["24:00"]})
    assert resp.status_code == 302
    assert rules_of(db, p.specialist) == [(0, 540, 780), (0, 840, 1080), (2, 600, 1440)]
    own = calendar.calendar_of(db, p.specialist.id)
    assert own is not None and own.timezone == "America/Santiago"


def test_overlapping_or_backwards_ranges_are_refused_per_row_with_values_kept(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any], platform: Platform) -> None:
    p = practice()
    before = rules_of(db, p.specialist)
    client = signed_in(client_for, signin, p.specialist)
    resp = client.submit(f"{BASE}/availability", {
        "timezone": "Europe/Madrid", "start_0": ["09:00", "12:00"], "end_0": ["13:00", "15:00"],
        "start_1": ["18:00"], "end_1": ["10:00"], "start_3": ["9am"], "end_3": ["17:00"]})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    overlaps = escape(spanish(platform, "This range overlaps another range of the same day "
                                        "(%(start)s–%(end)s).", start="09:00", end="13:00"))
    assert f'<p class="field-error" id="err_0-1">{overlaps}</p>' in page
    assert 'id="err_1-0"' in page and 'id="err_3-0"' in page
    assert 'id="err_0-0"' not in page
    assert 'value="12:00"' in page and 'value="9am"' in page
    assert rules_of(db, p.specialist) == before


def test_an_unknown_time_zone_is_refused(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    client = signed_in(client_for, signin, p.specialist)
    resp = client.submit(f"{BASE}/availability", {"timezone": "Mars/Olympus",
                                                   "start_0": "08:00", "end_0": "12:00"})
    assert resp.status_code == 400 and 'id="timezone-error"' in resp.get_data(as_text=True)
    assert rules_of(db, p.specialist) == [(0, 540, 1020)]


def test_blocking_time_and_removing_it(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    client = signed_in(client_for, signin, p.specialist)
    resp = client.submit(f"{BASE}/availability/overrides", {
        "kind": "time_off", "start_date": "2026-03-02", "start_time": "12:00",
        "end_date": "2026-03-02", "end_time": "14:30"}, form_page=f"{BASE}/availability")
    assert resp.status_code == 302
    row = db.scalar(select(DateOverride))
    assert row is not None and (row.start_at, row.end_at) == (
        datetime(2026, 3, 2, 11, tzinfo=UTC), datetime(2026, 3, 2, 13, 30, tzinfo=UTC))
    page = client.get(f"{BASE}/?week=2026-03-02").get_data(as_text=True)
    assert "week-block blocked" in page
    resp = client.submit(f"{BASE}/availability/overrides/{row.id}/remove",
                         form_page=f"{BASE}/availability")
    assert resp.status_code == 302
    assert db.scalar(select(DateOverride)) is None


def test_day_off_and_extra_hours_are_saved(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    client = signed_in(client_for, signin, p.specialist)
    for data in ({"kind": "day_off", "on_date": "2026-03-09"},
                 {"kind": "extra_hours", "on_date": "2026-03-07", "start": "10:00",
                  "end": "12:00"}):
        resp = client.submit(f"{BASE}/availability/overrides", data,
                             form_page=f"{BASE}/availability")
        assert resp.status_code == 302
    rows = db.scalars(select(DateOverride).order_by(DateOverride.on_date)).all()
    assert [(r.kind, str(r.on_date), r.start_minute) for r in rows] == [
        ("extra_hours", "2026-03-07", 600), ("day_off", "2026-03-09", None)]


def test_a_bad_override_rerenders_with_its_values_and_saves_nothing(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    client = signed_in(client_for, signin, p.specialist)
    resp = client.submit(f"{BASE}/availability/overrides", {
        "kind": "time_off", "start_date": "2026-03-02", "start_time": "15:00",
        "end_date": "2026-03-02", "end_time": "14:00"}, form_page=f"{BASE}/availability")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert 'id="ov-end_time-error"' in page and 'value="15:00"' in page
    resp = client.submit(f"{BASE}/availability/overrides", {
        "kind": "time_off", "start_date": "0001-01-01", "start_time": "00:00",
        "end_date": "2026-03-02", "end_time": "14:00"}, form_page=f"{BASE}/availability")
    assert resp.status_code == 400 and 'id="ov-start_date-error"' in resp.get_data(as_text=True)
    assert db.scalar(select(DateOverride)) is None


def test_another_specialists_override_cannot_be_removed(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    mine, theirs = practice(), practice()
    theirs_client = signed_in(client_for, signin, theirs.specialist)
    theirs_client.submit(f"{BASE}/availability/overrides",
                         {"kind": "day_off", "on_date": "2026-03-09"},
                         form_page=f"{BASE}/availability")
    row = db.scalar(select(DateOverride))
    assert row is not None
    client = signed_in(client_for, signin, mine.specialist)
    resp = client.submit(f"{BASE}/availability/overrides/{row.id}/remove",
                         form_page=f"{BASE}/availability")
    assert resp.status_code == 404
    assert db.scalar(select(DateOverride)) is not None


# --- appointment types ------------------------------------------------------------------------


def type_form(**changes: Any) -> dict[str, Any]:
    data = {"name": "Follow-up", "catalog_key": "follow-up", "duration_minutes": "45",
            "modality": "both", "location": "Calle Mayor 1, Madrid",
            "buffer_before_minutes": "5", "buffer_after_minutes": "10",
            "min_notice_minutes": "120", "max_days_ahead": "30",
            "slot_interval_minutes": "15", "daily_cap": "4", "weekly_cap": "",
            "bookable_by": "staff", "needs_confirmation": "on"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_creating_an_appointment_type_takes_the_price_from_the_brands_list(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    client = signed_in(client_for, signin, p.specialist)
    page = client.get(f"{BASE}/types/new").get_data(as_text=True)
    assert 'name="price"' not in page  # acme-clinic sets its prices
    resp = client.submit(f"{BASE}/types/new", type_form(price="1.00"))
    assert resp.status_code == 302
    row = db.scalar(select(AppointmentType).where(AppointmentType.name == "Follow-up"))
    assert row is not None
    assert (row.price_minor, row.currency, row.modality, row.location) == (
        6000, "EUR", "both", "Calle Mayor 1, Madrid")
    assert (row.buffer_before_minutes, row.buffer_after_minutes, row.min_notice_minutes,
            row.max_days_ahead, row.slot_interval_minutes, row.daily_cap, row.weekly_cap,
            row.bookable_by, row.needs_confirmation) == (5, 10, 120, 30, 15, 4, None, "staff",
                                                        True)


def test_editing_an_appointment_type_keeps_its_id(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    client = signed_in(client_for, signin, p.specialist)
    path = f"{BASE}/types/{p.appointment_type.id}"
    resp = client.submit(path, type_form(name="Primera", catalog_key="first-visit",
                                         modality="video", location=""))
    assert resp.status_code == 302
    db.expire_all()
    row = db.get(AppointmentType, p.appointment_type.id)
    assert row is not None and (row.name, row.price_minor, row.daily_cap) == ("Primera", 8000, 4)


def test_a_bad_appointment_type_rerenders_errors_with_values_kept(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    client = signed_in(client_for, signin, p.specialist)
    resp = client.submit(f"{BASE}/types/new", type_form(
        name="Home visit", modality="in_person", location="", duration_minutes="2",
        daily_cap="0"))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    for field in ("duration_minutes", "daily_cap"):
        assert f'id="{field}-error"' in page, field
    assert 'value="Home visit"' in page and 'value="2"' in page
    assert db.scalar(select(AppointmentType).where(
        AppointmentType.name == "Home visit")) is None
    resp = client.submit(f"{BASE}/types/new", type_form(name="Home visit", modality="in_person",
                                                        location=""))
    assert resp.status_code == 400 and 'id="location-error"' in resp.get_data(as_text=True)


def test_an_unknown_catalogue_entry_is_refused_on_its_field(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    client = signed_in(client_for, signin, practice().specialist)
    resp = client.submit(f"{BASE}/types/new", type_form(catalog_key="massage"))
    assert resp.status_code == 400 and 'id="catalog_key-error"' in resp.get_data(as_text=True)
    assert db.scalar(select(AppointmentType).where(AppointmentType.name == "Follow-up")) is None


def test_removing_a_type_with_appointments_deactivates_it(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User, client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    book(db, brands, p, patient)
    client = signed_in(client_for, signin, p.specialist)
    resp = client.submit(f"{BASE}/types/{p.appointment_type.id}/retire",
                         form_page=f"{BASE}/types")
    assert resp.status_code == 302
    db.expire_all()
    row = db.get(AppointmentType, p.appointment_type.id)
    assert row is not None and row.active is False
    assert client.get(f"{BASE}/types/{p.appointment_type.id}").status_code == 404


def test_another_specialists_type_answers_404(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    mine, theirs = practice(), practice()
    client = signed_in(client_for, signin, mine.specialist)
    path = f"{BASE}/types/{theirs.appointment_type.id}"
    assert client.get(path).status_code == 404
    assert client.submit(path, type_form(), form_page=f"{BASE}/types").status_code == 404
    assert client.submit(f"{path}/retire", form_page=f"{BASE}/types").status_code == 404
    db.expire_all()
    row = db.get(AppointmentType, theirs.appointment_type.id)
    assert row is not None and (row.name, row.active) == ("First visit", True)


# --- one appointment --------------------------------------------------------------------------


def test_appointment_page_shows_both_zones_and_the_brand(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User, client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    made = book(db, brands, p, patient)
    client = signed_in(client_for, signin, p.specialist)
    page = client.get(f"{BASE}/appointments/{made.id}").get_data(as_text=True)
    assert "Europe/Madrid" in page and "America/New_York" in page
    assert "9:00" in page and "3:00" in page  # 09:00 Madrid is 03:00 in New York
    assert "Acme Clinic" in page and "First visit" in page


def test_confirming_from_the_page(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User, client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any], platform: Platform) -> None:
    p = practice(appointment_type=variant(FIRST_VISIT, needs_confirmation=True))
    made = book(db, brands, p, patient)
    client = signed_in(client_for, signin, p.specialist)
    path = f"{BASE}/appointments/{made.id}"
    assert client.submit(f"{path}/confirm", form_page=path).status_code == 302
    assert status_of(db, made.id) == "confirmed"
    resp = client.submit(f"{path}/confirm", form_page=path)
    refused = escape(spanish(platform, "Only a requested appointment can be confirmed."))
    assert resp.status_code == 400 and refused in resp.get_data(as_text=True)
    assert status_of(db, made.id) == "confirmed"


def test_marking_no_show_before_the_start_is_refused_and_after_it_saved(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User, client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    made = book(db, brands, p, patient)
    client = signed_in(client_for, signin, p.specialist)
    path = f"{BASE}/appointments/{made.id}"
    resp = client.submit(f"{path}/attendance", {"status": "no_show"}, form_page=path)
    assert resp.status_code == 400 and status_of(db, made.id) == "confirmed"
    with clock.freeze(made.start_at + timedelta(minutes=10)):
        client = signed_in(client_for, signin, p.specialist)  # days later: a new session
        resp = client.submit(f"{path}/attendance", {"status": "no_show"}, form_page=path)
    assert resp.status_code == 302 and status_of(db, made.id) == "no_show"


def test_cancelling_tells_the_patient_by_email_and_frees_the_time(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User, client_for: Callable[[str], BrandClient], signin: Callable[..., Any],
        outbox: Callable[[], list[Email]]) -> None:
    p = practice()
    made = book(db, brands, p, patient)
    before = len(outbox())
    client = signed_in(client_for, signin, p.specialist)
    path = f"{BASE}/appointments/{made.id}"
    resp = client.submit(f"{path}/cancel", {"reason": "I am ill, sorry."}, form_page=path)
    assert resp.status_code == 302
    assert status_of(db, made.id) == "cancelled"
    mails = outbox()[before:]
    assert [m.recipient for m in mails] == [patient.email]
    body = mails[0].body_text or ""
    assert "Dr Vega" in body and "I am ill, sorry." in body
    assert mails[0].attachments and "METHOD:CANCEL" in mails[0].attachments[0]["content"]
    starts = [s.start_at for s in booking.available_slots(
        db, brands["acme-clinic"], p.specialist.id, p.appointment_type.id, NOW,
        NOW + timedelta(days=7))]
    assert made.start_at in starts


def test_actions_need_a_csrf_token(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User, client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice(appointment_type=variant(FIRST_VISIT, needs_confirmation=True))
    made = book(db, brands, p, patient)
    client = signed_in(client_for, signin, p.specialist)
    before = rules_of(db, p.specialist)
    posts = {f"{BASE}/appointments/{made.id}/confirm": {},
             f"{BASE}/appointments/{made.id}/cancel": {},
             f"{BASE}/availability": {"timezone": "UTC", "start_0": "01:00", "end_0": "02:00"},
             f"{BASE}/availability/overrides": {"kind": "day_off", "on_date": "2026-03-09"},
             f"{BASE}/types/new": type_form()}
    for path, data in posts.items():
        assert client.post(path, data=data).status_code == 400, path
    assert status_of(db, made.id) == "requested"
    assert rules_of(db, p.specialist) == before
    assert db.scalar(select(DateOverride)) is None


def test_another_specialists_appointment_answers_404(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        patient: User, client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    mine, theirs = practice(), practice()
    made = book(db, brands, theirs, patient)
    client = signed_in(client_for, signin, mine.specialist)
    path = f"{BASE}/appointments/{made.id}"
    assert client.get(path).status_code == 404
    assert client.submit(f"{path}/cancel", form_page=f"{BASE}/").status_code == 404
    assert status_of(db, made.id) == "confirmed"


def test_an_appointment_of_the_other_brand_answers_404_here(
        db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
        create_user: Callable[..., User], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice()
    wellness = brands["wellness-corp"]
    kind = calendar.save_appointment_type(db, p.specialist, wellness, SESSION)
    employee = create_user(role="patient", brand="wellness-corp")
    made = booking.book(db, employee, wellness, p.specialist.id, kind.id, MONDAY_9_MADRID)
    acme = signed_in(client_for, signin, p.specialist, "acme-clinic")
    assert acme.get(f"{BASE}/appointments/{made.id}").status_code == 404
    assert acme.get(f"{BASE}/types/{kind.id}").status_code == 404
    there = signed_in(client_for, signin, p.specialist, "wellness-corp")
    assert there.get(f"{BASE}/appointments/{made.id}").status_code == 200


def test_weekly_rule_rows_are_shown_for_editing(
        db: Session, practice: Callable[..., Practice], client_for: Callable[[str], BrandClient],
        signin: Callable[..., Any]) -> None:
    p = practice(hours=((0, "09:00", "13:00"), (0, "15:00", "19:30")))
    client = signed_in(client_for, signin, p.specialist)
    page = client.get(f"{BASE}/availability").get_data(as_text=True)
    for value in ("09:00", "13:00", "15:00", "19:30"):
        assert f'value="{value}"' in page
    assert db.scalar(select(WeeklyRule.id)) is not None


def test_specialists_set_their_price_within_the_brands_bounds_where_pricing_allows(
        db: Session, practice: Callable[..., Practice], brands_dir: Path,
        platform_on: Callable[..., Platform], signin: Callable[..., Any]) -> None:
    yaml = brands_dir / "acme-clinic.yaml"
    text = yaml.read_text()
    assert "\n  strategy: fixed\n" in text
    yaml.write_text(text.replace("\n  strategy: fixed\n", '\n  strategy: specialist_defined\n'
                                 '  specialist_price_min: "40.00"\n'
                                 '  specialist_price_max: "120.00"\n', 1))
    p = practice()
    client = BrandClient(platform_on(brands_dir), "acme.localhost")
    assert signin(client, p.specialist.email).status_code == 302
    assert 'name="price"' in client.get(f"{BASE}/types/new").get_data(as_text=True)
    resp = client.submit(f"{BASE}/types/new", type_form(catalog_key="", price="150"))
    assert resp.status_code == 400 and 'id="price-error"' in resp.get_data(as_text=True)
    assert 'value="150"' in resp.get_data(as_text=True)
    assert db.scalar(select(AppointmentType).where(AppointmentType.name == "Follow-up")) is None
    resp = client.submit(f"{BASE}/types/new", type_form(catalog_key="", price="95.50"))
    assert resp.status_code == 302
    row = db.scalar(select(AppointmentType).where(AppointmentType.name == "Follow-up"))
    assert row is not None and (row.price_minor, row.currency) == (9550, "EUR")
