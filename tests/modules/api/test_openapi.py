"""The OpenAPI document describes exactly the API's routes, and every real answer — success and
error — matches the schema the document declares for it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from jsonschema import Draft202012Validator, ValidationError

from engine.identity.models import User
from engine.platform import Platform
from tests.modules.api.conftest import (
    DOC_URI,
    MONDAY_9_MADRID,
    MONDAY_10_MADRID,
    Caller,
    World,
    bearer,
)


def _api_routes(platform: Platform, slug: str) -> set[tuple[str, str]]:
    routes = set()
    for rule in platform.app_for(slug).url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
            routes |= {(template, m.lower()) for m in rule.methods or ()
                       if m not in ("HEAD", "OPTIONS")}
    return routes


def test_document_is_openapi_3_1_and_describes_exactly_the_mounted_routes(
        api: Callable[..., Caller], platform: Platform) -> None:
    for slug in ("acme-clinic", "wellness-corp"):
        doc = api(slug).document
        assert doc["openapi"] == "3.1.0"
        host = {"acme-clinic": "acme.localhost", "wellness-corp": "wellness.localhost"}[slug]
        assert doc["servers"] == [{"url": f"http://{host}/api/v1"}]
        documented = {(path, method) for path, item in doc["paths"].items() for method in item}
        assert documented == _api_routes(platform, slug)
        assert set(doc["components"]["securitySchemes"]) == {"session", "bearerToken"}
        for schema in doc["components"]["schemas"].values():
            Draft202012Validator.check_schema(schema)
        problem = doc["components"]["schemas"]["Problem"]
        assert set(problem["required"]) == {"error", "message", "field"}
        # the caller's validation resolves the document's references and refuses a bad body
        call = api(slug)
        with pytest.raises(ValidationError):
            Draft202012Validator({"$ref": f"{DOC_URI}#/components/schemas/DirectoryPage"},
                                 registry=call.registry).validate({"items": [{"id": "x"}],
                                                                   "total": 0, "page": 1,
                                                                   "pages": 1})


def test_every_operation_answers_as_documented_in_success_and_error_cases(
        api: Callable[..., Caller], world: World, create_user: Callable[..., User],
        token_for: Callable[..., str]) -> None:
    call = api("acme-clinic")
    patient = bearer(token_for(world.patient))
    other = bearer(token_for(create_user(role="patient", brand="acme-clinic")))
    specialist = bearer(token_for(world.specialist))
    sid, tid, pid = world.specialist.id, world.appointment_type_id, world.profile.id

    # directory
    found = call("get", "/directory/specialists", 200, query_string={"q": "vega"}).get_json()
    assert [c["specialist_id"] for c in found["items"]] == [sid]
    call("get", "/directory/specialists", 400, query_string={"page": "zero"})
    call("get", "/directory/specialists", 400, query_string={"colour": "blue"})
    call("get", "/directory/specialists", 401, headers=bearer("dp_not-a-token"))
    profile = call("get", "/directory/specialists/{profile_id}", 200,
                   path={"profile_id": pid}).get_json()
    assert profile["bio"] == "Twenty years of practice."
    call("get", "/directory/specialists/{profile_id}", 404, path={"profile_id": pid + 999})

    # appointment types and availability
    types = call("get", "/specialists/{specialist_id}/appointment-types", 200,
                 path={"specialist_id": sid}).get_json()
    assert [t["id"] for t in types["items"]] == [tid]
    call("get", "/specialists/{specialist_id}/appointment-types", 404,
         path={"specialist_id": world.patient.id})
    window = {"type": tid, "from": "2026-03-02T00:00:00+01:00", "to": "2026-03-03T00:00:00+01:00"}
    slots = call("get", "/specialists/{specialist_id}/availability", 200,
                 path={"specialist_id": sid}, query_string=window).get_json()["slots"]
    assert slots[0] == {"start": "2026-03-02T08:00:00Z", "end": "2026-03-02T09:00:00Z"}
    assert len(slots) == 8
    call("get", "/specialists/{specialist_id}/availability", 400, path={"specialist_id": sid},
         query_string={**window, "from": "2026-03-02T00:00:00"})
    call("get", "/specialists/{specialist_id}/availability", 400, path={"specialist_id": sid},
         query_string={**window, "to": "2026-06-02T00:00:00+01:00"})
    call("get", "/specialists/{specialist_id}/availability", 404,
         path={"specialist_id": sid}, query_string={**window, "type": tid + 999})

    # booking and the caller's appointments
    body = {"specialist_id": sid, "appointment_type_id": tid, "start": MONDAY_9_MADRID}
    call("post", "/appointments", 401, json=body)
    made = call("post", "/appointments", 201, json=body, headers=patient).get_json()
    assert (made["status"], made["start"], made["price"]) == (
        "confirmed", "2026-03-02T08:00:00Z", {"amount_minor": 8000, "currency": "EUR"})
    call("post", "/appointments", 409, json=body, headers=other)
    call("post", "/appointments", 400, json={**body, "start": "monday"}, headers=patient)
    call("post", "/appointments", 415, data="start=now", headers=patient)
    call("post", "/appointments", 403, json=body, headers=specialist)
    call("post", "/appointments", 404, json={**body, "appointment_type_id": tid + 999},
         headers=patient)
    mine = call("get", "/appointments", 200, headers=patient).get_json()
    assert [a["id"] for a in mine["items"]] == [made["id"]]
    theirs = call("get", "/appointments", 200, headers=specialist).get_json()
    assert [a["id"] for a in theirs["items"]] == [made["id"]]
    call("get", "/appointments", 400, query_string={"status": "lost"}, headers=patient)
    call("get", "/appointments", 401)

    # rescheduling and cancelling
    moved = call("post", "/appointments/{appointment_id}/reschedule", 200,
                 path={"appointment_id": made["id"]}, json={"start": MONDAY_10_MADRID},
                 headers=patient).get_json()
    assert (moved["id"], moved["start"]) == (made["id"], "2026-03-02T09:00:00Z")
    call("post", "/appointments/{appointment_id}/reschedule", 404,
         path={"appointment_id": made["id"]}, json={"start": MONDAY_9_MADRID}, headers=other)
    call("post", "/appointments/{appointment_id}/reschedule", 400,
         path={"appointment_id": made["id"]}, json={"start": MONDAY_9_MADRID, "x": 1},
         headers=patient)
    call("post", "/appointments/{appointment_id}/cancel", 404,
         path={"appointment_id": made["id"]}, headers=other)
    cancelled = call("post", "/appointments/{appointment_id}/cancel", 200,
                     path={"appointment_id": made["id"]}, headers=patient).get_json()
    assert cancelled["status"] == "cancelled"
    call("post", "/appointments/{appointment_id}/cancel", 409,
         path={"appointment_id": made["id"]}, json={}, headers=patient)
    call("post", "/appointments/{appointment_id}/reschedule", 409,
         path={"appointment_id": made["id"]}, json={"start": MONDAY_9_MADRID}, headers=patient)
    call("get", "/openapi.json", 200)

    operations = {(path, method) for path, item in call.document["paths"].items()
                  for method in item}
    succeeded = {(p, m) for p, m, s in call.seen if s < 300}
    failed = {(p, m) for p, m, s in call.seen if s >= 400}
    assert succeeded == operations
    assert failed == operations - {("/openapi.json", "get")}
