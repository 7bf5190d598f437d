"""The assisted journey end to end: submit, the coordinators' queue, allocation through booking,
the patient's answer, and organization admins submitting for their members."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from engine.platform import Platform
from modules.assisted import coordination, services
from modules.assisted.models import Allocation, AssistanceRequest
from modules.assisted.schemas import RequestInput
from modules.booking import services as booking
from modules.booking.models import Appointment
from tests.conftest import BrandClient, spanish
from tests.modules.assisted.conftest import MONDAY_9_MADRID, Practice

NEEDS = "Trouble sleeping for two months, would like to talk to someone."
MADRID = ZoneInfo("Europe/Madrid")


def _submit(client: BrandClient, path: str = "/assistance/new", **changes: Any) -> Any:
    data = {"needs": NEEDS, "language": "es", "modality": "any",
            "time_windows": ["0:morning"], "urgency": "soon", **changes}
    return client.submit(path, data)


def _request_of(db: Session, patient: User) -> AssistanceRequest:
    row = db.scalar(select(AssistanceRequest).where(AssistanceRequest.patient_id == patient.id))
    assert row is not None
    return row


def _requests(db: Session) -> int:
    return db.scalar(select(func.count(AssistanceRequest.id))) or 0


def _allocate(client: BrandClient, request_id: int, practice: Practice,
              start: str = MONDAY_9_MADRID, reason: str = "Evening slots, speaks Spanish",
              ) -> Any:
    choice = f"{practice.specialist.id}|{practice.appointment_type.id}|{start}"
    return client.submit(f"/org/coordination/{request_id}/allocate",
                         {"choice": choice, "reason": reason},
                         form_page=f"/org/coordination/{request_id}")


# --- submitting ---------------------------------------------------------------------------------


def test_patient_submits_a_request_and_sees_it_waiting(signed_in: Callable[[User], BrandClient],
                                                       patient: User, db: Session) -> None:
    client = signed_in(patient)
    resp = _submit(client, time_windows=["0:morning", "2:evening"])
    assert resp.status_code == 302
    row = _request_of(db, patient)
    assert (row.status, row.urgency, row.language, row.submitted_by_id) == \
        ("submitted", "soon", "es", patient.id)
    assert row.time_windows == ["0:morning", "2:evening"]
    assert row.timezone == "Europe/Madrid"  # the brand's zone: the patient set none
    page = client.get("/assistance/").get_data(as_text=True)
    assert f"/assistance/{row.id}" in page
    detail = client.get(f"/assistance/{row.id}").get_data(as_text=True)
    assert "Trouble sleeping" in detail


@pytest.mark.parametrize("changes, field, msgid, params", [
    ({"time_windows": []}, "time_windows", "Choose at least one time that suits you.", {}),
    ({"needs": "help"}, "needs", "Describe what you need in 10 to %(n)d characters.",
     {"n": 4000}),
    ({"time_windows": ["9:morning"]}, "time_windows",
     "Choose at least one time that suits you.", {}),
    ({"urgency": "yesterday"}, "urgency", "Choose how soon you need an appointment.", {}),
])
def test_invalid_request_is_refused_with_a_message_and_nothing_is_saved(
        signed_in: Callable[[User], BrandClient], patient: User, db: Session,
        assisted_platform: Platform, changes: dict[str, Any], field: str, msgid: str,
        params: dict[str, Any]) -> None:
    client = signed_in(patient)
    resp = client.submit("/assistance/new", {"needs": NEEDS, "time_windows": ["0:morning"],
                                             "urgency": "soon", **changes})
    assert resp.status_code == 400
    message = escape(spanish(assisted_platform, msgid, **params))  # the brand's language
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in resp.get_data(
        as_text=True)
    assert _requests(db) == 0


def test_request_without_csrf_token_is_refused(signed_in: Callable[[User], BrandClient],
                                               patient: User, db: Session) -> None:
    client = signed_in(patient)
    resp = client.post("/assistance/new", data={"needs": NEEDS, "time_windows": "0:morning"})
    assert resp.status_code == 400
    assert _requests(db) == 0


def test_patient_may_hold_only_a_few_unfinished_requests(
        signed_in: Callable[[User], BrandClient], patient: User, db: Session) -> None:
    client = signed_in(patient)
    assert _submit(client).status_code == 302
    assert _submit(client).status_code == 302
    resp = _submit(client)  # max_open_requests is 2 in these tests
    assert resp.status_code == 400
    assert _requests(db) == 2


def test_org_admin_submits_for_a_member_of_their_organization_only(
        signed_in: Callable[[User], BrandClient], create_user: Callable[..., User],
        db: Session) -> None:
    admin = create_user(role="org_admin", organization="acme-madrid")
    member = create_user(role="patient", organization="acme-madrid", name="Marta Member")
    outsider = create_user(role="patient", name="Olga Outsider")
    client = signed_in(admin)
    form = client.get("/org/assistance/new").get_data(as_text=True)
    assert "Marta Member" in form and "Olga Outsider" not in form
    refused = _submit(client, "/org/assistance/new", patient_id=str(outsider.id))
    assert refused.status_code == 400
    assert _requests(db) == 0
    assert _submit(client, "/org/assistance/new", patient_id=str(member.id)).status_code == 302
    row = _request_of(db, member)
    assert (row.patient_id, row.submitted_by_id) == (member.id, admin.id)
    listing = client.get("/org/assistance/").get_data(as_text=True)
    assert "Marta Member" in listing and "Trouble sleeping" not in listing  # no health data


def test_patient_cannot_submit_for_someone_else(acme: BrandConfig, patient: User,
                                                create_user: Callable[..., User],
                                                db: Session) -> None:
    other = create_user(role="patient")
    data = RequestInput(needs=NEEDS, time_windows=("0:morning",), patient_id=other.id)
    with pytest.raises(Exception) as exc:
        services.submit_request(db, patient, acme, data)
    assert getattr(exc.value, "status", None) == 403
    assert _requests(db) == 0


# --- the coordinators' queue --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["patient", "specialist", "org_admin"])
def test_queue_is_closed_to_everyone_but_coordinators(
        signed_in: Callable[[User], BrandClient], create_user: Callable[..., User],
        role: str) -> None:
    user = create_user(role=role, organization="acme-madrid" if role == "org_admin" else None)
    assert signed_in(user).get("/org/coordination/").status_code == 403


def test_queue_lists_open_requests_oldest_first(
        signed_in: Callable[[User], BrandClient], coordinator: User, acme: BrandConfig,
        create_user: Callable[..., User], db: Session) -> None:
    from engine import clock

    first, second = create_user(name="Ana First"), create_user(name="Beto Second")
    with clock.freeze(datetime(2026, 2, 24, 9, 0, tzinfo=MADRID)):
        older = services.submit_request(db, second, acme, RequestInput(
            needs=NEEDS, time_windows=("0:morning",)))
    newer = services.submit_request(db, first, acme, RequestInput(
        needs=NEEDS, time_windows=("0:morning",)))
    db.flush()
    page = signed_in(coordinator).get("/org/coordination/").get_data(as_text=True)
    assert page.index(f"/org/coordination/{older.id}") < page.index(
        f"/org/coordination/{newer.id}")
    assert "Trouble sleeping" not in page  # needs only on the request's own page


def test_coordinator_gets_404_for_another_brands_request(
        signed_in: Callable[[User], BrandClient], coordinator: User,
        create_user: Callable[..., User], db: Session) -> None:
    elsewhere = create_user(role="patient", brand="wellness-corp")
    row = AssistanceRequest(brand_id="wellness-corp", patient_id=elsewhere.id,
                            submitted_by_id=elsewhere.id, needs=NEEDS,
                            time_windows=["0:morning"], timezone="Europe/Madrid")
    db.add(row)
    db.flush()
    client = signed_in(coordinator)
    assert client.get(f"/org/coordination/{row.id}").status_code == 404
    assert client.get("/org/coordination/").get_data(as_text=True).count(
        f"/org/coordination/{row.id}") == 0


def test_suggestions_are_free_slots_inside_the_patients_windows(
        acme: BrandConfig, coordinator: User, patient: User, db: Session,
        practice: Callable[..., Practice]) -> None:
    found = practice()
    row = services.submit_request(db, patient, acme, RequestInput(
        needs=NEEDS, time_windows=("0:afternoon",)))
    suggestions = coordination.suggestions(db, coordinator, acme, row.id)
    assert [(s.specialist_id, s.appointment_type_id) for s in suggestions] == \
        [(found.specialist.id, found.appointment_type.id)]
    hours = [slot.start_at.astimezone(MADRID) for slot in suggestions[0].slots]
    # Mondays from 12:00 to the last hour that ends by 17:00, first Monday first
    assert [(h.day, h.hour) for h in hours] == [(2, 12), (2, 13), (2, 14), (2, 15), (2, 16),
                                                (9, 12)]


# --- allocation and the patient's answer --------------------------------------------------------

@pytest.fixture
def submitted(acme: BrandConfig, patient: User, db: Session) -> AssistanceRequest:
    row = services.submit_request(db, patient, acme, RequestInput(
        needs=NEEDS, time_windows=("0:morning",)))
    db.flush()
    return row


def test_allocation_books_for_the_patient_records_the_reason_and_emails_them(
        signed_in: Callable[[User], BrandClient], coordinator: User, patient: User,
        submitted: AssistanceRequest, practice: Callable[..., Practice], db: Session,
        outbox: Callable[[], list[Any]]) -> None:
    found = practice()
    client = signed_in(coordinator)
    case_page = client.get(f"/org/coordination/{submitted.id}").get_data(as_text=True)
    assert f"{found.specialist.id}|{found.appointment_type.id}|{MONDAY_9_MADRID}" in case_page
    resp = _allocate(client, submitted.id, found)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    allocation = db.scalar(select(Allocation).where(Allocation.request_id == submitted.id))
    assert allocation is not None
    assert (allocation.reason, allocation.coordinator_id, allocation.outcome) == \
        ("Evening slots, speaks Spanish", coordinator.id, "proposed")
    appointment = db.get(Appointment, allocation.appointment_id)
    assert (appointment.patient_id, appointment.booked_by_id, appointment.status) == \
        (patient.id, coordinator.id, "confirmed")
    db.refresh(submitted)
    assert submitted.status == "proposed"
    mail = [m for m in outbox() if m.recipient == patient.email]
    assert len(mail) == 1 and f"/assistance/{submitted.id}" in (mail[0].body_text or "")
    body = mail[0].body_text or ""
    assert " 9:00" in body and " 8:00" not in body  # the patient's zone, not UTC


def test_allocation_without_a_reason_books_nothing(
        signed_in: Callable[[User], BrandClient], coordinator: User,
        submitted: AssistanceRequest, practice: Callable[..., Practice], db: Session) -> None:
    resp = _allocate(signed_in(coordinator), submitted.id, practice(), reason="")
    assert resp.status_code == 400
    assert db.scalar(select(func.count(Appointment.id))) == 0


def test_allocating_a_taken_slot_says_so_and_changes_nothing(
        signed_in: Callable[[User], BrandClient], coordinator: User,
        submitted: AssistanceRequest, practice: Callable[..., Practice],
        create_user: Callable[..., User], brands: dict[str, BrandConfig], db: Session,
        assisted_platform: Platform) -> None:
    found = practice()
    someone = create_user(role="patient")
    booking.book(db, someone, brands["acme-clinic"], found.specialist.id,
                 found.appointment_type.id, MONDAY_9_MADRID)
    db.flush()
    resp = _allocate(signed_in(coordinator), submitted.id, found)
    assert resp.status_code == 409
    taken = escape(spanish(assisted_platform,
                           "This time has just been taken. Choose another one."))
    assert f'<p class="field-error" id="start-error">{taken}</p>' in resp.get_data(as_text=True)
    db.refresh(submitted)
    assert submitted.status == "submitted"
    assert db.scalar(select(func.count(Allocation.id))) == 0
    assert db.scalar(select(func.count(Appointment.id))) == 1


def test_patient_accepts_the_proposal_and_the_appointment_stays(
        signed_in: Callable[[User], BrandClient], coordinator: User, patient: User,
        submitted: AssistanceRequest, practice: Callable[..., Practice], db: Session) -> None:
    assert _allocate(signed_in(coordinator), submitted.id, practice()).status_code == 302
    client = signed_in(patient)
    resp = client.submit(f"/assistance/{submitted.id}/accept",
                         form_page=f"/assistance/{submitted.id}")
    assert resp.status_code == 302
    db.refresh(submitted)
    allocation = db.scalar(select(Allocation).where(Allocation.request_id == submitted.id))
    assert (submitted.status, allocation.outcome) == ("accepted", "accepted")
    assert db.get(Appointment, allocation.appointment_id).status == "confirmed"


def test_asking_for_another_time_cancels_the_appointment_and_requeues_with_the_note(
        signed_in: Callable[[User], BrandClient], coordinator: User, patient: User,
        submitted: AssistanceRequest, practice: Callable[..., Practice], acme: BrandConfig,
        db: Session) -> None:
    found = practice()
    coordinator_client = signed_in(coordinator)
    assert _allocate(coordinator_client, submitted.id, found).status_code == 302
    resp = signed_in(patient).submit(f"/assistance/{submitted.id}/another-time",
                                     {"note": "Mornings after 10 please"},
                                     form_page=f"/assistance/{submitted.id}")
    assert resp.status_code == 302
    db.refresh(submitted)
    allocation = db.scalar(select(Allocation).where(Allocation.request_id == submitted.id))
    assert (submitted.status, allocation.outcome, allocation.patient_note) == \
        ("another_time", "another_time", "Mornings after 10 please")
    assert db.get(Appointment, allocation.appointment_id).status == "cancelled"
    assert f"/org/coordination/{submitted.id}" in \
        coordinator_client.get("/org/coordination/").get_data(as_text=True)
    case_page = coordinator_client.get(f"/org/coordination/{submitted.id}").get_data(
        as_text=True)
    assert "Mornings after 10 please" in case_page
    # the freed time is offered again
    assert f"|{MONDAY_9_MADRID}" in case_page


def test_a_proposal_sent_back_frees_its_time_for_the_waitlist(
        signed_in: Callable[[User], BrandClient], coordinator: User, patient: User,
        submitted: AssistanceRequest, practice: Callable[..., Practice],
        create_user: Callable[..., User], acme: BrandConfig, db: Session,
        outbox: Callable[[], list[Any]]) -> None:
    from modules.booking.waitlist import join_waitlist

    found = practice()
    waiting = create_user(role="patient")
    join_waitlist(db, waiting, acme, found.specialist.id, found.appointment_type.id)
    db.flush()
    assert _allocate(signed_in(coordinator), submitted.id, found).status_code == 302
    assert not [m for m in outbox() if m.recipient == waiting.email]
    resp = signed_in(patient).submit(f"/assistance/{submitted.id}/another-time", {"note": ""},
                                     form_page=f"/assistance/{submitted.id}")
    assert resp.status_code == 302
    assert len([m for m in outbox() if m.recipient == waiting.email]) == 1


def test_another_patient_cannot_see_or_answer_a_request(
        signed_in: Callable[[User], BrandClient], coordinator: User,
        submitted: AssistanceRequest, practice: Callable[..., Practice],
        create_user: Callable[..., User], db: Session) -> None:
    assert _allocate(signed_in(coordinator), submitted.id, practice()).status_code == 302
    stranger = signed_in(create_user(role="patient"))
    assert stranger.get(f"/assistance/{submitted.id}").status_code == 404
    resp = stranger.submit(f"/assistance/{submitted.id}/accept", form_page="/assistance/")
    assert resp.status_code == 404
    db.refresh(submitted)
    assert submitted.status == "proposed"


# --- journey, role and withdrawal ---------------------------------------------------------------


def test_assisted_brand_home_leads_to_the_assistance_pages(web: Callable[[], BrandClient],
                                                           client_for: Callable[..., Any],
                                                           ) -> None:
    assert 'href="/assistance/"' in web().get("/").get_data(as_text=True)
    # wellness-corp keeps its journey and has no assisted module: its pages do not exist
    assert client_for("wellness-corp").get("/assistance/").status_code == 404


def test_coordinator_account_belongs_to_one_brand(db: Session) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(User(realm="platform", role="coordinator", brand_id=None, email="c@example.com",
                    name="Nobody", password_hash="x"))
        db.flush()


def test_patient_cancels_an_open_request_and_it_leaves_the_queue(
        signed_in: Callable[[User], BrandClient], coordinator: User, patient: User,
        submitted: AssistanceRequest, db: Session) -> None:
    resp = signed_in(patient).submit(f"/assistance/{submitted.id}/cancel",
                                     form_page=f"/assistance/{submitted.id}")
    assert resp.status_code == 302
    db.refresh(submitted)
    assert submitted.status == "cancelled"
    assert f"/org/coordination/{submitted.id}" not in \
        signed_in(coordinator).get("/org/coordination/").get_data(as_text=True)
