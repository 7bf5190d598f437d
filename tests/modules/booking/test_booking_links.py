"""The booking features are reachable: the waitlist from a specialist's profile and the patient
nav, a recurring series from an appointment's page."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.platform import Platform
from modules.booking import services as booking
from modules.booking.models_waitlist import WaitlistEntry
from modules.booking.views_patient import BookForm
from modules.directory import services as directory
from modules.directory.schemas import ProfileInput
from tests.conftest import BrandClient
from tests.modules.booking.conftest import Practice

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday
MONDAY_9_MADRID = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


def _listed_profile(db: Session, platform: Platform, specialist: User) -> int:
    acme = platform.brands["acme-clinic"].loaded.config
    profile = directory.save_profile(db, specialist, acme, ProfileInput(
        display_name="Dr Vega", languages=("es",), modalities=("video",)))
    directory.set_visible(db, profile, "acme-clinic", True)
    db.flush()
    return profile.id


def _waitlist_form(page: str) -> str | None:
    found = re.search(r'<form[^>]*class="waitlist-join".*?</form>', page, re.S)
    return found.group(0) if found else None


def test_a_signed_in_patient_joins_the_waitlist_from_a_specialists_profile(
        db: Session, platform: Platform, client: BrandClient,
        practice: Callable[..., Practice], create_user: Callable[..., User],
        signin: Callable[..., Any]) -> None:
    p = practice()
    profile_id = _listed_profile(db, platform, p.specialist)
    assert _waitlist_form(client.get(f"/specialists/{profile_id}").get_data(as_text=True)) \
        is None  # anonymous visitors: the cacheable page has no form
    patient = create_user(role="patient")
    signin(client, patient.email)
    form = _waitlist_form(client.get(f"/specialists/{profile_id}").get_data(as_text=True))
    assert form is not None
    assert 'action="/appointments/series/waitlist"' in form
    assert f'name="specialist_id" value="{p.specialist.id}"' in form
    assert 'name="appointment_type_id"' in form and 'name="before"' in form
    answer = client.submit("/appointments/series/waitlist", {
        "specialist_id": p.specialist.id, "appointment_type_id": p.appointment_type.id,
        "before": ""}, form_page=f"/specialists/{profile_id}")
    assert answer.status_code == 302
    [entry] = db.scalars(select(WaitlistEntry).where(WaitlistEntry.patient_id == patient.id))
    assert (entry.specialist_id, entry.status) == (p.specialist.id, "waiting")


def test_the_profile_has_no_waitlist_form_for_a_specialist(
        db: Session, platform: Platform, client: BrandClient,
        practice: Callable[..., Practice], signin: Callable[..., Any]) -> None:
    p = practice()
    profile_id = _listed_profile(db, platform, p.specialist)
    signin(client, p.specialist.email)
    assert _waitlist_form(client.get(f"/specialists/{profile_id}").get_data(as_text=True)) \
        is None


def test_the_patient_nav_links_to_my_waitlist(
        db: Session, client: BrandClient, create_user: Callable[..., User],
        signin: Callable[..., Any]) -> None:
    patient = create_user(role="patient")
    patient.locale = "en"
    db.flush()
    signin(client, patient.email)
    page = client.get("/appointments/").get_data(as_text=True)
    assert re.search(r'<a[^>]*href="/appointments/series/waitlist"[^>]*>\s*My waitlist', page)


def test_an_appointment_page_links_to_repeating_it_weekly_or_every_two_weeks(
        db: Session, client: BrandClient, brands: dict[str, BrandConfig],
        practice: Callable[..., Practice], create_user: Callable[..., User],
        signin: Callable[..., Any]) -> None:
    p = practice()
    patient = create_user(role="patient")
    signin(client, patient.email)
    appointment = booking.book(db, patient, brands["acme-clinic"], p.specialist.id,
                               p.appointment_type.id, MONDAY_9_MADRID)
    page = client.get(f"/appointments/{appointment.id}").get_data(as_text=True)
    links = [html.unescape(h) for h in re.findall(
        r'href="(/appointments/series/\d+/[^"]+)"', page)]
    assert len(links) == 2
    queries = [parse_qs(urlsplit(link).query) for link in links]
    assert [q["frequency"] for q in queries] == [["weekly"], ["biweekly"]]
    for link in links:
        assert urlsplit(link).path == \
            f"/appointments/series/{p.specialist.id}/{p.appointment_type.id}"
        preview = client.get(link)
        assert preview.status_code == 200
        assert "occurrence-free" in preview.get_data(as_text=True)


def test_the_book_form_takes_an_intake_token_of_a_long_questionnaire() -> None:
    token = "t" * 60000
    form = BookForm.model_validate({"appointment_type": 1, "start": "2026-03-02T08:00:00Z",
                                    "intake_token": token})
    assert form.intake_token == token
