"""The patient's booking pages: book with a specialist, "My appointments", cancel and
reschedule; and the public JSON of a specialist's next free slots for directory profiles.

Times show in the viewer's zone: a ``tz`` query parameter (the page's zone selector, display
only), else the zone the browser reported or the account's, else the brand's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo, available_timezones

from babel.dates import format_date, format_datetime, format_time
from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine import clock
from engine.identity.models import User
from engine.identity.permissions import public, requires
from engine.web import UserError, current_brand, db, discard_writes
from modules.booking import changes, slot_cache
from modules.booking import services as booking
from modules.booking.availability import Slot, slots_by_day
from modules.booking.calendar import booking_settings
from modules.booking.models import Appointment, AppointmentType

bp = Blueprint("booking", __name__)

STATUS_LABELS = {
    "requested": _l("Awaiting confirmation"), "confirmed": _l("Confirmed"),
    "cancelled": _l("Cancelled"), "late_cancelled": _l("Cancelled late"),
    "completed": _l("Completed"), "no_show": _l("Missed"),
}
MODALITY_LABELS = {"video": _l("Video"), "in_person": _l("In person")}
MAX_WEEKS_AHEAD = 105  # the longest horizon of a type (730 days), in weeks


class SlotQuery(BaseModel):
    """The query of a page that shows free slots."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    type: int | None = Field(None, ge=1)
    week: int = Field(0, ge=0, le=MAX_WEEKS_AHEAD)
    tz: str | None = Field(None, max_length=64)
    start: str | None = Field(None, max_length=40)


