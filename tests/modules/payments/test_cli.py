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
