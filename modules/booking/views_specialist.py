"""The specialist portal's booking pages: the week of their one calendar, the availability
editor, appointment types and one appointment with its actions.

Views parse the form, call one service and render. Every page acts on the signed-in
specialist's own calendar only; another specialist's or another brand's ids answer 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo, available_timezones

from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import get_currency_precision
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from pydantic import ValidationError

from engine import clock
from engine.identity.models import User
from engine.identity.permissions import requires
from engine.web import UserError, current_brand, db, discard_writes
from modules.booking import attendance, calendar, intake
from modules.booking.models import AppointmentType
from modules.booking.schemas import (
    AppointmentTypeInput,
    OverrideInput,
    WeeklyRangeInput,
    parse_minute,
)

specialist_bp = Blueprint("booking_specialist", __name__)
PERMISSION = "booking.availability.manage"
BLANK_ROWS_A_DAY = 1  # empty rows offered per day so a range can be added without script
ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))

WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
            _l("Saturday"), _l("Sunday"))
STATUS_NAMES = {"requested": _l("Requested"), "confirmed": _l("Confirmed"),
                "cancelled": _l("Cancelled"), "late_cancelled": _l("Cancelled late"),
                "completed": _l("Completed"), "no_show": _l("No-show")}
MODALITY_NAMES = {"video": _l("Video"), "in_person": _l("In person"),
                  "both": _l("Video or in person")}
BOOKABLE_BY_NAMES = {"patients": _l("Patients and staff"), "staff": _l("Staff only")}


def _actor() -> User:
    return cast(User, current_user)


def _locale() -> str:
    return str(get_locale() or "en")


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _helpers() -> dict[str, Any]:
    """Formatting for templates: times stay in the zone of the datetime they are given."""
    locale = _locale()

    def time_of(value: datetime) -> str:
        return format_time(value, "short", tzinfo=value.tzinfo, locale=locale)

    def day_of(value: date | datetime) -> str:
        return format_skeleton("MMMEd", value, locale=locale)

    def long_day(value: date | datetime) -> str:
        return format_date(value, "full", locale=locale)

    def in_zone(value: datetime, zone: str) -> datetime:
        return value.astimezone(ZoneInfo(zone))

    def brand_label(slug: str) -> str:
        return current_brand.config.name if slug == current_brand.slug else slug

    return {"time_of": time_of, "day_of": day_of, "long_day": long_day, "in_zone": in_zone,
            "brand_label": brand_label, "status_names": STATUS_NAMES,
            "modality_names": MODALITY_NAMES, "bookable_by_names": BOOKABLE_BY_NAMES,
            "weekdays": WEEKDAYS}


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(f"booking/specialist/{template}", **_helpers(), **context), status


# --- the week ---------------------------------------------------------------------------------


@specialist_bp.route("/")
@requires(PERMISSION)
def week() -> Any:
    raw = request.args.get("week", "")
    any_day: date | None = None
    if raw:
        try:
            any_day = date.fromisoformat(raw[:10])
        except ValueError as exc:
            raise UserError(_("Give the week as a date, e.g. 2026-03-02."), code="invalid",
                            field="week") from exc
    found = attendance.specialist_week(db(), _actor(), current_brand.config, any_day)
    span = max(found.last_hour - found.first_hour, 1) * 60

    def place(start: datetime, end: datetime) -> str:
        """CSS custom properties placing a block on the day's timeline."""
        top = (start.hour * 60 + start.minute - found.first_hour * 60) / span * 100
        minutes = (end - start).total_seconds() / 60
        return f"--top:{max(top, 0):.2f}%;--height:{min(minutes / span * 100, 100):.2f}%"

    return _render("week.html", week=found, place=place,
                   today=clock.now().astimezone(ZoneInfo(found.zone)).date())


# --- availability -----------------------------------------------------------------------------


