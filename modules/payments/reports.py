"""Month-end reconciliation per brand and per specialist, built from the ledger.

Everything money is a sum of ledger entries posted in the month (brand's time zone):

- gross: what payers were charged (``charge`` and ``sponsored`` entries on the brand account);
- refunds / disputes: what went back to payers;
- fees: the platform account's net (commission less its part of refunds and disputes);
- specialist net: the specialists' accounts' net (share less their part of refunds/disputes);
- retained: the brand's own account (sales with no specialist, e.g. packages);
- net = gross - refunds - disputes, which must equal fees + specialist net + retained;
- payouts: money paid out to specialists in the month (not part of net).

Sessions by pricing rule count the month's appointments (requested, confirmed, completed, no
show) by the rule that priced them; sponsored sessions per organization are what to invoice
each employer. ``reconciles`` is True only when every identity holds to the cent.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from modules.booking.models import Appointment
from modules.payments import money
from modules.payments.models import LedgerEntry, Payment

HELD_STATUSES = ("requested", "confirmed", "completed", "no_show")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class BadMonth(ValueError):
    """A month that is not written YYYY-MM."""


@dataclass
class Totals:
    transactions: int = 0
    gross: int = 0
    refunds: int = 0
    disputes: int = 0
    fees: int = 0
    specialist_net: int = 0
    retained: int = 0
    payouts: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.refunds - self.disputes


@dataclass
class SpecialistLine:
    specialist_id: int
    name: str
    totals: Totals


@dataclass
class SponsoredLine:
    organization: str
    name: str
    sessions: int
    charged: int
    credited: int

    @property
    def to_invoice(self) -> int:
        return self.charged - self.credited


@dataclass
class Reconciliation:
    brand: str
    month: str
    currency: str
    starts_at: datetime
    ends_at: datetime
    totals: Totals
    specialists: list[SpecialistLine]
    purchases: Totals
    sessions_by_rule: dict[str, int]
    sponsored: list[SponsoredLine]
    ledger_sum: int  # every entry of the month, all accounts: zero when balanced
    problems: list[str] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return not self.problems


def month_window(brand: BrandConfig, month: str) -> tuple[datetime, datetime]:
    """The UTC instants where ``month`` (YYYY-MM) starts and ends in the brand's zone."""
    found = MONTH.match(month or "")
    if not found:
        raise BadMonth(f"{month!r} is not a month: write YYYY-MM, e.g. 2026-10")
    year, mon = int(found.group(1)), int(found.group(2))
    zone = ZoneInfo(brand.timezone)
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + (mon == 12), 1 if mon == 12 else mon + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _fold(totals: Totals, kind: str, account_type: str, amount: int, transactions: int) -> None:
    if account_type == "brand":
        if kind in ("charge", "sponsored"):
            totals.gross += amount
            totals.transactions += transactions
        totals.retained += amount
    elif account_type in ("patient", "organization"):
        if kind == "refund":
            totals.refunds += amount
            totals.transactions += transactions
        elif kind == "dispute":
            totals.disputes += amount
            totals.transactions += transactions
    elif account_type == "platform":
        totals.fees += amount
    elif account_type == "specialist":
        if kind == "payout":
            totals.payouts -= amount
        else:
            totals.specialist_net += amount


