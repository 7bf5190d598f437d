"""Payments benchmark (run by hand, not by pytest): the time to build a month's reconciliation
of 10,000 appointments on PostgreSQL (target < 2 s).

    .venv/bin/python bench/payments.py [--pg postgresql://postgres@127.0.0.1:5432/postgres]
                                       [--appointments 10000]

A fresh PostgreSQL database beside the one --pg names (dropped at the end). The month is written
in bulk, but every ledger line comes from the ledger's own ``payment_lines`` /
``reversal_lines`` (the same split the services post): 20 specialists, 500 patients, prices
under fixed, first-session, sponsored, member-price and package rules, 12.5 % commission, about
15 % refunded in full or in part and 2 % disputed, weekly payouts, and a month of money on each
side of October so the window matters. The report is checked against the generator's own tally
before it is timed (median of 5 builds).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from engine import clock  # noqa: E402
from engine.config import BrandConfig  # noqa: E402
from engine.config.models import Payments  # noqa: E402
from engine.identity.models import User  # noqa: E402
from modules.booking.models import Appointment, AppointmentType  # noqa: E402
from modules.payments import ledger, money, reports  # noqa: E402
from modules.payments.models import LedgerEntry, Payment  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from booking import ACME, open_platform  # noqa: E402

from bench.platforms import postgres_database  # noqa: E402

START = datetime(2026, 9, 30, 22, 0, tzinfo=UTC)  # October 2026 in Madrid
END = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
RULES = [("fixed", 70), ("first_session", 10), ("sponsored", 10), ("member_price", 5),
         ("package", 5)]


def generate(session: Session, brand: BrandConfig, n_appointments: int,
             seed: int = 11) -> dict[str, int]:
    """Write the month in bulk; return what October's report must say."""
    rng = random.Random(seed)
    pw = "bench-not-a-password"
    users = [{"realm": "network:care-collective", "role": "specialist", "brand_id": None,
              "network": "care-collective", "email": f"s{i}@pay.bench", "name": f"Specialist {i}",
              "password_hash": pw, "session_epoch": 0, "created_at": START} for i in range(20)]
    users += [{"realm": f"brand:{ACME}", "role": "patient", "brand_id": ACME, "network": None,
               "email": f"p{i}@pay.bench", "name": f"Patient {i}", "password_hash": pw,
               "session_epoch": 0, "created_at": START} for i in range(500)]
    ids = list(session.scalars(insert(User).returning(User.id), users))
    specialists, patients = ids[:20], ids[20:]
    type_ids = list(session.scalars(insert(AppointmentType).returning(AppointmentType.id), [{
        "brand_id": ACME, "specialist_id": s, "name": "Session", "duration_minutes": 30,
        "modality": "video", "price_minor": 0, "currency": "EUR", "buffer_before_minutes": 0,
        "buffer_after_minutes": 0, "min_notice_minutes": 0, "max_days_ahead": 60,
        "slot_interval_minutes": 30, "needs_confirmation": False, "bookable_by": "patients",
        "active": True, "created_at": START} for s in specialists]))
    per = -(-n_appointments // 20)
    span = (END - START) + timedelta(days=10)  # some in late September / early November
    step = span / per
    appointments, payments, plans = [], [], []
    fee_pct = brand.payments.commission_percent
    for n in range(n_appointments):
        k = n % 20
        start = START - timedelta(days=5) + step * (n // 20)
        start = start.replace(minute=(start.minute // 30) * 30, second=0, microsecond=0)
        patient = patients[rng.randrange(500)]
        rule = rng.choices([r for r, _ in RULES], [w for _, w in RULES])[0]
        price = rng.choice([6000, 6333, 8000, 9999])
        amount = {"first_session": price - money.percent_of(price, 20), "member_price": 5555,
                  "package": 0}.get(rule, price)
        appointments.append({
            "id": n + 1, "brand_id": ACME, "specialist_id": specialists[k],
            "patient_id": patient, "appointment_type_id": type_ids[k],
            "booked_by_id": patient, "modality": "video", "start_at": start,
            "end_at": start + timedelta(minutes=30), "blocked_start_at": start,
            "blocked_end_at": start + timedelta(minutes=30),
            "status": "cancelled" if rng.random() < 0.02 else "confirmed",
            "price_minor": price, "currency": "EUR", "ics_sequence": 0, "created_at": start})
        paid = rule == "sponsored" or amount == 0 or rng.random() < 0.92
        payments.append({
            "id": n + 1, "brand_id": ACME, "purpose": "appointment", "appointment_id": n + 1,
            "patient_id": patient, "specialist_id": specialists[k],
            "payer": "organization" if rule == "sponsored" else "patient",
            "organization": "acme-madrid" if rule == "sponsored" else None,
            "amount_minor": amount, "list_price_minor": price,
            "platform_fee_minor": money.percent_of(amount, fee_pct), "refunded_minor": 0,
            "currency": "EUR", "status": "paid" if paid else "pending", "pricing_rule": rule,
            "provider": "manual", "idempotency_key": f"bench:{n + 1}",
            "paid_at": start - timedelta(hours=2) if paid else None,
            "created_at": start - timedelta(hours=3), "updated_at": start})
        plans.append((paid, rng.random(), rng.randint(1, 48)))
    session.execute(insert(Appointment), appointments)
    session.execute(insert(Payment), payments)
    entries: list[dict] = []
    tally: Counter[str] = Counter()
    for row, (paid, roll, hours) in zip(payments, plans, strict=True):
        if not paid or row["amount_minor"] == 0:
            continue
        p = Payment(**{k: v for k, v in row.items()})
        at = row["paid_at"]
        _add(entries, p, ledger.payment_lines(p), f"payment:{p.id}", at)
        if START <= at < END:
            tally["gross"] += p.amount_minor
        when = at + timedelta(hours=hours)
        if roll < 0.15:
            part = p.amount_minor if roll < 0.08 else p.amount_minor // 3
            _add(entries, p, ledger.reversal_lines(p, part, "refund"), f"refund:{p.id}", when)
            p.refunded_minor += part
            tally["refunds"] += part if START <= when < END else 0
        elif roll < 0.17:
            _add(entries, p, ledger.reversal_lines(p, p.amount_minor, "dispute"),
                 f"dispute:{p.id}", when)
            tally["disputes"] += p.amount_minor if START <= when < END else 0
    for k, s in enumerate(specialists):
        for week in range(4):
            at = START + timedelta(days=7 * week + 1, hours=k)
            lines = [ledger.Line("payout", "specialist", str(s), -5000),
                     ledger.Line("payout", "external", "bank", 5000)]
            _add(entries, None, lines, f"payout:{s}:{week}", at)
    for i in range(0, len(entries), 5000):
        session.execute(insert(LedgerEntry), entries[i:i + 5000])
    session.commit()
    tally["entries"] = len(entries)
    return dict(tally)


def _add(entries: list[dict], payment: Payment | None, lines: list[ledger.Line], key: str,
         at: datetime) -> None:
    entries.extend({"brand_id": ACME, "payment_id": payment.id if payment else None,
                    "transaction_key": key, "kind": line.kind,
                    "account_type": line.account_type, "account_id": line.account_id,
                    "amount_minor": line.amount_minor, "currency": "EUR", "created_at": at}
                   for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--appointments", type=int, default=10_000)
    args = parser.parse_args()
    with clock.freeze(datetime(2026, 11, 3, tzinfo=UTC)), tempfile.TemporaryDirectory() as tmp, \
            postgres_database(args.pg, "payments") as url:
        bench = open_platform(url, Path(tmp))
        brand = bench.brand.model_copy(update={"payments": Payments(commission_percent="12.5")})
        with bench.session() as session:
            began = time.perf_counter()
            tally = generate(session, brand, args.appointments)
            print(f"generated {args.appointments} appointments, {tally['entries']} ledger "
                  f"entries in {time.perf_counter() - began:.1f}s", flush=True)
            session.execute(text("ANALYZE"))
            session.commit()
        timings = []
        for _ in range(5):
            with bench.session() as session:
                began = time.perf_counter()
                report = reports.reconcile(session, brand, "2026-10")
                timings.append(time.perf_counter() - began)
        t = report.totals
        assert report.reconciles, report.problems
        assert (t.gross, t.refunds, t.disputes) == (tally["gross"], tally.get("refunds", 0),
                                                    tally.get("disputes", 0)), (t, tally)
        sessions = sum(report.sessions_by_rule.values())
        print(f"October: {t.transactions} transactions, {sessions} sessions, gross "
              f"{reports.amount(t.gross, 'EUR')} EUR, fees {reports.amount(t.fees, 'EUR')}, "
              f"refunds {reports.amount(t.refunds, 'EUR')}, disputes "
              f"{reports.amount(t.disputes, 'EUR')}, net {reports.amount(t.net, 'EUR')}; "
              f"reconciles with the ledger and the generator's tally")
        print(f"reconciliation of {args.appointments} appointments (PostgreSQL): median "
              f"{statistics.median(timings) * 1000:.0f} ms, best {min(timings) * 1000:.0f} ms "
              f"[target < 2000 ms]")
        bench.platform.runtime.engine.dispose()


if __name__ == "__main__":
    main()