def _rows_from_rules(rules: list[Any]) -> dict[int, list[dict[str, str]]]:
    rows: dict[int, list[dict[str, str]]] = {d: [] for d in range(7)}
    for r in rules:
        rows[r.weekday].append({"start": _hhmm(r.start_minute), "end": _hhmm(r.end_minute)})
    return rows


def _parse_weekly(form: Any) -> tuple[list[WeeklyRangeInput], dict[int, list[dict[str, str]]],
                                      dict[str, str]]:
    """The weekly ranges of the form, its rows (as typed) and errors by "<day>-<row>"."""
    ranges: list[WeeklyRangeInput] = []
    rows: dict[int, list[dict[str, str]]] = {}
    errors: dict[str, str] = {}
    for day in range(7):
        starts, ends = form.getlist(f"start_{day}"), form.getlist(f"end_{day}")
        rows[day] = []
        parsed: list[tuple[int, int, int]] = []  # (start, end, row index)
        for i in range(max(len(starts), len(ends))):
            start = (starts[i] if i < len(starts) else "").strip()
            end = (ends[i] if i < len(ends) else "").strip()
            if not start and not end:
                continue  # an empty row: nothing to save
            index = len(rows[day])
            rows[day].append({"start": start, "end": end})
            try:
                s, e = parse_minute(start), parse_minute(end)
            except ValueError:
                errors[f"{day}-{index}"] = _("Write both times as HH:MM, between 00:00 and "
                                             "24:00.")
                continue
            if not (isinstance(s, int) and isinstance(e, int)) or s >= e or s >= 1440:
                errors[f"{day}-{index}"] = _("The range must end after it starts.")
                continue
            parsed.append((s, e, index))
        parsed.sort()
        for (_s0, e0, i0), (s1, _e1, i1) in zip(parsed, parsed[1:], strict=False):
            if s1 < e0:
                errors.setdefault(f"{day}-{max(i0, i1)}", _(
                    "This range overlaps another range of the same day (%(start)s–%(end)s).",
                    start=rows[day][min(i0, i1)]["start"], end=rows[day][min(i0, i1)]["end"]))
        ranges += [WeeklyRangeInput(weekday=day, start_minute=s, end_minute=e)
                   for s, e, _i in parsed]
    if sum(len(r) for r in rows.values()) and any(
            len(r) > calendar.MAX_RANGES_A_DAY for r in rows.values()):
        errors["form"] = _("At most %(n)d ranges a day.", n=calendar.MAX_RANGES_A_DAY)
    return ranges, rows, errors


OVERRIDE_FIELDS = ("kind", "on_date", "start", "end", "start_date", "start_time", "end_date",
                   "end_time")


def _parse_override(form: Any, zone: str) -> tuple[OverrideInput | None, dict[str, str],
                                                    dict[str, str]]:
    """An override from one of the three override forms; its values as typed, and errors."""
    values = {k: form.get(k, "").strip() for k in OVERRIDE_FIELDS}
    errors: dict[str, str] = {}
    kind = values["kind"]
    data: dict[str, Any] = {"kind": kind}

    def read_date(name: str) -> date | None:
        try:
            found = date.fromisoformat(values[name])
        except ValueError:
            errors[name] = _("Choose a date.")
            return None
        if abs(found.year - clock.now().year) > 10:
            errors[name] = _("Choose a date within ten years of today.")
            return None
        return found

    def read_minute(name: str) -> int | None:
        try:
            minute = parse_minute(values[name])
        except ValueError:
            errors[name] = _("Write the time as HH:MM, e.g. 09:30.")
            return None
        if not isinstance(minute, int):
            errors[name] = _("Write the time as HH:MM, e.g. 09:30.")
            return None
        return minute

    if kind == "day_off":
        data["on_date"] = read_date("on_date")
    elif kind == "extra_hours":
        data["on_date"] = read_date("on_date")
        data["start_minute"], data["end_minute"] = read_minute("start"), read_minute("end")
        if not errors and data["start_minute"] >= data["end_minute"]:
            errors["end"] = _("The extra hours must end after they start.")
    elif kind == "time_off":
        day0, min0 = read_date("start_date"), read_minute("start_time")
        day1, min1 = read_date("end_date"), read_minute("end_time")
        if day0 and day1 and min0 is not None and min1 is not None:
            data["start_at"] = attendance.utc_of_local(day0, min0, zone)
            data["end_at"] = attendance.utc_of_local(day1, min1, zone)
            if data["start_at"] >= data["end_at"]:
                errors["end_time"] = _("The time off must end after it starts.")
    else:
        errors["kind"] = _("Choose extra hours, a day off or time off.")
    if errors:
        return None, values, errors
    try:
        return OverrideInput.model_validate(data), values, errors
    except ValidationError:
        errors["form"] = _("This override is not valid.")
        return None, values, errors


