"""The console's audit log page: operators see and filter every brand's events; nobody else."""

from __future__ import annotations

from engine import audit


def test_operator_sees_and_filters_events(operator_console, db):
    audit.record(db, action="test.console.one", brand_id="acme-clinic", outcome="denied",
                 details={"permission": "x"})
    audit.record(db, action="test.console.two", brand_id="wellness-corp")
    audit.record(db, action="test.console.platform", brand_id=None)
    page = operator_console.get("/audit").get_data(as_text=True)
    assert all(a in page for a in ("test.console.one", "test.console.two",
                                   "test.console.platform"))
    acme = operator_console.get("/audit?brand=acme-clinic&action=test.console").get_data(
        as_text=True)
    assert "test.console.one" in acme and "test.console.two" not in acme
    platform_only = operator_console.get("/audit?brand=-&action=test.").get_data(as_text=True)
    assert "test.console.platform" in platform_only and "test.console.one" not in platform_only
    denied = operator_console.get("/audit?outcome=denied&action=test.").get_data(as_text=True)
    assert "test.console.one" in denied and "test.console.two" not in denied
    assert operator_console.get("/audit?brand=no-such-brand").status_code == 404
    assert operator_console.get("/audit?actor=abc").status_code == 400


def test_page_is_for_operators_only(console, create_user, db, console_signin):
    assert console.get("/audit").status_code == 302
    patient = create_user(role="patient")
    console_signin(console, patient.email)
    assert console.get("/audit").status_code in (302, 403)
