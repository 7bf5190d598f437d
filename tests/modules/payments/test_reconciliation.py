"""Month-end reconciliation: a generated month (hundreds of appointments, refunds in full and in
part, disputes, cancellations, payouts, sponsored sessions, some money just outside the month)
whose report totals equal both the generator's own tally and the ledger's sums, to the cent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from modules.booking import calendar
from modules.payments import ledger, reports
from modules.payments.models import LedgerEntry
from tests.modules.payments.conftest import FIRST_VISIT, configured
from tests.modules.payments.month import END, MONTH, START, generate


@pytest.fixture
def month_brand(brands):
    return configured(brands["acme-clinic"], refund_inside_window="partial",
                      payments={"commission_percent": "12.5"},
                      pricing={"first_session": {"percent_off": 20},
                               "sponsored": [{"organization": "acme-madrid",
                                              "sessions_per_year": 3,
                                              "member_price": "55.55"}]})


@pytest.fixture
def generate_month(db, month_brand, create_user):
    """Factory: ``generate_month(appointments)`` -> (specialists, the generator's tally)."""
    from engine.identity import services as identity

    def make(appointments: int):
        return _generate(db, month_brand, create_user, identity, appointments)

    return make


def _generate(db, month_brand, create_user, identity, appointments):
    specialists, types = [], {}
    for i in range(3):
        s = create_user(role="specialist", name=f"Specialist {i}")
        calendar.set_calendar_zone(db, s, month_brand, "Europe/Madrid")
        kind = calendar.save_appointment_type(db, s, month_brand, FIRST_VISIT)
        kind.price_minor = [8000, 6333, 9999][i]  # odd amounts: the fee rounds
        specialists.append(s)
        types[s.id] = kind
    assert all(identity.is_member(db, month_brand, s) for s in specialists)
    patients = [create_user(name=f"Patient {i}",
                            organization="acme-madrid" if i % 4 == 0 else None)
                for i in range(40)]
    staff = create_user(role="org_admin")
    tally = generate(db, month_brand, specialists, types, patients, staff,
                     appointments=appointments)
    return specialists, tally


def _sum(db, *where) -> int:
    return int(db.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
        LedgerEntry.brand_id == "acme-clinic", LedgerEntry.created_at >= START,
        LedgerEntry.created_at < END, *where)))


def test_the_report_equals_the_tally_and_the_ledger_to_the_cent(db, month_brand,
                                                                generate_month):
    specialists, tally = generate_month(300)
    report = reports.reconcile(db, month_brand, MONTH)
    t = report.totals
    assert report.reconciles, report.problems
    # the generator's own account of the month
    assert tally.payments == 300 and tally.refunds > 0 and tally.disputes > 0
    assert (t.gross, t.refunds, t.disputes, t.transactions, t.payouts) == (
        tally.gross, tally.refunds, tally.disputes, tally.transactions, tally.payouts)
    assert {s.specialist_id: s.totals.gross for s in report.specialists} == {
        s.id: tally.gross_by_specialist[s.id] for s in specialists}
    assert report.sessions_by_rule == dict(tally.sessions_by_rule)
    assert set(report.sessions_by_rule) >= {"fixed", "first_session", "sponsored",
                                            "member_price"}
    assert [(sp.organization, sp.sessions, sp.charged) for sp in report.sponsored] == [
        ("acme-madrid", tally.sponsored_sessions["acme-madrid"],
         tally.sponsored_charged["acme-madrid"])]
    # the ledger's own sums, queried directly
    assert t.fees == _sum(db, LedgerEntry.account_type == "platform")
    assert t.specialist_net == _sum(db, LedgerEntry.account_type == "specialist",
                                    LedgerEntry.kind != "payout")
    assert t.net == t.fees + t.specialist_net
    assert _sum(db) == 0
    assert sum(s.totals.specialist_net for s in report.specialists) == t.specialist_net
    assert ledger.unbalanced_payments(db, "acme-clinic") == []
    _money_outside_the_month_is_left_out(db, month_brand)
    _csv_totals_row_matches_the_report(report)


def _money_outside_the_month_is_left_out(db, month_brand) -> None:
    outside = db.scalar(select(func.count(LedgerEntry.id)).where(
        (LedgerEntry.created_at < START) | (LedgerEntry.created_at >= END)))
    assert outside > 0  # the generator put some money in September and November
    september = reports.reconcile(db, month_brand, "2026-09")
    october = reports.reconcile(db, month_brand, MONTH)
    november = reports.reconcile(db, month_brand, "2026-11")
    assert september.reconciles and november.reconciles
    everything = sum(r.totals.gross for r in (september, october, november))
    assert everything == -_all(db, LedgerEntry.kind.in_(("charge", "sponsored")),
                               LedgerEntry.account_type.in_(("patient", "organization")))


def _csv_totals_row_matches_the_report(report) -> None:
    rows = [line.split(",") for line in reports.to_csv(report).splitlines()]
    header = rows[0]
    total = dict(zip(header, next(r for r in rows if r[0] == "brand"), strict=True))
    assert total["gross"] == reports.amount(report.totals.gross, "EUR")
    assert total["net"] == reports.amount(report.totals.net, "EUR")
    spec_gross = sum(int(r[header.index("gross")].replace(".", "")) for r in rows
                     if r[0] == "specialist")
    assert spec_gross == report.totals.gross


def _all(db, *where) -> int:
    return int(db.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0))
                         .where(*where)))


def test_a_tampered_ledger_does_not_reconcile(db, month_brand, generate_month):
    generate_month(30)
    entry = db.scalar(select(LedgerEntry).where(LedgerEntry.account_type == "platform",
                                                LedgerEntry.created_at >= START,
                                                LedgerEntry.created_at < END).limit(1))
    entry.amount_minor += 1
    db.flush()
    report = reports.reconcile(db, month_brand, MONTH)
    assert not report.reconciles
    assert any("sum to 1" in p for p in report.problems)


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "october", "", "2026-10-01"])
def test_a_bad_month_is_refused(month_brand, month):
    with pytest.raises(reports.BadMonth):
        reports.month_window(month_brand, month)
