"""The OpenAPI 3.1 document of ``/api/v1``, assembled in this one place.

Component schemas (bodies, answers, the problem) and query parameters are generated from the
pydantic models the views use; only the paths, statuses and security are written by hand. A
test calls every operation and validates each answer against the schema declared here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from modules.api.schemas import (
    INPUT_MODELS,
    OUTPUT_MODELS,
    AppointmentsQuery,
    AvailabilityQuery,
)
from modules.directory.schemas import DirectoryQuery

REF = "#/components/schemas/{model}"
JSON = "application/json"

STATUS_TEXT = {
    400: "Invalid input (an unknown or malformed parameter or field, or a missing CSRF token "
         "on a session request)",
    401: "Not signed in, or the bearer token is unknown, expired, revoked or of another site",
    403: "The caller's role may not do this",
    404: "No such resource here (ids of other sites or users answer 404 too)",
    409: "The request conflicts with the calendar or the cancellation policy",
    415: "The body is not JSON",
    503: "Busy: many bookings at once; try again",
}

PUBLIC = [{}, {"session": []}, {"bearerToken": []}]
SIGNED_IN = [{"session": []}, {"bearerToken": []}]


@lru_cache(maxsize=1)
def _components() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Any]] = [(m, "validation") for m in INPUT_MODELS]
    models += [(m, "serialization") for m in OUTPUT_MODELS]
    _keys, defs = models_json_schema(models, ref_template=REF)
    return defs.get("$defs", {})


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF.format(model=name)}


def _query(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Query parameters from a model's fields (their aliases are the parameter names)."""
    schema = model.model_json_schema(by_alias=True, ref_template=REF)
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required,
                                 "schema": {k: v for k, v in prop.items() if k != "title"}}
        if "description" in prop:
            param["description"] = prop["description"]
        out.append(param)
    return out


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1}}


CSRF_HEADER = {"name": "X-CSRFToken", "in": "header", "required": False,
               "description": "Required when the request is authenticated by the session "
                              "cookie (the page's csrf-token meta tag); not with a bearer token.",
               "schema": {"type": "string"}}


def _operation(summary: str, ok: int, ok_schema: dict[str, Any], errors: tuple[int, ...], *,
               security: list[dict[str, Any]], parameters: list[dict[str, Any]] | None = None,
               body: str | None = None, body_required: bool = True) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(ok): {"description": "OK" if ok == 200 else "Created",
                  "content": {JSON: {"schema": ok_schema}}}}
    for status in sorted({*errors, 401}):
        responses[str(status)] = {"description": STATUS_TEXT[status],
                                  "content": {JSON: {"schema": _ref("Problem")}}}
    op: dict[str, Any] = {"summary": summary, "security": security, "responses": responses}
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": body_required,
                             "content": {JSON: {"schema": _ref(body)}}}
    return op


def _paths() -> dict[str, Any]:
    booking_errors = (400, 403, 404, 409, 415, 503)
    return {
        "/directory/specialists": {"get": _operation(
            "Search the brand's specialists (as the directory page)", 200,
            _ref("DirectoryPage"), (400,), security=PUBLIC, parameters=_query(DirectoryQuery))},
        "/directory/specialists/{profile_id}": {"get": _operation(
            "One listed specialist's profile", 200, _ref("SpecialistProfile"), (404,),
            security=PUBLIC, parameters=[_path("profile_id")])},
        "/specialists/{specialist_id}/appointment-types": {"get": _operation(
            "The specialist's appointment types on this brand", 200,
            _ref("AppointmentTypeList"), (404,), security=PUBLIC,
            parameters=[_path("specialist_id")])},
        "/specialists/{specialist_id}/availability": {"get": _operation(
            "Free slots of one appointment type in a window (UTC instants)", 200,
            _ref("Availability"), (400, 404), security=PUBLIC,
            parameters=[_path("specialist_id"), *_query(AvailabilityQuery)])},
        "/appointments": {
            "get": _operation("The caller's own appointments (a patient's, or a "
                              "specialist's), soonest first", 200, _ref("AppointmentList"),
                              (400, 403), security=SIGNED_IN,
                              parameters=_query(AppointmentsQuery)),
            "post": _operation("Book an appointment for yourself (patients)", 201,
                               _ref("AppointmentOut"), booking_errors, security=SIGNED_IN,
                               parameters=[CSRF_HEADER], body="BookInput"),
        },
        "/appointments/{appointment_id}/cancel": {"post": _operation(
            "Cancel your appointment under the brand's cancellation policy", 200,
            _ref("AppointmentOut"), (400, 403, 404, 409, 415), security=SIGNED_IN,
            parameters=[_path("appointment_id"), CSRF_HEADER], body="CancelInput",
            body_required=False)},
        "/appointments/{appointment_id}/reschedule": {"post": _operation(
            "Move your appointment to another free time of the same type", 200,
            _ref("AppointmentOut"), booking_errors, security=SIGNED_IN,
            parameters=[_path("appointment_id"), CSRF_HEADER], body="RescheduleInput")},
        "/openapi.json": {"get": {
            "summary": "This document", "security": PUBLIC,
            "responses": {"200": {"description": "OK",
                                  "content": {JSON: {"schema": {"type": "object"}}}},
                          "401": {"description": STATUS_TEXT[401],
                                  "content": {JSON: {"schema": _ref("Problem")}}}}}},
    }


def document(server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with ``server_url`` (this brand's ``/api/v1``) as its server."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Daraport API",
            "version": "1",
            "description": "Directory, availability and appointments of one brand. Errors are "
                           "JSON problems {error, message, field}. Times are ISO 8601 with a "
                           "zone offset; answers give UTC instants. Fields the server decides "
                           "(patient, brand, status, price) are refused when sent.",
        },
        "servers": [{"url": server_url}],
        "paths": _paths(),
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "daraport",
                            "description": "The signed-in browser session; unsafe requests "
                                           "also send the X-CSRFToken header."},
                "bearerToken": {"type": "http", "scheme": "bearer",
                                "description": "A personal API token made on the account's "
                                               "API tokens page; valid on that brand only."},
            },
        },
    }
