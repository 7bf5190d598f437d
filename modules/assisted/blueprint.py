"""Assisted journey views: the patient's requests (patient portal), an organization admin's
requests for members, and the coordinators' queue (organization portal)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as babel_format_datetime
from babel.dates import get_day_names
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from pydantic import ValidationError

from engine.identity.models import User
from engine.identity.permissions import requires
from engine.web import UserError, current_brand, db, discard_writes
from modules.assisted import coordination, services
from modules.assisted.schemas import (
    DAY_PARTS,
    AllocationInput,
    AnotherTimeInput,
    RequestInput,
    error_messages,
)

bp = Blueprint("assisted", __name__)
org_bp = Blueprint("assisted_org", __name__)
coordination_bp = Blueprint("assisted_coordination", __name__)

PART_NAMES = {"morning": _l("morning (8–12)"), "afternoon": _l("afternoon (12–17)"),
              "evening": _l("evening (17–21)")}
URGENCY_NAMES = {"routine": _l("Routine"), "soon": _l("Within a few days"),
                 "urgent": _l("Urgent")}
MODALITY_NAMES = {"any": _l("Either"), "video": _l("Video"), "in_person": _l("In person"),
                  "both": _l("Video or in person")}
STATUS_NAMES = {"submitted": _l("Waiting for a coordinator"),
                "proposed": _l("Appointment proposed"), "accepted": _l("Accepted"),
                "another_time": _l("You asked for another time"),
                "cancelled": _l("Cancelled")}
OUTCOME_NAMES = {"proposed": _l("Waiting for the patient"), "accepted": _l("Accepted"),
                 "another_time": _l("Patient asked for another time"),
                 "cancelled": _l("Cancelled")}


def _actor() -> User:
    return cast(User, current_user)


def _labels() -> dict[str, Any]:
    """Names of days, parts of the day, urgencies and statuses in the current locale."""
    days = get_day_names("wide", locale=str(get_locale() or "en"))
    windows = {f"{d}:{p}": f"{days[d].capitalize()}, {PART_NAMES[p]}"
               for d in range(7) for p in DAY_PARTS}
    return {"days": days, "parts": PART_NAMES, "window_names": windows,
            "urgency_names": URGENCY_NAMES, "modality_names": MODALITY_NAMES,
            "status_names": STATUS_NAMES, "outcome_names": OUTCOME_NAMES}


@coordination_bp.app_template_filter("in_zone")
def in_zone(value: datetime, zone: str, fmt: str = "medium") -> str:
    """``value`` shown in ``zone`` (e.g. the patient's) in the current locale."""
    return babel_format_datetime(value, fmt, tzinfo=ZoneInfo(zone),
                                 locale=str(get_locale() or "en"))


def _request_values() -> dict[str, Any]:
    values: dict[str, Any] = {
        "needs": request.form.get("needs", ""),
        "language": request.form.get("language", ""),
        "modality": request.form.get("modality", "any"),
        "time_windows": request.form.getlist("time_windows"),
        "urgency": request.form.get("urgency", "routine"),
    }
    if "patient_id" in request.form:
        values["patient_id"] = request.form.get("patient_id") or None
    return values


def _request_form(template: str, done: str, **extra: Any) -> Any:
    """The request form of the patient and of the organization admin: one parse, one service."""
    form = FlaskForm()  # CSRF only; fields are parsed with pydantic
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"needs": "", "language": "", "modality": "any",
                              "time_windows": [], "urgency": "routine", "patient_id": None}
    if request.method == "POST":
        values = {**values, **_request_values()}
        if not form.validate_on_submit():
            errors["form"] = _("This form has expired. Reload the page and try again.")
        else:
            try:
                data = RequestInput.model_validate(values)
                services.submit_request(db(), _actor(), current_brand.config, data)
            except ValidationError as exc:
                errors.update(error_messages(exc))
            except UserError as exc:
                discard_writes()
                errors[exc.field or "form"] = exc.message
            else:
                flash(_("Your request is sent. A coordinator will propose an appointment."),
                      "success")
                return redirect(url_for(done))
    return render_template(template, form=form, values=values, errors=errors,
                           languages=current_brand.config.locales, **_labels(),
                           **extra), 400 if errors else 200


# --- patients ---------------------------------------------------------------------------------


@bp.route("/")
@requires("assisted.request.submit")
def index() -> Any:
    found = services.requests_of(db(), _actor(), current_brand.config)
    return render_template("assisted/index.html", requests=found, **_labels())


