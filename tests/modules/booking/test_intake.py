"""Intake answers: stored with the appointment only (one table), carried from matching in an
encrypted, expiring token, intake forms on appointment types, and who may read the answers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import render_template
from flask_login import login_user
from markupsafe import escape
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.platform import Platform
from engine.web import UserError
from modules.booking import intake
from modules.booking import services as booking
from modules.booking.models import Appointment
from modules.booking.models_intake import IntakeAnswers
from modules.booking.questions import IntakeForm, InvalidAnswers, Question
from tests.conftest import BrandClient, spanish
from tests.modules.booking.conftest import Practice, with_booking

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday
MONDAY_9_MADRID = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SECRET = "panic attacks at night zq7"  # an answer no other table could hold by chance

FORM = IntakeForm.model_validate({
    "title": {"en": "Before your first session", "es": "Antes de tu primera sesión"},
    "questions": [
        {"key": "reason", "type": "single", "required": True, "label": "Main reason",
         "choices": [{"value": "anxiety", "label": "Anxiety"},
                     {"value": "sleep", "label": "Sleep"}]},
        {"key": "panic", "type": "single", "required": True, "label": "Panic attacks?",
         "show_if": {"question": "reason", "any_of": ["anxiety"]},
         "choices": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]},
        {"key": "mood", "type": "scale", "label": "Mood", "scale_min": 1, "scale_max": 5},
        {"key": "notes", "type": "text", "label": "Anything else?", "max_length": 60},
    ],
})

MATCHING_QUESTIONS = (
    Question(key="topic", type="single", label={"en": "What brings you here?"},
             choices=({"value": "anxiety", "label": "Anxiety"},  # type: ignore[arg-type]
                      {"value": "stress", "label": "Stress"})),
    Question(key="notes", type="text", label="Anything else?"),
)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


@pytest.fixture
def acme(brands: dict[str, BrandConfig]) -> BrandConfig:
    return with_booking(brands["acme-clinic"], intake_forms={"first": FORM})


def book(db: Session, brand: BrandConfig, p: Practice, patient: User,
         start: datetime = MONDAY_9_MADRID) -> Appointment:
    return booking.book(db, patient, brand, p.specialist.id, p.appointment_type.id, start)


def token_for(brand: BrandConfig, notes: str = SECRET) -> str:
    return intake.issue_matching_token(brand, MATCHING_QUESTIONS,
                                       {"topic": "anxiety", "notes": notes})


def tables_holding(db: Session, needle: str) -> set[str]:
    """Every table of the database with a row mentioning ``needle``."""
    found: set[str] = set()
    for name in inspect(db.connection()).get_table_names():
        for row in db.execute(text(f'SELECT * FROM "{name}"')):
            if any(needle in str(value) for value in row):
                found.add(name)
    return found


def stored(db: Session) -> int:
    return db.scalar(select(func.count(IntakeAnswers.id))
                     .execution_options(all_brands=True)) or 0


# --- matching answers ---------------------------------------------------------------------


def test_matching_answers_are_stored_with_the_booked_appointment_and_nowhere_else(
        db: Session, acme: BrandConfig, practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p, patient = practice(), create_user(role="patient")
    token = token_for(acme)
    assert SECRET not in token  # the token is encrypted: a page or a log shows no answer
    assert tables_holding(db, SECRET) == set()  # nothing is written before the booking
    appointment = book(db, acme, p, patient)
    row = intake.attach_intake(db, patient, acme, appointment, token)
    db.flush()
    assert row is not None and (row.appointment_id, row.source) == (appointment.id, "matching")
    assert tables_holding(db, SECRET) == set()  # stored encrypted (engine.crypto)
    answers = intake.answers_for(db, p.specialist, acme, appointment)
    assert answers is not None
    assert [(a.key, a.values) for a in answers] == [("topic", ("anxiety",)),
                                                    ("notes", (SECRET,))]


def test_booking_without_a_token_stores_no_answers(
        db: Session, acme: BrandConfig, practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p, patient = practice(), create_user(role="patient")
    appointment = book(db, acme, p, patient)
    assert intake.attach_intake(db, patient, acme, appointment, "") is None
    assert stored(db) == 0
    assert intake.answers_for(db, patient, acme, appointment) is None


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature broken
    lambda t: "x" + t,  # payload changed
    lambda t: "not-a-token",
])
def test_tampered_matching_token_is_refused_and_stores_nothing(
        db: Session, acme: BrandConfig, practice: Callable[..., Practice],
        create_user: Callable[..., User], tamper: Callable[[str], str]) -> None:
    p, patient = practice(), create_user(role="patient")
    appointment = book(db, acme, p, patient)
    with pytest.raises(UserError) as caught:
        intake.attach_intake(db, patient, acme, appointment, tamper(token_for(acme)))
    assert caught.value.code == "intake_invalid"
    assert stored(db) == 0


def test_expired_matching_token_is_refused(
        db: Session, acme: BrandConfig, practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p, patient = practice(), create_user(role="patient")
    token = token_for(acme)
    with clock.freeze(NOW + timedelta(hours=1, minutes=59)):
        assert intake.read_matching_token(acme, token).answers  # still fresh
    appointment = book(db, acme, p, patient)
    with clock.freeze(NOW + intake.TOKEN_MAX_AGE + timedelta(seconds=2)):
        with pytest.raises(UserError) as caught:
            intake.attach_intake(db, patient, acme, appointment, token)
    assert caught.value.code == "intake_expired"
    assert stored(db) == 0


def test_matching_token_of_another_brand_is_refused(
        acme: BrandConfig, brands: dict[str, BrandConfig]) -> None:
    with pytest.raises(UserError) as caught:
        intake.read_matching_token(acme, token_for(brands["wellness-corp"]))
    assert caught.value.code == "intake_invalid"


def test_only_the_appointments_patient_attaches_answers_and_only_once(
        db: Session, acme: BrandConfig, practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p, patient = practice(), create_user(role="patient")
    appointment = book(db, acme, p, patient)
    other = create_user(role="patient")
    with pytest.raises(UserError) as caught:
        intake.attach_intake(db, other, acme, appointment, token_for(acme))
    assert caught.value.status == 404
    intake.attach_intake(db, patient, acme, appointment, token_for(acme))
    with pytest.raises(UserError) as again:
        intake.attach_intake(db, patient, acme, appointment, token_for(acme, "other"))
    assert again.value.code == "already_answered"
    assert stored(db) == 1


def test_answers_are_read_by_the_specialist_and_the_patient_only(
        db: Session, acme: BrandConfig, brands: dict[str, BrandConfig],
        practice: Callable[..., Practice], create_user: Callable[..., User]) -> None:
    p, patient = practice(), create_user(role="patient")
    appointment = book(db, acme, p, patient)
    intake.attach_intake(db, patient, acme, appointment, token_for(acme))
    assert intake.answers_for(db, p.specialist, acme, appointment)
    assert intake.answers_for(db, patient, acme, appointment)
    other_specialist = create_user(role="specialist", name="Dr Other")
    other_patient = create_user(role="patient")
    for intruder in (other_specialist, other_patient):
        with pytest.raises(UserError) as caught:
            intake.answers_for(db, intruder, acme, appointment)
        assert caught.value.status == 404
    # the same people asking through another brand get nothing either
    with pytest.raises(UserError) as elsewhere:
        intake.answers_for(db, p.specialist, brands["wellness-corp"], appointment)
    assert elsewhere.value.status == 404


# --- intake forms on appointment types ------------------------------------------------------


def test_intake_form_with_a_condition_on_a_later_question_is_refused() -> None:
    with pytest.raises(ValueError, match="not an earlier question"):
        IntakeForm.model_validate({"title": "T", "questions": [
            {"key": "notes", "type": "text", "label": "A",
             "show_if": {"question": "reason", "any_of": ["x"]}},
            {"key": "reason", "type": "single", "label": "B",
             "choices": [{"value": "x", "label": "X"}, {"value": "y", "label": "Y"}]}]})


def test_only_the_types_specialist_attaches_one_of_the_brands_forms(
        db: Session, acme: BrandConfig, practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    p = practice()
    with pytest.raises(UserError) as unknown:
        intake.set_intake_form(db, p.specialist, acme, p.appointment_type.id, "nope")
    assert unknown.value.field == "intake_form"
    other = create_user(role="specialist", name="Dr Other")
    with pytest.raises(UserError) as foreign:
        intake.set_intake_form(db, other, acme, p.appointment_type.id, "first")
    assert foreign.value.status == 404
    assert p.appointment_type.intake_form is None
    intake.set_intake_form(db, p.specialist, acme, p.appointment_type.id, "first")
    assert p.appointment_type.intake_form == "first"


@pytest.fixture
def with_form(db: Session, acme: BrandConfig, practice: Callable[..., Practice],
              create_user: Callable[..., User]) -> tuple[Practice, User, Appointment]:
    """A type asking for the "first" form, booked by a patient."""
    p = practice()
    intake.set_intake_form(db, p.specialist, acme, p.appointment_type.id, "first")
    patient = create_user(role="patient")
    return p, patient, book(db, acme, p, patient)


def test_booked_type_with_an_intake_form_asks_until_it_is_filled_once_per_specialist(
        db: Session, acme: BrandConfig, with_form: tuple[Practice, User, Appointment]) -> None:
    p, patient, first = with_form
    second = book(db, acme, p, patient, MONDAY_9_MADRID + timedelta(days=7))
    # only the first session asks
    assert list(intake.pending_intake_forms(db, patient, acme)) == [first.id]
    intake.submit_intake_form(db, patient, acme, first.id,
                              {"reason": ["sleep"], "notes": [SECRET]})
    assert intake.pending_intake_forms(db, patient, acme) == {}
    with pytest.raises(UserError):
        intake.form_to_fill(db, patient, acme, second.id)
    answers = intake.answers_for(db, p.specialist, acme, first)
    assert answers is not None and [a.key for a in answers] == ["reason", "notes"]
    assert tables_holding(db, SECRET) == set()  # stored encrypted (engine.crypto)


def test_intake_form_refuses_missing_required_answers_and_stores_nothing(
        db: Session, acme: BrandConfig, with_form: tuple[Practice, User, Appointment]) -> None:
    _p, patient, appointment = with_form
    with pytest.raises(InvalidAnswers) as caught:
        intake.submit_intake_form(db, patient, acme, appointment.id, {"notes": ["hi"]})
    assert caught.value.errors == {"reason": "required"}
    assert stored(db) == 0
    assert appointment.id in intake.pending_intake_forms(db, patient, acme)


def test_conditional_question_is_required_only_when_its_condition_holds(
        db: Session, acme: BrandConfig, with_form: tuple[Practice, User, Appointment]) -> None:
    _p, patient, appointment = with_form
    with pytest.raises(InvalidAnswers) as caught:
        intake.submit_intake_form(db, patient, acme, appointment.id, {"reason": ["anxiety"]})
    assert caught.value.errors == {"panic": "required"}
    # when the condition does not hold, an answer to the hidden question is dropped
    intake.submit_intake_form(db, patient, acme, appointment.id,
                              {"reason": ["sleep"], "panic": ["yes"], "mood": ["4"]})
    answers = intake.answers_for(db, patient, acme, appointment)
    assert answers is not None
    assert {a.key: a.values for a in answers} == {"reason": ("sleep",), "mood": ("4",)}


def test_intake_form_refuses_answers_outside_the_choices_and_the_scale(
        db: Session, acme: BrandConfig, with_form: tuple[Practice, User, Appointment]) -> None:
    _p, patient, appointment = with_form
    with pytest.raises(InvalidAnswers) as caught:
        intake.submit_intake_form(db, patient, acme, appointment.id,
                                  {"reason": ["money"], "mood": ["9"], "notes": ["x" * 61]})
    assert caught.value.errors == {"reason": "not_a_choice", "mood": "out_of_range",
                                   "notes": "too_long"}
    assert stored(db) == 0


def test_another_patient_cannot_open_or_fill_the_intake_form(
        db: Session, acme: BrandConfig, with_form: tuple[Practice, User, Appointment],
        create_user: Callable[..., User]) -> None:
    _p, _patient, appointment = with_form
    other = create_user(role="patient")
    for call in (lambda: intake.form_to_fill(db, other, acme, appointment.id),
                 lambda: intake.submit_intake_form(db, other, acme, appointment.id,
                                                   {"reason": ["sleep"]})):
        with pytest.raises(UserError) as caught:
            call()
        assert caught.value.status == 404
    assert stored(db) == 0


# --- through the web --------------------------------------------------------------------------

ACME_FORMS = """    intake_forms:
      first:
        title: {en: Before your first session, es: Antes de tu primera sesión}
        questions:
          - key: reason
            type: single
            required: true
            label: {en: Main reason, es: Motivo principal}
            choices:
              - {value: anxiety, label: {en: Anxiety, es: Ansiedad}}
              - {value: sleep, label: {en: Sleep, es: Sueño}}
          - key: panic
            type: single
            required: true
            label: {en: Panic attacks?, es: ¿Ataques de pánico?}
            show_if: {question: reason, any_of: [anxiety]}
            choices:
              - {value: "yes", label: {en: "Yes", es: Sí}}
              - {value: "no", label: "No"}
          - key: notes
            type: text
            label: {en: Anything else?, es: ¿Algo más?}
