"""Stripe webhook benchmark (run by hand, not by pytest): events processed per second on
PostgreSQL, through the whole request path (Host routing to the brand app, signature check on
the raw body, the unique event row and the effect in one transaction, commit).

    .venv/bin/python bench/webhooks.py [--pg postgresql://postgres@127.0.0.1:5432/postgres]
                                       [--payments 2000] [--threads 1,4,8]

Each payment gets one ``checkout.session.completed`` (payment confirmed, 6 ledger entries) and
every event is delivered twice more (Stripe retries: answered "duplicate", nothing written).
A fresh PostgreSQL database beside the one --pg names is used and dropped at the end. Outgoing
Stripe calls go through the tests' recording client (none are expected: the events carry all
they need), so nothing reaches the internet.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from werkzeug.test import Client  # noqa: E402

from bench.platforms import open_platform, postgres_database  # noqa: E402
from engine import clock  # noqa: E402
from engine.db import brand_session  # noqa: E402
from engine.identity import services as identity  # noqa: E402
from engine.platform import Platform  # noqa: E402
from modules.booking.models import Appointment, AppointmentType  # noqa: E402
from modules.payments.models import LedgerEntry, Payment  # noqa: E402
from modules.payments.models_stripe import StripeEvent  # noqa: E402
from modules.payments.stripe_client import use_http_client  # noqa: E402
from tests.modules.payments.stripe_recorder import RecordingHTTPClient, fixture  # noqa: E402

BRAND = "wellness-corp"
HOST = "wellness.localhost"
SECRET = "whsec_bench"
URL = "/payments/stripe/webhook"


def seed(platform: Platform, n: int, run: int) -> list[tuple[int, str]]:
    """``n`` held payments of confirmed appointments, 50 per specialist, one hour apart."""
    config = platform.brands[BRAND].loaded.config
    payments: list[Payment] = []
    with brand_session(platform.runtime.sessions, BRAND) as session:
        patient = identity.create_user(session, config, role="patient", name="Bench Patient",
                                       email=f"patient{run}@bench.example",
                                       password="bench password 123")
        session.flush()
        start0 = clock.now() + timedelta(days=2 + 7 * run)
        for i in range(n):
            if i % 50 == 0:
                specialist = identity.create_user(
                    session, config, role="specialist", name=f"Specialist {i}",
                    email=f"s{run}-{i}@bench.example", password="bench password 123")
                session.flush()
                kind = AppointmentType(brand_id=BRAND, specialist_id=specialist.id,
                                       name="Session", duration_minutes=50,
                                       modality="video", price_minor=9500, currency="EUR")
                session.add(kind)
                session.flush()
            start = start0 + timedelta(hours=i % 50)
            end = start + timedelta(minutes=50)
            appointment = Appointment(
                brand_id=BRAND, specialist_id=specialist.id, patient_id=patient.id,
                appointment_type_id=kind.id, booked_by_id=patient.id, modality="video",
                start_at=start, end_at=end, blocked_start_at=start, blocked_end_at=end,
                status="confirmed", price_minor=9500, currency="EUR")
            session.add(appointment)
            session.flush()
            payment = Payment(
                brand_id=BRAND, purpose="appointment", appointment_id=appointment.id,
                patient_id=patient.id, specialist_id=specialist.id, amount_minor=9500,
                list_price_minor=9500, platform_fee_minor=1900, currency="EUR",
                status="held", pricing_rule="fixed", provider="stripe",
                provider_mode="platform", idempotency_key=f"{BRAND}:appointment:{appointment.id}",
                checkout_session_id=f"cs_bench_{appointment.id}",
                hold_expires_at=clock.now() + timedelta(hours=2))
            session.add(payment)
            payments.append(payment)
        session.flush()
        ids = [(p.id, str(p.checkout_session_id)) for p in payments]
        session.commit()
    return ids


def body_for(payment_id: int, session_id: str) -> bytes:
    obj = fixture("checkout.session", id=session_id, mode="payment", status="complete",
                  payment_status="paid", amount_total=9500, currency="eur",
                  payment_intent=f"pi_bench_{payment_id}", client_reference_id=str(payment_id),
                  metadata={"payment_id": str(payment_id), "brand": BRAND})
    event = fixture("event", id=f"evt_bench_{payment_id}", type="checkout.session.completed",
                    created=int(time.time()), data={"object": obj})
    return json.dumps(event).encode()


def signature(body: bytes) -> str:
    t = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def deliver_all(platform: Platform, bodies: list[bytes], threads: int) -> tuple[float, dict]:
    """Deliver every body (split over ``threads`` clients); seconds taken and status counts."""
    counts: dict[str, int] = {}
    lock = threading.Lock()
    errors: list[str] = []

    def worker(chunk: list[bytes]) -> None:
        client = Client(platform)
        for body in chunk:
            resp = client.post(URL, data=body, base_url=f"http://{HOST}",
                               headers={"Stripe-Signature": signature(body)},
                               content_type="application/json")
            status = resp.json["status"] if resp.status_code == 200 else str(resp.status_code)
            with lock:
                counts[status] = counts.get(status, 0) + 1
                if resp.status_code != 200 and len(errors) < 3:
                    errors.append(resp.get_data(as_text=True)[:300])

    chunks = [bodies[i::threads] for i in range(threads)]
    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        print("  errors:", *errors, sep="\n    ")
    return elapsed, counts


def process_directly(platform: Platform, bodies: list[bytes]) -> float:
    """The same events through :func:`webhooks.process` and a commit each, without HTTP:
    the cost of the work itself, apart from the web stack."""
    from modules.payments import webhooks

    config = platform.brands[BRAND].loaded.config
    started = time.perf_counter()
    for body in bodies:
        with brand_session(platform.runtime.sessions, BRAND) as session:
            outcome = webhooks.process(session, config, body, signature(body))
            assert outcome.status in ("processed", "duplicate"), outcome
            session.commit()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--threads", default="1,4,8")
    args = parser.parse_args()
    os.environ["WELLNESS_STRIPE_KEY"] = "sk_test_bench"
    os.environ["WELLNESS_STRIPE_WEBHOOK"] = SECRET
    recorder = RecordingHTTPClient()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, postgres_database(args.pg, "webhooks") as url, \
            use_http_client(recorder):
        platform = open_platform(url, Path(tmp))
        for run, threads in enumerate(int(t) for t in args.threads.split(",")):
            ids = seed(platform, args.payments, run)
            fresh = [body_for(pid, sid) for pid, sid in ids]
            seconds, counts = deliver_all(platform, fresh, threads)
            retries = fresh * 2
            retry_seconds, retry_counts = deliver_all(platform, retries, threads)
            rows.append((threads, len(fresh), seconds, counts, len(retries), retry_seconds,
                         retry_counts))
        ids = seed(platform, args.payments, len(rows))
        direct = [body_for(pid, sid) for pid, sid in ids]
        direct_seconds = process_directly(platform, direct)
        direct_dup_seconds = process_directly(platform, direct)
        with brand_session(platform.runtime.sessions, BRAND) as session:
            events = session.scalar(select(func.count(StripeEvent.id)))
            paid = session.scalar(select(func.count(Payment.id)).where(Payment.status == "paid"))
            entries = session.scalar(select(func.count(LedgerEntry.id)))
        platform.runtime.engine.dispose()
    assert recorder.calls == [], "no Stripe call was expected"
    print(f"\nStripe webhooks on PostgreSQL ({args.payments} payments per run)")
    print(f"{'threads':>7}  {'new events/s':>12}  {'duplicates/s':>12}  statuses")
    for threads, n, s, counts, m, rs, rcounts in rows:
        print(f"{threads:>7}  {n / s:>12.0f}  {m / rs:>12.0f}  {counts} / {rcounts}")
    n = args.payments
    print(f"{'direct':>7}  {n / direct_seconds:>12.0f}  {n / direct_dup_seconds:>12.0f}  "
          f"(webhooks.process + commit, no HTTP, 1 thread)")
    print(f"totals: {events} events stored, {paid} payments paid, {entries} ledger entries")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