class BookForm(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    appointment_type: int = Field(ge=1)
    start: str = Field(min_length=1, max_length=40)
    modality: str | None = Field(None, max_length=10)
    intake_token: str | None = Field(None, max_length=64000)


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else None
        raise UserError(_("Please choose an appointment type and a time from the list."),
                        code="invalid", field=field) from exc


def _zone(chosen: str | None) -> str:
    """The display zone: the page's choice if it is a zone, else the request's."""
    if chosen and chosen in available_timezones():
        return chosen
    return str(get_timezone())


def _locale() -> str:
    return str(get_locale() or current_brand.config.locale)


def local(value: datetime, kind: str = "datetime", zone: str = "UTC") -> str:
    """An instant as the viewer reads it in ``zone``: 'time' (HH:mm), 'day' or 'datetime'."""
    tz = ZoneInfo(zone)
    if kind == "time":
        return format_time(value, "HH:mm", tzinfo=tz, locale=_locale())
    if kind == "day":
        return format_date(value.astimezone(tz).date(), "full", locale=_locale())
    return format_datetime(value, "EEEE d MMMM y, HH:mm", tzinfo=tz, locale=_locale())


def _week_window(week: int, zone: str) -> tuple[datetime, datetime]:
    """The viewer's week ``week`` weeks from today: local midnight to local midnight, in UTC."""
    tz = ZoneInfo(zone)
    today = clock.now().astimezone(tz).date()
    first: date = today + timedelta(days=7 * week)
    start = datetime.combine(first, time(), tz).astimezone(UTC)
    end = datetime.combine(first + timedelta(days=7), time(), tz).astimezone(UTC)
    return max(start, clock.now()), end


def _actor() -> User:
    return cast(User, current_user)


def _slot_page(template: str, specialist_id: int, query: SlotQuery,
               types: list[AppointmentType], chosen: AppointmentType | None,
               status: int = 200, **context: Any) -> Any:
    """Render a page of free slots of ``chosen`` for the query's week, in the viewer's zone."""
    zone = _zone(query.tz)
    days: dict[date, list[Slot]] = {}
    if chosen is not None:
        window = _week_window(query.week, zone)
        found = booking.available_slots(db(), current_brand.config, specialist_id, chosen.id,
                                        *window) if window[0] < window[1] else []
        days = slots_by_day(found, zone)
    picked = None
    if query.start:
        try:
            # an unencoded "+01:00" offset arrives as " 01:00"
            parsed = datetime.fromisoformat(query.start.replace(" ", "+"))
            picked = parsed.astimezone(UTC) if parsed.tzinfo is not None else None
        except ValueError:
            picked = None
    page = {**context, "types": types, "chosen": chosen, "days": days, "zone": zone,
            "query": query, "picked": picked, "local": local, "modality_labels": MODALITY_LABELS,
            "zones": sorted(available_timezones()), "max_week": MAX_WEEKS_AHEAD}
    return render_template(template, **page), status


def _chosen_type(types: list[AppointmentType], type_id: int | None) -> AppointmentType | None:
    if type_id is None:
        return types[0] if types else None
    found = next((t for t in types if t.id == type_id), None)
    if found is None:
        raise UserError(_("This specialist offers no such appointment type here."),
                        code="not_found", field="appointment_type", status=404)
    return found


@bp.route("/book/<int:specialist_id>", methods=["GET", "POST"])
@requires("booking.appointment.book")
def book(specialist_id: int) -> Any:
    brand = current_brand.config
    session = db()
    specialist = changes.bookable_specialist(session, brand, specialist_id)
    types = changes.bookable_types(session, brand, specialist_id)
    query = _parse(SlotQuery, request.args.to_dict())
    if request.method == "GET":
        return _slot_page("booking/patient/book.html", specialist_id, query, types,
                          _chosen_type(types, query.type), specialist=specialist)
    try:
        form = _parse(BookForm, request.form.to_dict())
        query = query.model_copy(update={"type": form.appointment_type})
        appointment = changes.book_appointment(session, _actor(), brand, specialist_id,
                                               form.appointment_type, form.start,
                                               modality=form.modality or None,
                                               intake_token=form.intake_token or None)
    except UserError as exc:
        # nothing of the attempt stays; the page shows the week again with the reason
        discard_writes()
        chosen = next((t for t in types if t.id == query.type), types[0] if types else None)
        return _slot_page("booking/patient/book.html", specialist_id, query, types, chosen,
                          status=exc.status, specialist=specialist, error=exc.message)
    if appointment.status == "requested":
        flash(_("Your request is sent. The specialist will confirm it; we have emailed you."),
              "success")
    else:
        flash(_("Your appointment is booked. We have emailed you the details."), "success")
    return redirect(url_for("booking.appointment", appointment_id=appointment.id))


@bp.route("/book/<int:specialist_id>/next.json")
@public
def next_slots(specialist_id: int) -> Any:
    brand = current_brand.config
    count = booking_settings(brand).profile_next_slots
    zone = _zone(request.args.get("tz"))
    found = changes.next_slots(db(), brand, specialist_id, count)
    book_url = url_for("booking.book", specialist_id=specialist_id)
    # every patient-bookable type, free or not: the waitlist form offers them all
    types = changes.bookable_types(db(), brand, specialist_id)
    return jsonify({
        "zone": zone,
        "types": [{"id": kind.id, "name": kind.name} for kind in types],
        "slots": [{
            "start": slot.start_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "end": slot.end_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "label": local(slot.start_at, "datetime", zone),
            "appointment_type": kind.id,
            "appointment_type_name": kind.name,
            "url": f"{book_url}?type={kind.id}",
        } for kind, slot in found],
    })


# a directory page lists at most this many specialists (DirectorySettings.page_size)
MAX_SPECIALISTS_PER_BATCH = 1000


@bp.route("/book/next.json")
@public
def next_slots_batch() -> Any:
    """The next free slots of every specialist of a directory page, in one request and a
    constant number of queries (``?ids=3,5,8``), cached per specialist while exact
    (:mod:`modules.booking.slot_cache`). Times are UTC instants: the page formats them in the
    visitor's own zone and language, so the answer is the same for everyone.

    Compact, as a page of 1,000 cards on a phone needs: each slot is ``[start, type id]``, and
    ``book`` is the booking URL with ``{specialist}`` and ``{type}`` to fill in (about a
    quarter of the bytes of an object per slot with its URL)."""
    raw = [part.strip() for part in request.args.get("ids", "").split(",") if part.strip()]
    if not raw or not all(part.isdigit() and len(part) <= 12 for part in raw):
        raise UserError(_("Give the specialists as a comma-separated list of ids (ids=3,5,8)."),
                        code="invalid_ids", field="ids")
    ids = list(dict.fromkeys(int(part) for part in raw))
    if len(ids) > MAX_SPECIALISTS_PER_BATCH:
        raise UserError(_("At most %(n)d specialists at a time.", n=MAX_SPECIALISTS_PER_BATCH),
                        code="too_many_ids", field="ids")
    brand = current_brand.config
    found = slot_cache.next_slots(db(), brand, ids, booking_settings(brand).profile_next_slots)
    # "/appointments/book/0" -> the prefix every specialist's booking URL shares
    book = url_for("booking.book", specialist_id=0)[:-1] + "{specialist}?type={type}"
    # a page's specialists mostly share a grid of times: each instant is formatted once
    texts: dict[datetime, str] = {}

    def text(moment: datetime) -> str:
        done = texts.get(moment)
        return done if done is not None else texts.setdefault(moment, _utc_text(moment))

    return jsonify({"book": book, "specialists": {
        str(specialist_id): [[text(cached.slot.start_at), cached.appointment_type_id]
                             for cached in slots]
        for specialist_id, slots in found.items()}})


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is not UTC:  # the engine's slots are UTC already
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


@bp.route("/")
@requires("booking.appointment.book")
def index() -> Any:
    brand = current_brand.config
    upcoming, past = changes.patient_appointments(db(), _actor(), brand)
    return render_template("booking/patient/index.html", upcoming=upcoming, past=past,
                           **_details(upcoming + past))


def _details(appointments: list[Appointment]) -> dict[str, Any]:
    """Names of the types and specialists of ``appointments``, and the display helpers."""
    session = db()
    types = {a.appointment_type_id: session.get(AppointmentType, a.appointment_type_id)
             for a in appointments}
    people = {a.specialist_id: session.get(User, a.specialist_id) for a in appointments}
    return {"type_of": types, "people": people, "zone": _zone(None), "local": local,
            "status_labels": STATUS_LABELS, "modality_labels": MODALITY_LABELS,
            "changeable": changes.is_changeable}


@bp.route("/<int:appointment_id>")
@requires("booking.appointment.book")
def appointment(appointment_id: int) -> Any:
    brand = current_brand.config
    found = changes.own_appointment(db(), _actor(), brand, appointment_id)
    return render_template("booking/patient/appointment.html", appointment=found,
                           terms=changes.appointment_terms(brand, found),
                           policy=booking_settings(brand).cancellation, **_details([found]))


@bp.route("/<int:appointment_id>/cancel", methods=["GET", "POST"])
@requires("booking.appointment.book")
def cancel(appointment_id: int) -> Any:
    brand = current_brand.config
    session = db()
    if request.method == "POST":
        done = changes.cancel(session, _actor(), brand, appointment_id)
        if done.status == "late_cancelled":
            flash(_("Your appointment is cancelled, and marked as cancelled late."), "success")
        else:
            flash(_("Your appointment is cancelled."), "success")
        return redirect(url_for("booking.index"))
    found = changes.own_appointment(session, _actor(), brand, appointment_id)
    return render_template("booking/patient/cancel.html", appointment=found,
                           terms=changes.appointment_terms(brand, found),
                           policy=booking_settings(brand).cancellation, **_details([found]))


@bp.route("/<int:appointment_id>/reschedule", methods=["GET", "POST"])
@requires("booking.appointment.book")
def reschedule(appointment_id: int) -> Any:
    brand = current_brand.config
    session = db()
    found = changes.own_appointment(session, _actor(), brand, appointment_id)
    kind = session.get(AppointmentType, found.appointment_type_id)
    query = _parse(SlotQuery, request.args.to_dict())
    context = {"appointment": found, "terms": changes.appointment_terms(brand, found),
               "policy": booking_settings(brand).cancellation, **_details([found])}
    types = [kind] if kind is not None else []
    if request.method == "GET":
        return _slot_page("booking/patient/reschedule.html", found.specialist_id, query, types,
                          kind, **context)
    start = request.form.get("start", "")
    try:
        changes.reschedule(session, _actor(), brand, appointment_id, start)
    except UserError as exc:
        discard_writes()
        found = changes.own_appointment(session, _actor(), brand, appointment_id)
        context["appointment"] = found
        return _slot_page("booking/patient/reschedule.html", found.specialist_id, query, types,
                          kind, status=exc.status, error=exc.message, **context)
    flash(_("Your appointment has a new time. We have emailed you the details."), "success")
    return redirect(url_for("booking.appointment", appointment_id=appointment_id))
