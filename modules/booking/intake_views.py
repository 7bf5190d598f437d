"""Intake form views (patient portal): the forms still to fill and filling one; and the
template helpers other booking pages use to show answers and "Fill in the intake form".

Pages showing answers are ``Cache-Control: no-store``: they carry health data.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from engine.identity.permissions import requires
from engine.web import UserError, current_brand, db
from modules.booking import intake
from modules.booking.models import Appointment
from modules.booking.questions import AnsweredQuestion, IntakeForm, InvalidAnswers, Text, label_for

bp = Blueprint("booking_intake", __name__)


def label(text: Text | None) -> str:
    """A brand-written label in the visitor's language."""
    return label_for(text, str(get_locale() or current_brand.config.locale),
                     current_brand.config.locale)


def _private(body: str, status: int = 200) -> Any:
    return body, status, {"Cache-Control": "no-store"}


@bp.app_template_global("intake_answers")
def intake_answers(appointment: Appointment) -> tuple[AnsweredQuestion, ...] | None:
    """The answers stored with ``appointment``, for its specialist or patient; None for anyone
    else or when there are none (the page around it decides who sees the appointment)."""
    if not current_user.is_authenticated:
        return None
    try:
        answers = intake.answers_for(db(), current_user, current_brand.config, appointment)
    except UserError:
        return None
    if answers and current_user.id != appointment.patient_id:
        from engine import audit

        audit.record_request("intake.view", target_type="appointment", target_id=appointment.id,
                             patient_id=appointment.patient_id)
    return answers


@bp.app_template_global("intake_pending")
def intake_pending(appointment: Appointment) -> bool:
    """Whether the signed-in patient still has to fill an intake form for ``appointment``."""
    if not current_user.is_authenticated:
        return False
    if "intake_pending" not in g:  # one query per page, however many appointments it lists
        g.intake_pending = intake.pending_intake_forms(db(), current_user, current_brand.config)
    return appointment.id in g.intake_pending


@bp.app_template_global("intake_form_choices")
def intake_form_choices() -> list[tuple[str, str]]:
    """(key, title) of the brand's intake forms, for the appointment type editor."""
    forms = intake.intake_forms(current_brand.config)
    return [(key, label(form.title)) for key, form in forms.items()]


@bp.app_template_global("intake_label")
def intake_label(text: Text | None) -> str:
    return label(text)


def question_error(q: Any, code: str) -> str:
    """The message shown beside a question whose answer was refused with ``code``."""
    if q is None:
        return _("The form had an answer to a question we did not ask. Reload the page and "
                 "try again.")
    if code == "required":
        return _("Please answer this question.")
    if q.type == "scale":
        return _("Choose a number from %(low)d to %(high)d.", low=q.scale_min, high=q.scale_max)
    if code == "too_long":
        return _("Please keep your answer under %(num)d characters.", num=q.max_length)
    if code == "not_a_choice" or q.type in ("single", "multiple"):
        return _("Choose one of the options shown.")
    return _("This answer could not be read. Please try again.")


def conditions(questions: tuple[Any, ...]) -> dict[str, str]:
    """For each conditional question, a sentence saying when it applies (shown without JS)."""
    by_key = {q.key: q for q in questions}
    out: dict[str, str] = {}
    for q in questions:
        if q.show_if is None:
            continue
        target = by_key[q.show_if.question]
        names = {c.value: label(c.label) for c in target.choices}
        answers = ", ".join(f"“{names.get(v, v)}”" for v in q.show_if.any_of)
        out[q.key] = _("Only if your answer to “%(question)s” was %(answers)s.",
                       question=label(target.label), answers=answers)
    return out


@bp.route("/")
@requires("booking.appointment.book")
def pending() -> Any:
    forms = intake.pending_intake_forms(db(), current_user, current_brand.config)
    appointments = [db().get(Appointment, i) for i in forms]
    return _private(render_template("booking/intake/pending.html", forms=forms,
                                    appointments=appointments, label=label))


def _render_form(appointment: Appointment, form: IntakeForm, values: dict[str, list[str]],
                 errors: dict[str, str], status: int = 200) -> Any:
    return _private(render_template(
        "booking/intake/form.html", appointment=appointment, form=form, values=values,
        errors=errors, label=label, conditions=conditions(form.questions),
        questions={q.key: q for q in form.questions}), status)


@bp.route("/<int:appointment_id>", methods=["GET", "POST"])
@requires("booking.appointment.book")
def fill(appointment_id: int) -> Any:
    brand = current_brand.config
    appointment, _key, form = intake.form_to_fill(db(), current_user, brand, appointment_id)
    if request.method == "GET":
        return _render_form(appointment, form, {}, {})
    submitted = request.form.to_dict(flat=False)
    try:
        intake.submit_intake_form(db(), current_user, brand, appointment_id, submitted)
    except InvalidAnswers as exc:
        questions = {q.key: q for q in form.questions}
        errors = {key: question_error(questions.get(key), code)
                  for key, code in exc.errors.items()}
        values = {k: v for k, v in submitted.items() if k != "csrf_token"}
        return _render_form(appointment, form, values, errors, 400)
    flash(_("Thank you. Your specialist will read your answers before your appointment."),
          "success")
    return redirect(url_for("booking_intake.pending"))
