"""Data rights: a patient's export holds their payments (nobody else's); erasure keeps payments
under the legal duty to keep accounts, restricted and counted as kept."""

from __future__ import annotations

from modules.payments import data_rights, services
from modules.payments.models import LedgerEntry, Payment
from tests.modules.payments.conftest import monday


def test_export_holds_the_patients_payments_only(db, acme, practice, book, create_user):
    p = practice(also_on=())
    patient, other = create_user(), create_user()
    mine = services.payment_for_appointment(db, acme, book(acme, patient, p, monday(0, 10)).id)
    book(acme, other, p, monday(0, 11))
    services.mark_paid(db, create_user(role="org_admin"), acme, mine.id)
    exported = data_rights.export_data(db, patient)
    assert [x["id"] for x in exported["payments"]] == [mine.id]
    assert exported["payments"][0]["amount"] == "80.00"
    assert exported["payments"][0]["status"] == "paid"
    specialist_view = data_rights.export_data(db, p.specialist)
    assert len(specialist_view["payments_of_my_appointments"]) == 2


def test_erasure_keeps_payments_restricted(db, acme, practice, book, create_user):
    patient = create_user()
    payment = services.payment_for_appointment(
        db, acme, book(acme, patient, practice(also_on=()), monday()).id)
    services.mark_paid(db, create_user(role="org_admin"), acme, payment.id)
    entries = db.query(LedgerEntry).filter_by(payment_id=payment.id).count()
    assert data_rights.erase_data(db, patient, "all") == {"kept:payments": 1}
    db.refresh(payment)
    assert payment.restricted_at is not None
    assert db.get(Payment, payment.id) is not None
    assert db.query(LedgerEntry).filter_by(payment_id=payment.id).count() == entries
    assert data_rights.erase_data(db, patient, "messages") == {}
