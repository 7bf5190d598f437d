"""Intake answers stored with appointments: the one read path and the one write path.

Answers are health data. They are stored only in ``booking_intake_answers``, one row per
appointment, and only once the appointment exists:

- from the matching journey (source ``matching``): the shortlist hands the answers to the
  booking page inside a token (:func:`issue_matching_token`): encrypted (Fernet), so the page
  and the browser hold no readable answers, and signed with a timestamp (itsdangerous), both
  with keys derived from the brand's own secret key (useless on another brand); it expires after
  :data:`TOKEN_MAX_AGE`. The carrier is chosen so the token never lands in a URL (access logs,
  history, Referer): the shortlist keeps it in the tab's ``sessionStorage`` (never sent to the
  server, gone with the tab, and it survives the sign-in redirect and week-to-week navigation of
  the booking page), and the booking form posts it in the hidden field ``intake_token``
  (``booking/intake/_carry.html``). When the patient books, :func:`attach_intake` verifies it and
  stores the answers with the new appointment. Nothing is written before that. Without
  JavaScript the answers are simply not carried (the patient books without sharing them).
- from an intake form attached to the appointment type (source ``intake_form``): the patient
  fills it after booking, before the first session (:func:`submit_intake_form`).

:func:`answers_for` is the one read path (only the appointment's specialist and patient); the
audit work will log it, the privacy work will encrypt the ``answers`` column here.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask_babel import gettext as _
from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeTimedSerializer,
)
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock, runtime
from engine.app import brand_secret
from engine.config import BrandConfig
from engine.identity.models import User
from engine.web import UserError
from modules.booking.calendar import booking_settings
from modules.booking.models import Appointment, AppointmentType
from modules.booking.models_intake import IntakeAnswers
from modules.booking.questions import AnsweredQuestion, AnswerValue, IntakeForm, parse_answers
from modules.booking.questions import snapshot as snapshot_answers

TOKEN_MAX_AGE = timedelta(hours=2)
MATCHING_FORM_KEY = "matching"
# appointments whose intake form is still worth asking for
OPEN_STATUSES = ("requested", "confirmed")


class CarriedAnswers(BaseModel):
    """Answers on their way to an appointment (what a matching token holds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    form_key: str
    answers: tuple[AnsweredQuestion, ...]


class _Signer(TimestampSigner):
    def get_timestamp(self) -> int:
        # the one clock, so tests can move time past the expiry
        return int(clock.now().timestamp())


class _Serializer(URLSafeTimedSerializer):
    default_signer = _Signer


def _secret(brand: BrandConfig) -> str:
    return brand_secret(runtime.current().settings.secret_key, brand.slug)


def _serializer(brand: BrandConfig) -> URLSafeTimedSerializer:
    return _Serializer(_secret(brand), salt="booking.intake.matching")


def _cipher(brand: BrandConfig) -> Fernet:
    key = hashlib.sha256(f"booking.intake.matching:{_secret(brand)}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def issue_matching_token(brand: BrandConfig, questions: Sequence[Any],
                         answers: Mapping[str, AnswerValue]) -> str:
    """An encrypted, signed, timestamped token carrying the matching answers (with the
    questions' labels) to the booking page. Stores nothing; empty answers give an empty token.

    Within :data:`TOKEN_MAX_AGE` the token can attach the answers to any appointment its
    holder books as the patient (their own answers, to their own appointment); the booking
    form's script forgets it once posted."""
    carried = snapshot_answers(questions, answers)
    if not carried:
        return ""
    payload = CarriedAnswers(form_key=MATCHING_FORM_KEY, answers=carried)
    sealed = _cipher(brand).encrypt(payload.model_dump_json().encode()).decode()
    return str(_serializer(brand).dumps(sealed))


def read_matching_token(brand: BrandConfig, token: str) -> CarriedAnswers:
    """The answers a token carries; a UserError when it was altered, is of another brand or
    has expired."""
    serializer = _serializer(brand)
    try:
        sealed = serializer.loads(token, max_age=int(TOKEN_MAX_AGE.total_seconds()))
        return CarriedAnswers.model_validate_json(_cipher(brand).decrypt(sealed.encode()))
    except SignatureExpired:
        raise UserError(_("Your answers are more than two hours old, so we did not keep them. "
                          "Answer the questions again to share them with your specialist."),
                        code="intake_expired", field="intake_token") from None
    except (BadSignature, InvalidToken, ValidationError, AttributeError):
        raise UserError(_("Your answers could not be read. Answer the questions again to share "
                          "them with your specialist."),
                        code="intake_invalid", field="intake_token") from None


def _not_found() -> UserError:
    return UserError(_("This appointment does not exist."), code="not_found", status=404)


def _store(session: Session, brand: BrandConfig, appointment: Appointment, source: str,
           form_key: str, answers: Sequence[AnsweredQuestion]) -> IntakeAnswers:
    if session.scalar(select(IntakeAnswers.id).where(
            IntakeAnswers.appointment_id == appointment.id)) is not None:
        raise UserError(_("The answers for this appointment have already been sent."),
                        code="already_answered", status=409)
    row = IntakeAnswers(brand_id=brand.slug, appointment_id=appointment.id, source=source,
                        form_key=form_key,
                        answers=[a.model_dump(mode="json") for a in answers])
    session.add(row)
    session.flush()
    return row


def attach_intake(session: Session, actor: User, brand: BrandConfig, appointment: Appointment,
                  token_or_answers: str | CarriedAnswers | None) -> IntakeAnswers | None:
    """Store the matching answers with the appointment the patient has just booked.

    ``token_or_answers`` is the ``intake_token`` the booking form posted (or answers already
    read from one); blank means the patient came without answers and nothing is stored. Only
    the appointment's patient may attach answers, once. Call it in the booking's transaction,
    right after :func:`modules.booking.services.book`, so an invalid token (a UserError) rolls
    the booking back too and the patient can try again.
    """
    if not token_or_answers:
        return None
    if appointment.brand_id != brand.slug or appointment.patient_id != actor.id:
        raise _not_found()
    carried = (token_or_answers if isinstance(token_or_answers, CarriedAnswers)
               else read_matching_token(brand, token_or_answers))
    return _store(session, brand, appointment, "matching", carried.form_key, carried.answers)


def _appointment(session: Session, brand: BrandConfig, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.brand_id != brand.slug:
        raise _not_found()
    return appointment


def answers_for(session: Session, actor: User, brand: BrandConfig,
                appointment: Appointment) -> tuple[AnsweredQuestion, ...] | None:
    """The intake answers stored with ``appointment`` (None when there are none).

    The one read path of intake answers: only the appointment's specialist and its patient may
    read them; anyone else (another specialist, another patient, another brand) gets a 404
    UserError. Reading them is a key action the audit work logs here.
    """
    if appointment.brand_id != brand.slug or actor.id not in (appointment.specialist_id,
                                                              appointment.patient_id):
        raise _not_found()
    row = session.scalar(select(IntakeAnswers).where(
        IntakeAnswers.appointment_id == appointment.id, IntakeAnswers.brand_id == brand.slug))
    if row is None:
        return None
    return tuple(AnsweredQuestion.model_validate(a) for a in row.answers)


# --- intake forms on appointment types ------------------------------------------------------


def intake_forms(brand: BrandConfig) -> dict[str, IntakeForm]:
    """The brand's intake forms by key (from ``modules.booking.intake_forms``)."""
    return dict(booking_settings(brand).intake_forms)


def intake_form(brand: BrandConfig, key: str | None) -> IntakeForm | None:
    """The brand's intake form ``key`` (None for no key or a form the brand no longer has)."""
    if key is None:
        return None
    return booking_settings(brand).intake_forms.get(key)


def set_intake_form(session: Session, actor: User, brand: BrandConfig,
                    appointment_type_id: int, form_key: str | None) -> AppointmentType:
    """Attach the brand's intake form ``form_key`` to the specialist's own appointment type
    (None detaches it)."""
    kind = session.get(AppointmentType, appointment_type_id)
    if kind is None or kind.brand_id != brand.slug or kind.specialist_id != actor.id:
        raise UserError(_("This appointment type does not exist."), code="not_found",
                        status=404)
    if form_key is not None and intake_form(brand, form_key) is None:
        raise UserError(_("Choose one of this site's intake forms."), code="invalid",
                        field="intake_form")
    kind.intake_form = form_key
    session.flush()
    return kind


def _answered_forms(session: Session, brand: BrandConfig, patient_id: int,
                    ) -> set[tuple[int, str]]:
    """(specialist, form key) pairs the patient has already answered on this brand."""
    rows = session.execute(
        select(Appointment.specialist_id, IntakeAnswers.form_key)
        .join(IntakeAnswers, IntakeAnswers.appointment_id == Appointment.id)
        .where(Appointment.patient_id == patient_id, Appointment.brand_id == brand.slug,
               IntakeAnswers.source == "intake_form"))
    return {(s, k) for s, k in rows}


def pending_intake_forms(session: Session, actor: User, brand: BrandConfig,
                         ) -> dict[int, IntakeForm]:
    """Appointment id -> intake form the patient still has to fill before it.

    A form is asked before the first session: once the patient has answered a form for a
    specialist, later appointments of the same form with that specialist do not ask again.
    Only upcoming, requested or confirmed appointments ask.
    """
    if actor.role != "patient":
        return {}
    rows = session.execute(
        select(Appointment, AppointmentType.intake_form)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .where(Appointment.patient_id == actor.id, Appointment.brand_id == brand.slug,
               Appointment.status.in_(OPEN_STATUSES), Appointment.start_at > clock.now(),
               AppointmentType.intake_form.is_not(None))
        .order_by(Appointment.start_at)).all()
    if not rows:
        return {}
    done = _answered_forms(session, brand, actor.id)
    pending: dict[int, IntakeForm] = {}
    for appointment, key in rows:
        form = intake_form(brand, key)
        if form is None or (appointment.specialist_id, key) in done:
            continue
        done.add((appointment.specialist_id, key))  # only the first session asks
        pending[appointment.id] = form
    return pending


def form_to_fill(session: Session, actor: User, brand: BrandConfig,
                 appointment_id: int) -> tuple[Appointment, str, IntakeForm]:
    """The patient's appointment, its form key and the form still to fill (404 otherwise)."""
    appointment = _appointment(session, brand, appointment_id)
    if appointment.patient_id != actor.id:
        raise _not_found()
    form = pending_intake_forms(session, actor, brand).get(appointment.id)
    if form is None:
        raise UserError(_("There is no intake form to fill for this appointment."),
                        code="no_form", status=404)
    kind = session.get(AppointmentType, appointment.appointment_type_id)
    assert kind is not None and kind.intake_form is not None
    return appointment, kind.intake_form, form


def submit_intake_form(session: Session, actor: User, brand: BrandConfig, appointment_id: int,
                       form: Mapping[str, Sequence[str]]) -> IntakeAnswers:
    """Validate the patient's answers to the appointment's intake form and store them.

    Raises :class:`modules.booking.questions.InvalidAnswers` for answers that do not fit the
    form (nothing is stored) and a UserError when there is no form to fill.
    """
    appointment, key, intake = form_to_fill(session, actor, brand, appointment_id)
    answers = parse_answers(intake.questions, form)
    return _store(session, brand, appointment, "intake_form", key,
                  snapshot_answers(intake.questions, answers))
