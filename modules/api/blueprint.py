"""The JSON API, version 1 (``/api/v1``): parse, call one service, answer JSON.

Authentication: the browser's signed-in session, or ``Authorization: Bearer <token>`` (a
per-user token of this brand). The blueprint is exempt from the app-wide CSRF check, and
:func:`authenticate` runs its own: a session-authenticated unsafe request still needs a valid
``X-CSRFToken`` header (the session cookie rides along on cross-site requests; a bearer token
never does, so token requests need none). HTML forms keep the app-wide check untouched.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import BaseModel, ValidationError

from engine.identity.models import User
from engine.identity.permissions import public, requires
from engine.web import UserError, current_brand, db
from modules.api import openapi, services, tokens
from modules.api.schemas import (
    AppointmentsQuery,
    AvailabilityQuery,
    BookInput,
    CancelInput,
    RescheduleInput,
)
from modules.directory.schemas import DirectoryQuery, query_error_message

bp = Blueprint("api", __name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
M = TypeVar("M", bound=BaseModel)


@bp.before_request
def authenticate() -> None:
    """A bearer token signs the request in as its owner; otherwise the session does, and an
    unsafe session request must carry the session's CSRF token (``X-CSRFToken``)."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _sep, raw = header.strip().partition(" ")
        user = tokens.authenticate_token(db(), current_brand.config, raw.strip()) \
            if scheme.lower() == "bearer" else None
        if user is None:
            raise UserError(_("This API token is not valid here: it is unknown, expired or "
                              "revoked, or belongs to another site."),
                            code="invalid_token", status=401)
        g._login_user = user  # flask-login's request user: the session is not consulted
        g.api_token_auth = True
        return
    if request.method not in SAFE_METHODS and current_user.is_authenticated:
        current_app.extensions["csrf"].protect()


@bp.after_request
def _api_headers(resp: Response) -> Response:
    if resp.status_code == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    if g.get("api_token_auth") or current_user.is_authenticated:
        resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _actor() -> User:
    return cast(User, current_user._get_current_object())  # type: ignore[attr-defined]


def _optional_actor() -> User | None:
    return _actor() if current_user.is_authenticated else None


def _field_message(err: Any) -> tuple[str | None, str]:
    """(field, a message naming it) for one pydantic error."""
    field = ".".join(str(p) for p in err["loc"]) or None
    kind = err["type"]
    name = field or "body"
    if kind == "extra_forbidden":
        return field, _("Unknown field “%(name)s”.", name=name)
    if kind == "missing":
        return field, _("The field “%(name)s” is required.", name=name)
    if kind.startswith("datetime") or kind.startswith("timezone"):
        return field, _("“%(name)s” must be a date and time with a zone offset (ISO 8601, "
                        "e.g. 2026-03-02T09:00:00+01:00).", name=name)
    if kind.startswith("int") or kind.startswith("greater_than") or kind.startswith("less_than"):
        return field, _("“%(name)s” must be a whole number in range.", name=name)
    if kind in ("literal_error", "enum"):
        return field, _("“%(name)s” must be one of: %(choices)s.", name=name,
                        choices=str(err.get("ctx", {}).get("expected", "")))
    return field, _("The field “%(name)s” is not valid.", name=name)


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        field, message = _field_message(exc.errors(include_url=False)[0])
        raise UserError(message, code="invalid", field=field) from exc


def _args(model: type[M]) -> M:
    return _parse(model, request.args.to_dict())


def _body(model: type[M], *, optional: bool = False) -> M:
    if optional and not request.get_data():
        return _parse(model, {})
    if not request.is_json:
        raise UserError(_("Send a JSON object (Content-Type: application/json)."),
                        code="unsupported_media_type", status=415)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise UserError(_("The request body is not a JSON object."), code="invalid_json")
    return _parse(model, data)


def _json(model: BaseModel, status: int = 200) -> Response:
    resp = jsonify(model.model_dump(mode="json"))
    resp.status_code = status
    return resp


# --- directory --------------------------------------------------------------------------------


@bp.get("/directory/specialists")
@public
def directory_list() -> Response:
    try:
        query = DirectoryQuery.model_validate(request.args.to_dict())
    except ValidationError as exc:
        field, message = query_error_message(exc)
        raise UserError(message, code="invalid", field=field) from exc
    settings = current_brand.config.module_settings("directory")
    return _json(services.directory_page(db(), _optional_actor(), current_brand.config, query,
                                         settings.page_size,  # type: ignore[union-attr]
                                         settings.default_sort))  # type: ignore[union-attr]


@bp.get("/directory/specialists/<int:profile_id>")
@public
def directory_profile(profile_id: int) -> Response:
    return _json(services.specialist_profile(db(), _optional_actor(), current_brand.config,
                                             profile_id))


# --- booking ----------------------------------------------------------------------------------


@bp.get("/specialists/<int:specialist_id>/appointment-types")
@public
def appointment_types(specialist_id: int) -> Response:
    return _json(services.offered_types(db(), _optional_actor(), current_brand.config,
                                        specialist_id))


@bp.get("/specialists/<int:specialist_id>/availability")
@public
def availability(specialist_id: int) -> Response:
    query = _args(AvailabilityQuery)
    return _json(services.free_slots(db(), _optional_actor(), current_brand.config,
                                     specialist_id, query))


@bp.get("/appointments")
@requires("api.appointments.view")
def appointments() -> Response:
    query = _args(AppointmentsQuery)
    return _json(services.own_appointments(db(), _actor(), current_brand.config, query))


@bp.post("/appointments")
@requires("booking.appointment.book")
def book() -> Response:
    data = _body(BookInput)
    return _json(services.book_appointment(db(), _actor(), current_brand.config, data), 201)


@bp.post("/appointments/<int:appointment_id>/cancel")
@requires("booking.appointment.book")
def cancel(appointment_id: int) -> Response:
    _body(CancelInput, optional=True)
    return _json(services.cancel_appointment(db(), _actor(), current_brand.config,
                                             appointment_id))


@bp.post("/appointments/<int:appointment_id>/reschedule")
@requires("booking.appointment.book")
def reschedule(appointment_id: int) -> Response:
    data = _body(RescheduleInput)
    return _json(services.reschedule_appointment(db(), _actor(), current_brand.config,
                                                 appointment_id, data))


# --- the document -----------------------------------------------------------------------------


@bp.get("/openapi.json")
@public
def openapi_document() -> Response:
    # the server is where this blueprint is mounted: this URL without "/openapi.json"
    return jsonify(openapi.document(request.base_url.removesuffix("/openapi.json")))
