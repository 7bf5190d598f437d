"""Matching views: the intake questionnaire and the shortlist.

The answers live in this request only: they are parsed, ranked against, echoed back into the
page (so "change my answers" can refill the form) and dropped. No session, cookie, row or log
line holds them. The shortlist also carries them, encrypted, in the token its "Book" links
hand to the booking form (``modules.booking.intake``), which stores them with the appointment.
"""

from __future__ import annotations

from typing import Any, cast

from babel import Locale
from flask import Blueprint, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from engine.identity.permissions import public
from engine.web import current_brand, db
from modules.booking import intake
from modules.booking.intake_views import conditions, label, question_error
from modules.matching import services
from modules.matching.settings import MatchingSettings

bp = Blueprint("matching", __name__)


def _settings() -> MatchingSettings:
    return cast(MatchingSettings, current_brand.config.module_settings("matching"))










def _render_intake(settings: MatchingSettings, values: dict[str, list[str]],
                   errors: dict[str, str], status: int = 200) -> Any:
    resp = render_template("matching/intake.html", settings=settings, values=values,
                           errors=errors, label=label, conditions=conditions(settings.questions),
                           questions={q.key: q for q in settings.questions})
    return _private(resp, status)


def _private(body: str, status: int) -> Any:
    # pages echoing answers must not be kept by the browser's or a proxy's cache
    return body, status, {"Cache-Control": "no-store"}


def _first_lower(text: str) -> str:
    """'Anxiety' -> 'anxiety' for use mid-sentence; acronyms ('ADHD') are kept."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def reason_text(reason: services.Reason) -> str:
    """One reason of a match, as a short sentence in the visitor's language."""
    if reason.kind == "specialty":
        return _("Works with %(topic)s", topic=_first_lower(label(reason.label)))
    if reason.kind == "language":
        locale = Locale.parse(str(get_locale() or current_brand.config.locale))
        name = locale.languages.get(reason.value, reason.value)
        return _("Speaks %(language)s", language=name)
    if reason.value == "video":
        return _("Offers video")
    if reason.value == "in_person":
        return _("Offers in-person appointments")
    return _("Offers %(modality)s", modality=reason.value)


@bp.route("/", methods=["GET", "POST"])
@public
def index() -> Any:
    settings = _settings()
    if request.method == "GET":
        return _render_intake(settings, {}, {})
    values = {k: v for k, v in request.form.lists() if k not in services.RESERVED_KEYS}
    if "_edit" in request.form:  # "change my answers" on the shortlist: refill the form
        return _render_intake(settings, values, {})
    try:
        answers = services.parse_answers(settings, request.form.to_dict(flat=False))
    except services.InvalidAnswers as exc:
        questions = {q.key: q for q in settings.questions}
        errors = {key: question_error(questions.get(key), code)
                  for key, code in exc.errors.items()}
        return _render_intake(settings, values, errors, 400)
    matches = services.shortlist(db(), current_brand.config, answers, settings)
    # the answers travel to the booking page in an encrypted, expiring token; nothing is stored
    can_book = bool(matches) and "booking.book" in current_app.view_functions
    intake_token = intake.issue_matching_token(
        current_brand.config, services.visible_questions(settings, answers),
        answers) if can_book else ""
    resp = render_template(
        "matching/shortlist.html", settings=settings, can_book=can_book,
        intake_token=intake_token,
        matches=[(m, [reason_text(r) for r in m.reasons]) for m in matches],
        answers={k: [str(x) for x in v] if isinstance(v, tuple) else [str(v)]
                 for k, v in answers.items()},
        directory=current_brand.config.module_settings("directory"))
    return _private(resp, 200)
