"""`cli.py reports reconcile BRAND --month YYYY-MM [--format csv]`: the report of the ledger,
as text or CSV, and clear refusals of a bad month or an unknown brand."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from engine.cli import main
from modules.payments import reports
from tests.modules.payments.month import MONTH
from tests.modules.payments.test_reconciliation import (  # noqa: F401  (fixtures)
    generate_month,
    month_brand,
)


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args))


def test_csv_is_the_report_of_the_ledger(db, month_brand, generate_month):  # noqa: F811
    generate_month(24)
    result = _run("reports", "reconcile", "acme-clinic", "--month", MONTH, "--format", "csv")
    assert result.exit_code == 0, result.output
    expected = reports.reconcile(db, month_brand, MONTH)
    assert result.output == reports.to_csv(expected)
    rows = list(csv.DictReader(io.StringIO(result.output)))
    total = next(r for r in rows if r["section"] == "brand")
    assert total["gross"] == reports.amount(expected.totals.gross, "EUR") != "0.00"
    assert {r["key"] for r in rows if r["section"] == "specialist"} == {
        str(s.specialist_id) for s in expected.specialists}


def test_text_report_says_it_reconciles(db, month_brand, generate_month):  # noqa: F811
    generate_month(12)
    result = _run("payments", "reports", "reconcile", "acme-clinic", "--month", MONTH)
    assert result.exit_code == 0, result.output
    assert "acme-clinic 2026-10 (EUR)" in result.output
    assert "reconciles with the ledger" in result.output


def test_an_empty_month_is_a_report_of_zeros(db):
    result = _run("reports", "reconcile", "wellness-corp", "--month", "2031-02", "--format",
                  "csv")
    assert result.exit_code == 0, result.output
    total = next(r for r in csv.DictReader(io.StringIO(result.output))
                 if r["section"] == "brand")
    assert (total["gross"], total["currency"]) == ("0.00", "USD")


@pytest.mark.parametrize("month", ["2026-13", "10-2026", "last"])
def test_a_bad_month_is_refused(db, month):
    result = _run("reports", "reconcile", "acme-clinic", "--month", month)
    assert result.exit_code == 2
    assert "YYYY-MM" in result.output


def test_an_unknown_brand_is_refused_with_a_suggestion(db):
    result = _run("reports", "reconcile", "acme-clinik", "--month", MONTH)
    assert result.exit_code == 2
    assert "no brand 'acme-clinik'" in result.output and "acme-clinic" in result.output


def test_a_bad_format_is_refused(db):
    result = _run("reports", "reconcile", "acme-clinic", "--month", MONTH, "--format", "xml")
    assert result.exit_code == 2


def test_expire_holds_frees_the_slots_of_unpaid_online_payments(db, platform, practice, book,
                                                                create_user):
    from datetime import timedelta

    from engine import clock
    from modules.booking import calendar
    from modules.payments.services import payment_for_appointment
    from tests.modules.payments.conftest import FIRST_VISIT, NOW, monday

    wellness = platform.brands["wellness-corp"].loaded.config  # stripe, 30-minute holds
    p = practice(also_on=("wellness-corp",))
    kind = calendar.save_appointment_type(db, p.specialist, wellness, FIRST_VISIT.model_copy(
        update={"catalog_key": "session", "duration_minutes": 50}))
    p = type(p)(p.specialist, kind)
    patient = create_user(brand="wellness-corp")
    free = book(wellness, patient, p, monday(0, 10))   # the first session is on the house
    held = book(wellness, patient, p, monday(0, 12))
    assert payment_for_appointment(db, wellness, free.id).status == "paid"
    assert payment_for_appointment(db, wellness, held.id).status == "held"
    assert _run("payments", "expire-holds").output == "0 hold(s) expired\n"
    with clock.freeze(NOW + timedelta(minutes=31)):
        result = _run("payments", "expire-holds")
    assert result.output == "1 hold(s) expired\n", result.output
    db.expire_all()
    assert payment_for_appointment(db, wellness, held.id).status == "expired"
    assert db.get(type(held), held.id).status == "cancelled"
    assert db.get(type(free), free.id).status == "confirmed"