def _availability_page(status: int = 200, *, rows: dict[int, list[dict[str, str]]] | None = None,
                       zone: str | None = None, errors: dict[str, str] | None = None,
                       override: dict[str, str] | None = None,
                       override_errors: dict[str, str] | None = None) -> tuple[str, int]:
    session, actor, brand = db(), _actor(), current_brand.config
    own = calendar.calendar_of(session, actor.id)
    if rows is None:
        rows = _rows_from_rules(calendar.weekly_rules(session, own) if own else [])
    zone = zone or attendance.calendar_zone(session, actor, brand)
    listed = calendar.overrides(session, own) if own else []
    return _render("availability.html", status, rows=rows, zone=zone, zones=ZONES,
                   errors=errors or {}, overrides=listed, override=override or {},
                   override_errors=override_errors or {}, blank_rows=BLANK_ROWS_A_DAY,
                   hhmm=_hhmm)


@specialist_bp.route("/availability", methods=["GET", "POST"])
@requires(PERMISSION)
def availability() -> Any:
    if request.method == "GET":
        return _availability_page()
    zone = request.form.get("timezone", "").strip()
    ranges, rows, errors = _parse_weekly(request.form)
    if zone not in available_timezones():
        errors["timezone"] = _("Choose a time zone from the list.")
    if errors:
        return _availability_page(400, rows=rows, zone=zone, errors=errors)
    session, actor, brand = db(), _actor(), current_brand.config
    calendar.set_calendar_zone(session, actor, brand, zone)
    calendar.set_weekly_rules(session, actor, brand, ranges)
    flash(_("Your weekly hours are saved."), "success")
    return redirect(url_for(".availability"))


@specialist_bp.route("/availability/overrides", methods=["POST"])
@requires(PERMISSION)
def add_override() -> Any:
    session, actor, brand = db(), _actor(), current_brand.config
    data, values, errors = _parse_override(request.form,
                                           attendance.calendar_zone(session, actor, brand))
    if data is None:
        return _availability_page(400, override=values, override_errors=errors)
    calendar.add_override(session, actor, brand, data)
    flash(_("The change to your calendar is saved."), "success")
    return redirect(url_for(".availability"))


@specialist_bp.route("/availability/overrides/<int:override_id>/remove", methods=["POST"])
@requires(PERMISSION)
def remove_override(override_id: int) -> Any:
    calendar.remove_override(db(), _actor(), current_brand.config, override_id)
    flash(_("The change to your calendar is removed."), "success")
    return redirect(url_for(".availability"))


# --- appointment types ------------------------------------------------------------------------


TYPE_FIELDS = ("name", "duration_minutes", "modality", "location", "price", "catalog_key",
               "buffer_before_minutes", "buffer_after_minutes", "min_notice_minutes",
               "max_days_ahead", "slot_interval_minutes", "daily_cap", "weekly_cap",
               "bookable_by")
