"""Payment pages on the example brands: the price and its rule before booking, the payment on
the appointment, staff marking paid and refunding, the specialist's earnings, the console's
reconciliation; refusals for the wrong role, another brand's payment and bad input."""

from __future__ import annotations

import re

import pytest

from modules.payments import services
from tests.console.conftest import (  # noqa: F401  (fixtures)
    console,
    console_for,
    console_signin,
    operator,
    operator_console,
)
from tests.modules.payments.conftest import monday


@pytest.fixture
def setup(db, platform, practice, book, create_user, client_for, signin):
    acme = platform.brands["acme-clinic"].loaded.config
    p = practice(also_on=())
    patient = create_user(name="Pat Patient")
    staff = create_user(role="org_admin", name="Sam Staff")
    appointment = book(acme, patient, p, monday())

    def browser(user):
        client = client_for("acme-clinic")
        assert signin(client, user.email).status_code == 302
        return client

    return acme, p, patient, staff, appointment, browser


def test_the_patient_sees_the_price_and_rule_before_booking(db, setup):
    acme, p, patient, _staff, _appointment, browser = setup
    client = browser(patient)
    start = monday(1).isoformat()
    page = client.get(f"/appointments/book/{p.specialist.id}",
                      query_string={"type": p.appointment_type.id, "start": start})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    quote = re.search(r'<dl class="facts payment-quote">(.*?)</dl>', html, re.S)
    assert quote and "80,00" in quote.group(1)


def test_the_appointment_shows_its_payment(db, setup):
    acme, _p, patient, _staff, appointment, browser = setup
    html = browser(patient).get(f"/appointments/{appointment.id}").get_data(as_text=True)
    section = re.search(r'<section class="card payment".*?</section>', html, re.S)
    assert section and "80,00" in section.group(0)
    assert "payment-pending" in section.group(0)
    listing = browser(patient).get("/payments/").get_data(as_text=True)
    assert "80,00" in listing


def test_staff_mark_paid_then_refund_in_part(db, setup):
    acme, _p, _patient, staff, appointment, browser = setup
    payment = services.payment_for_appointment(db, acme, appointment.id)
    client = browser(staff)
    page = client.get("/org/payments/")
    assert page.status_code == 200 and f'id="payment-{payment.id}"' in page.get_data(True)
    done = client.submit(f"/org/payments/{payment.id}/paid", form_page="/org/payments/")
    assert done.status_code == 302
    db.refresh(payment)
    assert payment.status == "paid"
    bad = client.submit(f"/org/payments/{payment.id}/refund", {"amount": "diez"},
                        form_page="/org/payments/?status=all")
    assert bad.status_code == 302
    db.refresh(payment)
    assert payment.refunded_minor == 0
    refunded = client.submit(f"/org/payments/{payment.id}/refund", {"amount": "20,50"},
                             form_page="/org/payments/?status=all")
    assert refunded.status_code == 302
    db.refresh(payment)
    assert (payment.refunded_minor, payment.status) == (2050, "partially_refunded")


def test_patients_cannot_use_the_staff_pages(db, setup):
    _acme, _p, patient, _staff, appointment, browser = setup
    client = browser(patient)
    assert client.get("/org/payments/").status_code in (403, 404)


def test_staff_of_another_brand_get_404(db, setup, create_user, client_for, signin):
    acme, _p, _patient, _staff, appointment, _browser = setup
    payment = services.payment_for_appointment(db, acme, appointment.id)
    other = create_user(role="org_admin", brand="wellness-corp")
    client = client_for("wellness-corp")
    assert signin(client, other.email).status_code == 302
    resp = client.submit(f"/org/payments/{payment.id}/paid", form_page="/org/payments/")
    assert resp.status_code == 404
    db.refresh(payment)
    assert payment.status == "pending"


def test_the_specialist_sees_their_earnings(db, setup):
    acme, p, _patient, staff, appointment, browser = setup
    payment = services.payment_for_appointment(db, acme, appointment.id)
    services.mark_paid(db, staff, acme, payment.id)
    page = browser(p.specialist).get("/specialist/earnings/", query_string={"month": "2026-10"})
    assert page.status_code == 200
    earnings = re.search(r'<dl class="facts" id="earnings">(.*?)</dl>', page.get_data(True),
                         re.S)
    assert earnings and "80,00" in earnings.group(1)
    bad = browser(p.specialist).get("/specialist/earnings/", query_string={"month": "13/2026"})
    assert bad.status_code == 400


def test_staff_download_the_month_as_csv(db, setup):
    acme, _p, _patient, staff, appointment, browser = setup
    services.mark_paid(db, staff, acme,
                       services.payment_for_appointment(db, acme, appointment.id).id)
    resp = browser(staff).get("/org/payments/reconciliation",
                              query_string={"month": "2026-10", "format": "csv"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "\nbrand,acme-clinic,2026-10,1,80.00," in resp.get_data(as_text=True)


def test_the_console_shows_the_reconciliation(db, setup, operator_console):  # noqa: F811
    acme, _p, _patient, staff, appointment, _browser = setup
    services.mark_paid(db, staff, acme,
                       services.payment_for_appointment(db, acme, appointment.id).id)
    nav = operator_console.get("/brands").get_data(as_text=True)
    assert 'href="/m/payments/"' in nav
    page = operator_console.get("/m/payments/", query_string={"brand": "acme-clinic",
                                                              "month": "2026-10"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="totals"' in html and "80.00" in html
    assert 'id="reconciles"' in html
    bad = operator_console.get("/m/payments/", query_string={"brand": "acme-clinic",
                                                             "month": "2026-13"})
    assert bad.status_code == 400
    assert operator_console.get("/m/payments/",
                                query_string={"brand": "nope"}).status_code == 404


def test_the_console_page_needs_an_operator(db, console):  # noqa: F811
    resp = console.get("/m/payments/")
    assert resp.status_code == 302 and "/signin" in resp.headers["Location"]