@bp.route("/new", methods=["GET", "POST"])
@requires("assisted.request.submit")
def new() -> Any:
    services.assisted_settings(current_brand.config)
    return _request_form("assisted/new.html", "assisted.index")


@bp.route("/<int:request_id>")
@requires("assisted.request.submit")
def detail(request_id: int) -> Any:
    found = services.own_request(db(), _actor(), current_brand.config, request_id)
    return render_template("assisted/detail.html", item=found, form=FlaskForm(), errors={},
                           **_labels())


@bp.route("/<int:request_id>/accept", methods=["POST"])
@requires("assisted.request.submit")
def accept(request_id: int) -> Any:
    services.accept(db(), _actor(), current_brand.config, request_id)
    flash(_("You accepted the appointment. See you there."), "success")
    return redirect(url_for("assisted.detail", request_id=request_id))


@bp.route("/<int:request_id>/another-time", methods=["POST"])
@requires("assisted.request.submit")
def another_time(request_id: int) -> Any:
    try:
        data = AnotherTimeInput.model_validate({"note": request.form.get("note", "")})
    except ValidationError as exc:
        found = services.own_request(db(), _actor(), current_brand.config, request_id)
        return render_template("assisted/detail.html", item=found, form=FlaskForm(),
                               errors=error_messages(exc), **_labels()), 400
    services.ask_another_time(db(), _actor(), current_brand.config, request_id, data.note)
    flash(_("The proposed appointment is cancelled. A coordinator will propose another "
            "time."), "success")
    return redirect(url_for("assisted.detail", request_id=request_id))


@bp.route("/<int:request_id>/cancel", methods=["POST"])
@requires("assisted.request.submit")
def cancel(request_id: int) -> Any:
    services.cancel_request(db(), _actor(), current_brand.config, request_id)
    flash(_("Your request is cancelled."), "success")
    return redirect(url_for("assisted.index"))


# --- organization admins ----------------------------------------------------------------------


@org_bp.route("/", endpoint="index")
@requires("assisted.request.submit_for_member")
def org_index() -> Any:
    found = services.submitted_by(db(), _actor(), current_brand.config)
    return render_template("assisted/org_index.html", submitted=found, **_labels())


@org_bp.route("/new", methods=["GET", "POST"])
@requires("assisted.request.submit_for_member")
def new_for_member() -> Any:
    members = services.members_of(db(), _actor(), current_brand.config)
    return _request_form("assisted/new.html", "assisted_org.index", members=members)


# --- coordinators -----------------------------------------------------------------------------


@coordination_bp.route("/")
@requires("assisted.queue.manage")
def queue() -> Any:
    items = coordination.queue(db(), _actor(), current_brand.config)
    return render_template("assisted/queue.html", items=items, **_labels())


def _case_page(request_id: int, errors: dict[str, str], status: int = 200) -> Any:
    found = coordination.case(db(), _actor(), current_brand.config, request_id)
    return render_template("assisted/case.html", item=found.request,
                           suggestions=found.suggestions, form=FlaskForm(), errors=errors,
                           values=request.form, **_labels()), status


@coordination_bp.route("/<int:request_id>")
@requires("assisted.queue.manage")
def case(request_id: int) -> Any:
    return _case_page(request_id, {})


@coordination_bp.route("/<int:request_id>/allocate", methods=["POST"])
@requires("assisted.queue.manage")
def allocate(request_id: int) -> Any:
    # the page's one radio group carries "<specialist>|<appointment type>|<start>"
    specialist_id, appointment_type_id, start = (request.form.get("choice", "").split("|", 2)
                                                 + ["", ""])[:3]
    raw = {"specialist_id": specialist_id, "appointment_type_id": appointment_type_id,
           "start": start, "reason": request.form.get("reason", ""),
           "modality": request.form.get("modality", "")}
    try:
        data = AllocationInput.model_validate(raw)
        coordination.allocate(db(), _actor(), current_brand.config, request_id, data)
    except ValidationError as exc:
        return _case_page(request_id, error_messages(exc), 400)
    except UserError as exc:
        discard_writes()
        if exc.status == 404 and exc.field is None:
            raise
        return _case_page(request_id, {exc.field or "form": exc.message}, exc.status)
    flash(_("The appointment is booked and proposed to the patient."), "success")
    return redirect(url_for("assisted_coordination.queue"))