"""


@pytest.fixture
def web(brands_dir: Path, platform_on: Callable[..., Platform]) -> Platform:
    """A platform whose acme-clinic defines the "first" intake form in its YAML."""
    path = brands_dir / "acme-clinic.yaml"
    body = path.read_text()
    anchor = "    intake_forms:\n"  # the example's forms stay beside "first"
    assert anchor in body
    path.write_text(body.replace(anchor, ACME_FORMS, 1))
    return platform_on(brands_dir)


def web_brand(platform: Platform) -> BrandConfig:
    return platform.brands["acme-clinic"].loaded.config


def test_patient_fills_the_intake_form_on_the_web(
        db: Session, web: Platform, practice: Callable[..., Practice],
        create_user: Callable[..., User], signin: Callable[..., object]) -> None:
    acme = web_brand(web)
    p = practice()
    intake.set_intake_form(db, p.specialist, acme, p.appointment_type.id, "first")
    patient = create_user(role="patient", email="intake-web@example.com")
    patient.locale = "en"
    appointment = book(db, acme, p, patient)
    db.flush()
    client = BrandClient(web, "acme.localhost")
    signin(client, "intake-web@example.com")
    listing = client.get("/appointments/intake/")
    assert listing.status_code == 200 and "Fill in the intake form" in listing.text
    path = f"/appointments/intake/{appointment.id}"
    page = client.get(path)
    assert page.status_code == 200 and "Main reason" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    refused = client.submit(path, {"reason": "anxiety"})
    assert refused.status_code == 400 and "Please answer this question." in refused.text
    assert stored(db) == 0
    mine = client.get("/appointments/")
    assert f'href="/appointments/intake/{appointment.id}"' in mine.text  # My appointments asks
    done = client.submit(path, {"reason": "anxiety", "panic": "no", "notes": SECRET})
    assert done.status_code == 302
    assert f'href="/appointments/intake/{appointment.id}"' not in client.get(
        "/appointments/").text
    assert client.get(path).status_code == 404  # filled: nothing more to fill
    assert tables_holding(db, SECRET) == set()  # stored encrypted (engine.crypto)


def test_intake_form_of_another_patient_answers_404(
        db: Session, web: Platform, practice: Callable[..., Practice],
        create_user: Callable[..., User], signin: Callable[..., object]) -> None:
    acme = web_brand(web)
    p = practice()
    intake.set_intake_form(db, p.specialist, acme, p.appointment_type.id, "first")
    appointment = book(db, acme, p, create_user(role="patient"))
    create_user(role="patient", email="nosy@example.com")
    db.flush()
    client = BrandClient(web, "acme.localhost")
    signin(client, "nosy@example.com")
    path = f"/appointments/intake/{appointment.id}"
    assert client.get(path).status_code == 404
    assert client.submit(path, {"reason": "sleep"}, form_page="/appointments/intake/"
                         ).status_code == 404
    assert stored(db) == 0


def render_as(platform: Platform, viewer: User, template: str, **context: object) -> str:
    """``template`` rendered on acme-clinic for ``viewer`` signed in."""
    app = platform.brands["acme-clinic"].app
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        login_user(viewer)
        return render_template(template, **context)


def render_extras(platform: Platform, viewer: User, appointment: Appointment) -> str:
    return render_as(platform, viewer, "booking/specialist/_appointment_extras.html",
                     appointment=appointment)


def test_my_appointments_row_asks_for_the_intake_form_until_it_is_filled(
        db: Session, web: Platform, practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    acme = web_brand(web)
    p = practice()
    intake.set_intake_form(db, p.specialist, acme, p.appointment_type.id, "first")
    patient = create_user(role="patient")
    appointment = book(db, acme, p, patient)
    fill = escape(spanish(web, "Fill in the intake form"))  # what the patient reads
    row = render_as(web, patient, "booking/intake/_pending.html", a=appointment)
    assert f'href="/appointments/intake/{appointment.id}">{fill}</a>' in row
    intake.submit_intake_form(db, patient, acme, appointment.id, {"reason": ["sleep"]})
    row = render_as(web, patient, "booking/intake/_pending.html", a=appointment)
    assert fill not in row and f'href="/appointments/intake/{appointment.id}"' not in row


def test_the_type_editor_offers_the_brands_intake_forms(
        web: Platform, practice: Callable[..., Practice]) -> None:
    p = practice()
    field = render_as(web, p.specialist, "booking/intake/_type_field.html", current="first")
    assert re.search(r'<option value="first" selected>(Before your first session|'
                     r'Antes de tu primera sesión)</option>', field)


def test_the_specialist_sees_the_answers_and_another_specialist_does_not(
        db: Session, web: Platform, practice: Callable[..., Practice],
        create_user: Callable[..., User]) -> None:
    acme = web_brand(web)
    p, patient = practice(), create_user(role="patient")
    appointment = book(db, acme, p, patient)
    intake.attach_intake(db, patient, acme, appointment, token_for(acme))
    db.flush()
    assert SECRET in render_extras(web, p.specialist, appointment)
    other = create_user(role="specialist", name="Dr Other")
    assert SECRET not in render_extras(web, other, appointment)


def test_the_specialists_appointment_page_shows_the_answers_to_that_specialist_only(
        db: Session, web: Platform, practice: Callable[..., Practice],
        create_user: Callable[..., User], signin: Callable[..., object]) -> None:
    acme = web_brand(web)
    p, patient = practice(), create_user(role="patient")
    appointment = book(db, acme, p, patient)
    intake.attach_intake(db, patient, acme, appointment, token_for(acme))
    other = create_user(role="specialist", name="Dr Other")
    db.flush()
    path = f"/specialist/calendar/appointments/{appointment.id}"
    own = BrandClient(web, "acme.localhost")
    signin(own, p.specialist.email)
    page = own.get(path)
    assert page.status_code == 200 and SECRET in page.text
    assert "no-store" in page.headers["Cache-Control"]
    nosy = BrandClient(web, "acme.localhost")
    signin(nosy, other.email)
    refused = nosy.get(path)
    assert refused.status_code == 404 and SECRET not in refused.text
