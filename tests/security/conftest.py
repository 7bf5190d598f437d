"""The security tests' world: patient A's private data on wellness-corp, and everyone else.

Patient A has an appointment with specialist S1 (with intake answers) and, where the brand runs
messaging, a thread with S1 holding a message. A's private *markers* (name, email, intake text,
message text) are unique strings: a page that shows one of them to someone other than A (or a
viewer allowed to see A) leaks A's data.

Viewers: anonymous, patient A, patient B (same brand), a specialist who is not A's, an
organization admin of an organization A is not in, an affiliate, an operator (console cookie),
and a patient of the other brand (her cookie replayed on A's brand).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from werkzeug.test import TestResponse

from engine import clock
from engine.identity.models import User
from engine.platform import Platform
from tests.conftest import PASSWORD, BrandClient
from tests.security.support import enroll, next_code

A_BRAND = "wellness-corp"
OTHER_BRAND = "acme-clinic"
CONSOLE_HOST = "admin.localhost"


@dataclass
class World:
    a: User
    b: User
    owner: User  # A's specialist
    ids: dict[str, int]  # argument name fragment -> an id of A's data
    markers: tuple[str, ...]
    viewers: dict[str, BrandClient | None] = field(default_factory=dict)


def _unique(label: str) -> str:
    return f"{label}{uuid.uuid4().hex[:10]}"


def _appointment_for(db: Any, platform: Platform, a: User, owner: User,
                     intake_text: str) -> dict[str, int]:
    """An appointment of ``a`` with ``owner`` on A's brand, and its intake answers."""
    from modules.booking import calendar
    from modules.booking.models import Appointment, IntakeAnswers
    from modules.booking.questions import AnsweredQuestion
    from modules.booking.schemas import AppointmentTypeInput

    cfg = platform.brands[A_BRAND].loaded.config
    calendar.set_calendar_zone(db, owner, cfg, "Europe/Madrid")
    kind = calendar.save_appointment_type(db, owner, cfg, AppointmentTypeInput(
        name="Matrix visit", duration_minutes=50, modality="video",
        catalog_key=cfg.pricing.appointment_types[0].key if cfg.pricing.appointment_types
        else None, slot_interval_minutes=60))
    start = (clock.now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    appointment = Appointment(
        brand_id=A_BRAND, specialist_id=owner.id, patient_id=a.id, appointment_type_id=kind.id,
        booked_by_id=a.id, modality="video", start_at=start, end_at=start + timedelta(minutes=50),
        blocked_start_at=start, blocked_end_at=start + timedelta(minutes=50), status="confirmed",
        price_minor=0, currency=cfg.currency)
    db.add(appointment)
    db.flush()
    answer = AnsweredQuestion(key="notes", label="What brings you here?", type="text",
                              values=(intake_text,), value_labels=(intake_text,))
    intake = IntakeAnswers(brand_id=A_BRAND, appointment_id=appointment.id, source="intake_form",
                           form_key="matrix", answers=[answer.model_dump(mode="json")])
    db.add(intake)
    db.flush()
    return {"appointment": appointment.id, "intake": intake.id, "type": kind.id}


def _thread_for(db: Any, platform: Platform, a: User, owner: User,
                message_text: str) -> dict[str, int]:
    cfg = platform.brands[A_BRAND].loaded.config
    if "messaging" not in cfg.enabled_modules():
        return {}
    from modules.messaging import services as messaging

    thread = messaging.open_specialist_thread(db, a, cfg, other_id=owner.id)
    with platform.app_for(A_BRAND).test_request_context():  # it notifies by email
        message = messaging.post_message(db, a, cfg, thread.id, message_text, [],
                                         platform.runtime.settings.data_dir)
    db.flush()
    return {"thread": thread.id, "message": message.id}


def sign_in(client: BrandClient, email: str, password: str = PASSWORD) -> TestResponse:
    resp = client.submit("/account/signin", {"email": email, "password": password})
    assert resp.status_code == 302, (email, resp.status_code)
    return resp


def replay_cookie(source: BrandClient, name: str, target: BrandClient) -> BrandClient:
    """``target`` carrying ``source``'s session cookie (as if stolen or sent to another host)."""
    cookie = source.get_cookie(name, domain=source.host)
    assert cookie is not None, f"no {name} cookie on {source.host}"
    target.set_cookie("daraport", cookie.value, domain=target.host)
    target.set_cookie("daraport_console", cookie.value, domain=target.host)
    return target


@pytest.fixture
def world(platform: Platform, db: Any, create_user: Callable[..., User],
          client_for: Callable[[str], BrandClient]) -> World:
    name_a = _unique("Amalia Zephyrine ")
    a = create_user(role="patient", brand=A_BRAND, name=name_a, email=_unique("pat-a-") +
                    "@example.com")
    b = create_user(role="patient", brand=A_BRAND, name=_unique("Bruno "))
    owner = create_user(role="specialist", brand=A_BRAND, name=_unique("Dr Owner "))
    intake_text = _unique("INTAKE-SECRET-")
    message_text = _unique("MESSAGE-SECRET-")
    ids = {"patient": a.id, "user": a.id, "specialist": owner.id}
    ids |= _appointment_for(db, platform, a, owner, intake_text)
    ids |= _thread_for(db, platform, a, owner, message_text)
    markers = (name_a, a.email, intake_text, message_text)
    return World(a=a, b=b, owner=owner, ids=ids, markers=markers)


@pytest.fixture
def viewers(world: World, platform: Platform, db: Any, create_user: Callable[..., User],
            client_for: Callable[[str], BrandClient]) -> Callable[[str, str], BrandClient]:
    """Factory ``viewers(name, host)``: a client on ``host`` as that viewer."""
    cfg = platform.brands[A_BRAND].loaded.config
    other_org = [o.slug for o in cfg.organizations if o.slug != world.a.organization]
    people: dict[str, Any] = {
        "patient_a": world.a,
        "patient_b": world.b,
        "specialist": create_user(role="specialist", brand=A_BRAND, name="Dr Stranger"),
        "org_admin": create_user(role="org_admin", brand=A_BRAND, name="Org Stranger",
                                 organization=other_org[0] if other_org else None),
        "affiliate": create_user(role="affiliate", brand=A_BRAND, name="Affiliate Stranger"),
        "other_brand": create_user(role="patient", brand=OTHER_BRAND, name="Other Brand"),
    }
    operator = create_user(role="operator", brand=None, name="Matrix Operator")
    enroll(db, operator)

    def make(name: str, host: str) -> BrandClient:
        client = BrandClient(platform, host)
        if name == "anonymous":
            return client
        if name == "operator":
            console = BrandClient(platform, CONSOLE_HOST)
            resp = console.submit("/signin", {"email": operator.email, "password": PASSWORD})
            assert resp.headers["Location"] == "/signin/code"
            assert console.submit("/signin/code", {"code": next_code(db, operator)}) \
                .status_code == 302
            return console if host == CONSOLE_HOST else replay_cookie(
                console, "daraport_console", client)
        user = people[name]
        home = OTHER_BRAND if user.brand_id == OTHER_BRAND else A_BRAND
        own = client_for(home)
        sign_in(own, user.email)
        return own if own.host == host else replay_cookie(own, "daraport", client)

    return make


VIEWERS = ("anonymous", "patient_a", "patient_b", "specialist", "org_admin", "affiliate",
           "operator", "other_brand")
