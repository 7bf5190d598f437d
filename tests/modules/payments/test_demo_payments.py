"""Demo data of payments: last month's paid sessions of the demo people, once; the month's
report of them reconciles."""

from __future__ import annotations

from sqlalchemy import func, select

from modules.payments import reports
from modules.payments.demo import SESSIONS_PER_PATIENT, demo
from modules.payments.models import Payment


def test_demo_pays_last_months_sessions_once(db, acme, practice, create_user):
    p = practice(also_on=())
    patients = [create_user(), create_user()]
    people = {"specialists": [p.specialist], "patients": patients}
    demo(db, acme, people)
    demo(db, acme, people)  # a second run adds nothing
    payments = list(db.scalars(select(Payment).where(Payment.brand_id == "acme-clinic")))
    assert len(payments) == SESSIONS_PER_PATIENT * len(patients)
    assert {x.status for x in payments} == {"paid", "partially_refunded"}
    report = reports.reconcile(db, acme, "2026-09")  # the clock says 1 October 2026
    assert report.reconciles, report.problems
    assert report.totals.gross == sum(x.amount_minor for x in payments) > 0
    assert report.totals.refunds > 0
    assert report.sessions_by_rule == {"fixed": len(payments)}
    assert db.scalar(select(func.count(Payment.id))) == len(payments)
