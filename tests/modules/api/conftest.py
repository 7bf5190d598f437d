"""API fixtures: a listed specialist with weekly hours and an appointment type, a patient, tokens,
and a caller that checks every answer against the OpenAPI document the app serves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.platform import Platform
from modules.api import tokens
from modules.directory import services as directory
from modules.directory.models import Profile
from modules.directory.schemas import ProfileInput
from tests.conftest import BrandClient
from tests.modules.booking import conftest as booking_fixtures
from tests.modules.booking.conftest import Practice

# the booking tests' fixtures, shared: brand configs and the practice() factory
brands = booking_fixtures.brands
practice = booking_fixtures.practice
session_of = booking_fixtures.session_of

NOW = datetime(2026, 2, 27, 12, 0, tzinfo=UTC)  # the Friday before: outside the 24 h window
MONDAY_9_MADRID = "2026-03-02T09:00:00+01:00"
MONDAY_10_MADRID = "2026-03-02T10:00:00+01:00"
DOC_URI = "https://daraport.test/api/v1/openapi.json"


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


@dataclass
class World:
    specialist: User
    profile: Profile
    appointment_type_id: int
    patient: User


@pytest.fixture
def world(db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
          create_user: Callable[..., User]) -> World:
    """A specialist listed on acme-clinic (and wellness-corp) with Monday hours 09-17 Madrid
    and a one-hour video type, and a patient of acme-clinic."""
    p = practice()
    acme = brands["acme-clinic"]
    profile = directory.save_profile(db, p.specialist, acme, ProfileInput(
        display_name="Dr Vega", headline="Anxiety and sleep", bio="Twenty years of practice.",
        specialties=("anxiety",), languages=("es", "en"), modalities=("video",)))
    patient = create_user(role="patient", brand="acme-clinic", name="Pat Patient")
    db.flush()
    return World(p.specialist, profile, p.appointment_type.id, patient)


@pytest.fixture
def token_for(db: Session, brands: dict[str, BrandConfig]) -> Callable[..., str]:
    """Factory: a fresh API token of ``user`` on ``brand``."""

    def make(user: User, brand: str = "acme-clinic", days: int = 90) -> str:
        _row, raw = tokens.create_token(db, user, brands[brand], "tests", days)
        db.flush()
        return raw

    return make


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass
class Caller:
    """Calls the API and validates each JSON answer against the schema the document declares
    for that path template, method and status; remembers which operations it saw."""

    client: BrandClient
    document: dict[str, Any]
    registry: Registry  # type: ignore[type-arg]
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    def __call__(self, method: str, template: str, status: int, *, path: dict[str, Any] |
                 None = None, **kwargs: Any) -> TestResponse:
        url = "/api/v1" + template.format(**(path or {}))
        resp = self.client.open(url, method=method.upper(), **kwargs)
        assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True))
        assert resp.mimetype == "application/json"
        operation = self.document["paths"][template][method]
        assert str(status) in operation["responses"], f"{method} {template}: {status} undeclared"
        ref = f"{DOC_URI}#/" + _pointer("paths", template, method, "responses", str(status),
                                        "content", "application/json", "schema")
        Draft202012Validator({"$ref": ref}, registry=self.registry).validate(resp.get_json())
        self.seen.add((template, method, status))
        return resp


@pytest.fixture
def api(client_for: Callable[[str], BrandClient], platform: Platform) -> Callable[..., Caller]:
    """Factory: a :class:`Caller` on a brand, checking answers against that brand's document."""

    def make(brand: str = "acme-clinic") -> Caller:
        client = client_for(brand)
        document = client.get("/api/v1/openapi.json").get_json()
        registry = Registry().with_resource(DOC_URI, DRAFT202012.create_resource(document))
        return Caller(client, document, registry)

    return make