def reconcile(session: Session, brand: BrandConfig, month: str) -> Reconciliation:
    """The brand's reconciliation for ``month`` (YYYY-MM in the brand's zone)."""
    start, end = month_window(brand, month)
    in_month = (LedgerEntry.brand_id == brand.slug, LedgerEntry.created_at >= start,
                LedgerEntry.created_at < end, LedgerEntry.currency == brand.currency)
    rows = session.execute(
        select(Payment.specialist_id, LedgerEntry.kind, LedgerEntry.account_type,
               func.sum(LedgerEntry.amount_minor), func.count(LedgerEntry.id))
        .select_from(LedgerEntry).join(Payment, Payment.id == LedgerEntry.payment_id)
        .where(*in_month)
        .group_by(Payment.specialist_id, LedgerEntry.kind, LedgerEntry.account_type)
        .execution_options(all_brands=True)).all()
    totals = Totals()
    per: dict[int, Totals] = defaultdict(Totals)
    purchases = Totals()  # sales with no specialist (packages, subscriptions)
    for specialist_id, kind, account_type, minor, transactions in rows:
        _fold(totals, kind, account_type, int(minor), int(transactions))
        _fold(per[specialist_id] if specialist_id is not None else purchases, kind,
              account_type, int(minor), int(transactions))
    # payouts belong to no payment: the specialist is the account
    for account_id, minor in session.execute(
            select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_minor))
            .where(*in_month, LedgerEntry.kind == "payout",
                   LedgerEntry.account_type == "specialist")
            .group_by(LedgerEntry.account_id).execution_options(all_brands=True)):
        totals.payouts -= int(minor)
        per[int(account_id)].payouts -= int(minor)
    direct, ledger_sum = _direct_totals(session, in_month)
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(list(per)))).all())
    specialists = [SpecialistLine(sid, names.get(sid, f"#{sid}"), t)
                   for sid, t in sorted(per.items(), key=lambda kv: (names.get(kv[0], ""),
                                                                     kv[0]))]
    report = Reconciliation(
        brand=brand.slug, month=month, currency=brand.currency, starts_at=start, ends_at=end,
        totals=totals, specialists=specialists, purchases=purchases,
        sessions_by_rule=_sessions_by_rule(session, brand, start, end),
        sponsored=_sponsored(session, brand, in_month), ledger_sum=ledger_sum)
    report.problems = _check(report, direct)
    return report


def _sessions_by_rule(session: Session, brand: BrandConfig, start: datetime,
                      end: datetime) -> dict[str, int]:
    rows = session.execute(
        select(Payment.pricing_rule, func.count(Payment.id))
        .join(Appointment, Appointment.id == Payment.appointment_id)
        .where(Payment.brand_id == brand.slug, Appointment.start_at >= start,
               Appointment.start_at < end, Appointment.status.in_(HELD_STATUSES))
        .group_by(Payment.pricing_rule).order_by(Payment.pricing_rule)
        .execution_options(all_brands=True))
    return {rule: int(n) for rule, n in rows}


def _sponsored(session: Session, brand: BrandConfig, in_month: tuple) -> list[SponsoredLine]:
    rows = session.execute(
        select(LedgerEntry.account_id, LedgerEntry.kind, func.sum(LedgerEntry.amount_minor),
               func.count(distinct(LedgerEntry.payment_id)))
        .where(*in_month, LedgerEntry.account_type == "organization")
        .group_by(LedgerEntry.account_id, LedgerEntry.kind).execution_options(all_brands=True))
    names = {o.slug: o.name for o in brand.organizations}
    lines: dict[str, SponsoredLine] = {}
    for org, kind, minor, payments in rows:
        line = lines.setdefault(org, SponsoredLine(org, names.get(org, org), 0, 0, 0))
        if kind == "sponsored":
            line.charged -= int(minor)
            line.sessions += int(payments)
        else:
            line.credited += int(minor)
    return [lines[k] for k in sorted(lines)]


def _check(report: Reconciliation, direct: Totals) -> list[str]:
    """Every identity the month must satisfy; an empty list when it reconciles."""
    t, problems = report.totals, []
    if report.ledger_sum != 0:
        problems.append(f"the month's entries sum to {report.ledger_sum}, not 0")
    for name in ("transactions", "gross", "refunds", "disputes", "fees", "specialist_net",
                 "retained", "payouts"):
        if getattr(direct, name) != getattr(t, name):
            problems.append(f"{name}: the report has {getattr(t, name)}, the ledger "
                            f"{getattr(direct, name)}")
    if t.net != t.fees + t.specialist_net + t.retained:
        problems.append(f"net {t.net} != fees {t.fees} + specialists {t.specialist_net} + "
                        f"retained {t.retained}")
    for line in report.specialists:
        s = line.totals
        if s.net != s.fees + s.specialist_net or s.retained != 0:
            problems.append(f"specialist {line.specialist_id}: net {s.net} != fees {s.fees} + "
                            f"share {s.specialist_net} (clearing {s.retained})")
    for name in ("gross", "refunds", "disputes", "fees", "specialist_net", "payouts"):
        parts = sum(getattr(line.totals, name) for line in report.specialists)
        parts += getattr(report.purchases, name)
        if parts != getattr(t, name):
            problems.append(f"{name}: the lines add up to {parts}, the brand has "
                            f"{getattr(t, name)}")
    return problems