TYPE_MESSAGES: dict[str, Any] = {
    "name": _l("Give a name of 1 to 120 characters."),
    "duration_minutes": _l("The duration is 5 to 480 minutes."),
    "modality": _l("Choose video, in person or both."),
    "location": _l("In-person appointments need a location (at most 200 characters)."),
    "price": _l("Give a price, e.g. 60 or 60.50."),
    "catalog_key": _l("Choose one of the appointment types of this site."),
    "buffer_before_minutes": _l("A buffer is 0 to 240 minutes."),
    "buffer_after_minutes": _l("A buffer is 0 to 240 minutes."),
    "min_notice_minutes": _l("The minimum notice is 0 to 129600 minutes (90 days)."),
    "max_days_ahead": _l("Patients can book 1 to 730 days ahead."),
    "slot_interval_minutes": _l("The interval between start times is 5 to 480 minutes."),
    "daily_cap": _l("Leave empty, or give 1 to 100 appointments a day."),
    "weekly_cap": _l("Leave empty, or give 1 to 500 appointments a week."),
    "bookable_by": _l("Choose who may book."),
}


def _specialist_prices() -> bool:
    """Whether the brand lets specialists set their own prices."""
    return current_brand.config.pricing.strategy == "specialist_defined"


def _type_values(row: AppointmentType | None) -> dict[str, Any]:
    if row is None:
        return {"name": "", "duration_minutes": "50", "modality": "video", "location": "",
                "price": "", "catalog_key": "", "buffer_before_minutes": "0",
                "buffer_after_minutes": "0", "min_notice_minutes": "0",
                "max_days_ahead": "60", "slot_interval_minutes": "30", "daily_cap": "",
                "weekly_cap": "", "needs_confirmation": False, "bookable_by": "patients",
                "intake_form": ""}
    price = Decimal(row.price_minor) / (10 ** get_currency_precision(row.currency))
    # the type does not store which catalogue entry it came from: the entry with its price
    catalog = next((t.key for t in current_brand.config.pricing.appointment_types
                    if t.price is not None and t.price == price), "")
    values: dict[str, Any] = {f: getattr(row, f, "") for f in TYPE_FIELDS}
    values.update({f: "" if values[f] is None else str(values[f]) for f in values},
                  price=str(price), catalog_key=catalog,
                  needs_confirmation=row.needs_confirmation, intake_form=row.intake_form or "")
    return values


def _parse_type(form: Any) -> tuple[AppointmentTypeInput | None, dict[str, Any],
                                    dict[str, str]]:
    values: dict[str, Any] = {f: form.get(f, "").strip() for f in TYPE_FIELDS}
    values["needs_confirmation"] = form.get("needs_confirmation") == "on"
    data: dict[str, Any] = {k: (v if v != "" else None) for k, v in values.items()}
    for optional in ("buffer_before_minutes", "buffer_after_minutes", "min_notice_minutes"):
        if data[optional] is None:
            data[optional] = 0
    if not _specialist_prices():
        data["price"] = None  # the brand's catalogue sets it
    data = {k: v for k, v in data.items() if v is not None or k in ("daily_cap", "weekly_cap")}
    errors: dict[str, str] = {}
    try:
        return AppointmentTypeInput.model_validate(data), values, errors
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            name = str(err["loc"][0]) if err["loc"] else "location"
            errors.setdefault(name, str(TYPE_MESSAGES.get(name, _("This value is not valid."))))
    return None, values, errors


def _type_form(row: AppointmentType | None, values: dict[str, Any], errors: dict[str, str],
               status: int = 200) -> tuple[str, int]:
    brand = current_brand.config
    return _render("type_form.html", status, row=row, values=values, errors=errors,
                   catalog=brand.pricing.appointment_types,
                   specialist_prices=_specialist_prices(), pricing=brand.pricing,
                   currency=brand.currency)


