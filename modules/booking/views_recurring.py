"""Patient pages for recurring series (preview, then book the free occurrences) and for the
waitlist (join, leave, open and accept an emailed offer)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, cast

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, ValidationError

from engine.identity.models import User
from engine.identity.permissions import requires
from engine.web import UserError, current_brand, db
from modules.booking import recurring, waitlist
from modules.booking.calendar import appointment_type_for

bp = Blueprint("booking_series", __name__)

BOOK = "booking.appointment.book"


class SeriesForm(BaseModel):
    """The series a patient asks about: its first time and its rule."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    start: str
    frequency: Literal["weekly", "biweekly"] = "weekly"
    count: int | None = None
    until: date | None = None

    def rule(self) -> recurring.SeriesRule:
        return recurring.SeriesRule(frequency=self.frequency, count=self.count,
                                    until=self.until)


def _blank_to_none(data: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in data.items() if v.strip()}


def _series_input() -> tuple[SeriesForm, recurring.SeriesRule]:
    source = request.form if request.method == "POST" else request.args
    try:
        form = SeriesForm.model_validate(_blank_to_none(source.to_dict()))
        return form, form.rule()
    except ValidationError as exc:
        raise UserError(_("Choose how often the appointment repeats, and either how many times "
                          "or until which date."), code="invalid", field="rule") from exc


def _actor() -> User:
    return cast(User, current_user)


@bp.route("/<int:specialist_id>/<int:type_id>")
@requires(BOOK)
def preview(specialist_id: int, type_id: int) -> Any:
    form, rule = _series_input()
    session, brand = db(), current_brand.config
    occurrences = recurring.preview_series(session, _actor(), brand, specialist_id, type_id,
                                           form.start, rule)
    specialist = session.get(User, specialist_id)  # checked by the service
    appointment_type = appointment_type_for(session, brand, type_id, specialist_id)
    return render_template("booking/series/preview.html", form=form, occurrences=occurrences,
                           specialist=specialist, appointment_type=appointment_type)


@bp.route("/<int:specialist_id>/<int:type_id>", methods=["POST"])
@requires(BOOK)
def book(specialist_id: int, type_id: int) -> Any:
    form, rule = _series_input()
    session, brand = db(), current_brand.config
    result = recurring.book_series(session, _actor(), brand, specialist_id, type_id,
                                   form.start, rule, request.form.getlist("chosen"),
                                   modality=request.form.get("modality") or None)
    specialist = session.get(User, specialist_id)  # checked by the service
    appointment_type = appointment_type_for(session, brand, type_id, specialist_id)
    return render_template("booking/series/booked.html", result=result, specialist=specialist,
                           appointment_type=appointment_type)


# --- waitlist ---------------------------------------------------------------------------------


@bp.route("/waitlist")
@requires(BOOK)
def waitlist_index() -> Any:
    entries = waitlist.my_waitlist(db(), _actor(), current_brand.config)
    return render_template("booking/waitlist/index.html", entries=entries)


class JoinForm(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    specialist_id: int
    appointment_type_id: int
    before: date | None = None


@bp.route("/waitlist", methods=["POST"])
@requires(BOOK)
def waitlist_join() -> Any:
    try:
        form = JoinForm.model_validate(_blank_to_none(request.form.to_dict()))
    except ValidationError as exc:
        raise UserError(_("Choose a specialist, an appointment type and, if you like, a date "
                          "(YYYY-MM-DD)."), code="invalid", field="before") from exc
    waitlist.join_waitlist(db(), _actor(), current_brand.config, form.specialist_id,
                           form.appointment_type_id, form.before)
    flash(_("You are on the waitlist. We will email you when an earlier time opens."),
          "success")
    return redirect(url_for(".waitlist_index"))


@bp.route("/waitlist/<int:entry_id>/leave", methods=["POST"])
@requires(BOOK)
def waitlist_leave(entry_id: int) -> Any:
    waitlist.leave_waitlist(db(), _actor(), current_brand.config, entry_id)
    flash(_("You have left the waitlist."), "success")
    return redirect(url_for(".waitlist_index"))


@bp.route("/waitlist/offer/<token>")
@requires(BOOK)
def offer(token: str) -> Any:
    view = waitlist.open_offer(db(), _actor(), current_brand.config, token)
    return render_template("booking/waitlist/offer.html", view=view, token=token)


@bp.route("/waitlist/offer/<token>", methods=["POST"])
@requires(BOOK)
def accept(token: str) -> Any:
    appointment = waitlist.accept_offer(db(), _actor(), current_brand.config, token,
                                        modality=request.form.get("modality") or None)
    flash(_("Booked: %(when)s.", when=format_datetime(appointment.start_at, "full")),
          "success")
    return redirect(url_for(".waitlist_index"))