def _direct_totals(session: Session, in_month: tuple) -> tuple[Totals, int]:
    """The month's totals straight from the ledger (no join to payments), which the report
    must equal to the cent, and the sum of all the month's entries (zero when balanced)."""
    direct, everything = Totals(), 0
    for kind, account_type, amount, transactions in session.execute(
            select(LedgerEntry.kind, LedgerEntry.account_type,
                   func.sum(LedgerEntry.amount_minor), func.count(LedgerEntry.id))
            .where(*in_month).group_by(LedgerEntry.kind, LedgerEntry.account_type)
            .execution_options(all_brands=True)):
        _fold(direct, kind, account_type, int(amount), int(transactions))
        everything += int(amount)
    return direct, everything


def amount(minor: int, currency: str) -> str:
    """Minor units as a plain decimal for CSV ("1234.50"), exact."""
    return f"{money.to_major(minor, currency):.{money.exponent(currency)}f}"


CSV_COLUMNS = ("section", "key", "name", "transactions", "gross", "fees", "refunds", "disputes",
               "net", "specialist_net", "retained", "payouts", "sessions", "currency")


def to_csv(report: Reconciliation) -> str:
    """The report as CSV: one row per specialist, a ``purchases`` row, the ``brand`` total,
    then sessions per pricing rule and sponsored sessions per organization."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    cur = report.currency

    def money_row(section: str, key: str, name: str, t: Totals) -> list[str]:
        return [section, key, name, str(t.transactions), amount(t.gross, cur),
                amount(t.fees, cur), amount(t.refunds, cur), amount(t.disputes, cur),
                amount(t.net, cur), amount(t.specialist_net, cur), amount(t.retained, cur),
                amount(t.payouts, cur), "", cur]

    for line in report.specialists:
        writer.writerow(money_row("specialist", str(line.specialist_id), line.name,
                                  line.totals))
    writer.writerow(money_row("purchases", "", "", report.purchases))
    writer.writerow(money_row("brand", report.brand, report.month, report.totals))
    for rule, n in report.sessions_by_rule.items():
        writer.writerow(["sessions", rule, "", "", "", "", "", "", "", "", "", "", str(n), cur])
    for sp in report.sponsored:
        writer.writerow(["sponsored", sp.organization, sp.name, "", amount(sp.charged, cur), "",
                         amount(sp.credited, cur), "", amount(sp.to_invoice, cur), "", "", "",
                         str(sp.sessions), cur])
    return out.getvalue()


def to_text(report: Reconciliation) -> str:
    """The report for a terminal."""
    cur = report.currency

    def row(label: str, t: Totals) -> str:
        return (f"{label[:28]:28} {t.transactions:6d} {amount(t.gross, cur):>12} "
                f"{amount(t.fees, cur):>11} {amount(t.refunds + t.disputes, cur):>11} "
                f"{amount(t.net, cur):>12} {amount(t.specialist_net, cur):>12} "
                f"{amount(t.payouts, cur):>11}")

    lines = [f"{report.brand} {report.month} ({cur}), "
             f"{report.starts_at:%Y-%m-%d %H:%M}Z to {report.ends_at:%Y-%m-%d %H:%M}Z",
             f"{'':28} {'trans.':>6} {'gross':>12} {'fees':>11} {'refunds':>11} "
             f"{'net':>12} {'specialists':>12} {'payouts':>11}"]
    lines += [row(line.name, line.totals) for line in report.specialists]
    if report.purchases.transactions:
        lines.append(row("(packages, subscriptions)", report.purchases))
    lines.append(row("TOTAL", report.totals))
    lines.append("sessions by pricing rule: " + (", ".join(
        f"{rule} {n}" for rule, n in report.sessions_by_rule.items()) or "none"))
    for sp in report.sponsored:
        lines.append(f"sponsored by {sp.name}: {sp.sessions} session(s), to invoice "
                     f"{amount(sp.to_invoice, cur)} {cur}")
    lines.append("reconciles with the ledger" if report.reconciles
                 else "DOES NOT RECONCILE: " + "; ".join(report.problems))
    return "\n".join(lines) + "\n"