def _save_type(row: AppointmentType | None) -> Any:
    if request.method == "GET":
        return _type_form(row, _type_values(row), {})
    data, values, errors = _parse_type(request.form)
    values["intake_form"] = request.form.get("intake_form", "").strip()
    if data is not None:
        try:
            saved = calendar.save_appointment_type(db(), _actor(), current_brand.config, data,
                                                   row.id if row else None)
            intake.set_intake_form(db(), _actor(), current_brand.config, saved.id,
                                   values["intake_form"] or None)
        except UserError as exc:
            if exc.status == 404:
                raise
            discard_writes()
            errors[exc.field or "form"] = exc.message
        else:
            flash(_("The appointment type “%(name)s” is saved.", name=saved.name), "success")
            return redirect(url_for(".types"))
    return _type_form(row, values, errors, 400)


@specialist_bp.route("/types")
@requires(PERMISSION)
def types() -> Any:
    rows = attendance.own_appointment_types(db(), _actor(), current_brand.config)
    return _render("types.html", rows=rows)


@specialist_bp.route("/types/new", methods=["GET", "POST"])
@requires(PERMISSION)
def new_type() -> Any:
    attendance.own_appointment_types(db(), _actor(), current_brand.config)  # access check
    return _save_type(None)


@specialist_bp.route("/types/<int:type_id>", methods=["GET", "POST"])
@requires(PERMISSION)
def edit_type(type_id: int) -> Any:
    actor = _actor()
    attendance.own_appointment_types(db(), actor, current_brand.config)  # access check
    row = calendar.appointment_type_for(db(), current_brand.config, type_id, actor.id)
    return _save_type(row)


@specialist_bp.route("/types/<int:type_id>/retire", methods=["POST"])
@requires(PERMISSION)
def retire_type(type_id: int) -> Any:
    deleted = attendance.retire_appointment_type(db(), _actor(), current_brand.config, type_id)
    flash(_("The appointment type is deleted.") if deleted else
          _("The appointment type has appointments, so it is deactivated: patients can no "
            "longer book it."), "success")
    return redirect(url_for(".types"))


# --- one appointment --------------------------------------------------------------------------


def _appointment_page(appointment_id: int, status: int = 200,
                      error: str | None = None) -> tuple[str, int]:
    detail = attendance.appointment_detail(db(), _actor(), current_brand.config, appointment_id)
    from engine import audit

    audit.record_request("appointment.view", target_type="appointment", target_id=appointment_id,
                         patient_id=detail.appointment.patient_id)
    return _render("appointment.html", status, detail=detail, appointment=detail.appointment,
                   error=error)


@specialist_bp.route("/appointments/<int:appointment_id>")
@requires(PERMISSION)
def appointment(appointment_id: int) -> Any:
    return _appointment_page(appointment_id)


def _act(appointment_id: int, action: Callable[[], Any], done: str) -> Any:
    """Run one action on the appointment; a refusal re-renders the page with its reason."""
    try:
        action()
    except UserError as exc:
        if exc.status == 404:
            raise
        discard_writes()
        return _appointment_page(appointment_id, exc.status, exc.message)
    flash(done, "success")
    return redirect(url_for(".appointment", appointment_id=appointment_id))


@specialist_bp.route("/appointments/<int:appointment_id>/confirm", methods=["POST"])
@requires(PERMISSION)
def confirm(appointment_id: int) -> Any:
    return _act(appointment_id, lambda: attendance.confirm_appointment(
        db(), _actor(), current_brand.config, appointment_id), _("The appointment is confirmed."))


@specialist_bp.route("/appointments/<int:appointment_id>/attendance", methods=["POST"])
@requires(PERMISSION)
def mark_attendance(appointment_id: int) -> Any:
    status = request.form.get("status", "")
    return _act(appointment_id, lambda: attendance.mark_attendance(
        db(), _actor(), current_brand.config, appointment_id, status),
        _("The attendance is saved."))


@specialist_bp.route("/appointments/<int:appointment_id>/cancel", methods=["POST"])
@requires(PERMISSION)
def cancel(appointment_id: int) -> Any:
    reason = request.form.get("reason", "")
    return _act(appointment_id, lambda: attendance.cancel_by_specialist(
        db(), _actor(), current_brand.config, appointment_id, reason),
        _("The appointment is cancelled and the patient has been told by email."))
