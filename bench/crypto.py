"""Field-encryption benchmark (run by hand, not by pytest): the cost of decrypting intake answers
on the specialist's appointment page, and key rotation rows/second.

    .venv/bin/python bench/crypto.py [--pg postgresql://postgres@127.0.0.1:5432/postgres]
                                     [--requests 400] [--rows 20000] [--batch-size 500]

Page: requests/second of ``/specialist/calendar/appointments/<id>`` (signed in as its
specialist, 12 answered intake questions), served in-process by the brand app (werkzeug test
client, one thread), alternating rounds of the two modes in the same run:

- ``encrypted``: the real path (token read, AES-GCM decrypt, JSON decode on every request);
- ``plaintext``: identical, except that ``engine.crypto.decrypt_value`` returns the plaintext
  bytes from a dict (no base64, no AES-GCM): what a plaintext JSON column costs.

Rotation: ``--rows`` assistance requests encrypted under one key, then ``rotate`` to a new key
in ``--batch-size`` batches; rows/second of the whole run (read, decrypt, encrypt, update,
commit per batch). Temp databases only (a SQLite file; a fresh PostgreSQL database beside the
one --pg names, dropped at the end).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="daraport-bench-crypto-"))
os.environ["DARAPORT_KEY_FILE"] = str(WORK / "keyring.json")  # before the keyring is read
os.environ.pop("DARAPORT_KEYRING", None)

from sqlalchemy import insert  # noqa: E402

from bench.platforms import open_platform, postgres_database  # noqa: E402
from engine import clock, crypto, crypto_keys  # noqa: E402
from engine.db import brand_session  # noqa: E402
from engine.identity import services as identity  # noqa: E402
from engine.platform import Platform  # noqa: E402
from modules.assisted.models import AssistanceRequest  # noqa: E402
from modules.booking import calendar  # noqa: E402
from modules.booking import services as booking  # noqa: E402
from modules.booking.models_intake import IntakeAnswers  # noqa: E402
from modules.booking.schemas import AppointmentTypeInput, WeeklyRangeInput  # noqa: E402
from tests.conftest import BrandClient  # noqa: E402

ACME = "acme-clinic"
HOST = "acme.localhost"
PASSWORD = "bench password 123"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MONDAY_9 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
KIND = AppointmentTypeInput(name="Session", duration_minutes=60, modality="in_person",
                            location="Calle Mayor 1", catalog_key="first-visit",
                            slot_interval_minutes=60)
ANSWERS = [{"key": f"q{i}", "label": f"Question {i}: how have you been sleeping lately?",
            "type": "text", "values": [f"answer {i}: " + "some words about it " * 8],
            "value_labels": []} for i in range(12)]


def page_setup(platform: Platform) -> tuple[str, str]:
    """A specialist, a booked appointment with intake answers; (specialist email, page path)."""
    brand = platform.brands[ACME].loaded.config
    with brand_session(platform.runtime.sessions, None) as session:
        spec = identity.create_user(session, brand, role="specialist", name="Dr Bench",
                                    email="spec@bench.example", password=PASSWORD)
        patient = identity.create_user(session, brand, role="patient", name="Pat Bench",
                                       email="pat@bench.example", password=PASSWORD)
        calendar.set_calendar_zone(session, spec, brand, "Europe/Madrid")
        calendar.set_weekly_rules(session, spec, brand, [WeeklyRangeInput(
            weekday=0, start_minute=540, end_minute=1020)])
        kind = calendar.save_appointment_type(session, spec, brand, KIND)
        session.flush()
        with clock.freeze(NOW):
            appt = booking.book(session, patient, brand, spec.id, kind.id, MONDAY_9)
        session.add(IntakeAnswers(brand_id=ACME, appointment_id=appt.id, source="intake_form",
                                  form_key="first", answers=ANSWERS))
        session.commit()
        return spec.email, f"/specialist/calendar/appointments/{appt.id}"


@contextmanager
def plaintext_reads() -> Iterator[None]:
    """``decrypt_value`` answering from a dict of plaintexts: the page without AES-GCM."""
    real = crypto.decrypt_value
    known: dict[str, bytes] = {}

    def lookup(token: str, context: str, ring: Any = None) -> bytes:
        if token not in known:
            known[token] = real(token, context, ring)
        return known[token]

    crypto.decrypt_value = lookup  # type: ignore[assignment]
    try:
        yield
    finally:
        crypto.decrypt_value = real  # type: ignore[assignment]


def bench_page(platform: Platform, requests: int) -> dict[str, float]:
    email, path = page_setup(platform)
    client = BrandClient(platform, HOST)
    page = client.get("/account/signin").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'name="csrf-token" content="([^"]+)"', page)
    assert csrf, "no CSRF token on the sign-in page"
    signed = client.post("/account/signin", data={"email": email, "password": PASSWORD,
                                                  "csrf_token": csrf.group(1)})
    assert signed.status_code in (302, 303), signed.status_code
    with clock.freeze(NOW):
        first = client.get(path)
        assert first.status_code == 200 and "some words about it" in first.get_data(
            as_text=True), first.status_code
        rates: dict[str, list[float]] = {"encrypted": [], "plaintext": []}
        per_round = max(requests // 10, 1)
        for _ in range(10):  # alternate the modes: drift hits both alike
            for mode in ("encrypted", "plaintext"):
                ctx = plaintext_reads() if mode == "plaintext" else _nothing()
                with ctx:
                    client.get(path)  # warm
                    t0 = time.perf_counter()
                    for _ in range(per_round):
                        r = client.get(path)
                        assert r.status_code == 200
                    rates[mode].append(per_round / (time.perf_counter() - t0))
    return {mode: statistics.median(v) for mode, v in rates.items()}


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def bench_decrypt(n: int = 20000) -> float:
    spec = crypto.EncryptedColumn("booking_intake_answers", "answers", "json")
    token = spec.seal(ANSWERS, "s" * 32)
    t0 = time.perf_counter()
    for _ in range(n):
        spec.open(token, "s" * 32)
    return n / (time.perf_counter() - t0)


def bench_rotation(platform: Platform, rows: int, batch_size: int) -> tuple[float, int]:
    brand = platform.brands[ACME].loaded.config
    factory = platform.runtime.sessions
    with brand_session(factory, None) as session:
        patient = identity.create_user(session, brand, role="patient", name="Rot Bench",
                                       email="rot@bench.example", password=PASSWORD)
        session.commit()
        spec = crypto.REGISTRY["assisted_request.needs"]
        now = clock.now()
        for start in range(0, rows, 5000):
            values = []
            for n in range(start, min(start + 5000, rows)):
                seal = crypto.new_seal()
                values.append({
                    "brand_id": ACME, "patient_id": patient.id, "submitted_by_id": patient.id,
                    "needs_sealed": spec.seal(f"request {n}: support after a bereavement", seal),
                    "seal": seal, "language": None, "modality": "any", "time_windows": [],
                    "timezone": "Europe/Madrid", "urgency": "routine", "status": "cancelled",
                    "created_at": now, "updated_at": now})
            session.execute(insert(AssistanceRequest), values)
            session.commit()
    kid = crypto_keys.generate_key()
    crypto_keys.make_primary(kid)
    result = crypto_keys.rotate(factory, batch_size=batch_size)
    return result.rows / result.seconds, result.rows


def run(url: str, label: str, args: argparse.Namespace) -> dict[str, Any]:
    platform = open_platform(url, WORK / "data")
    out: dict[str, Any] = {"database": label, "encrypted": float("nan"),
                           "plaintext": float("nan")}
    if not args.skip_page:
        print(f"{label}: appointment page, {args.requests} requests per mode", file=sys.stderr)
        out.update(bench_page(platform, args.requests))
    print(f"{label}: rotation of {args.rows} rows", file=sys.stderr)
    out["rotation_rows_per_s"], out["rotated"] = bench_rotation(platform, args.rows,
                                                               args.batch_size)
    platform.runtime.engine.dispose()
    return out


def main() -> None:
    crypto.write_key_file(Path(os.environ["DARAPORT_KEY_FILE"]), crypto.Keyring.generate())
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", help="a PostgreSQL URL (a temp database is made beside it)")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--skip-page", action="store_true", help="rotation figures only")
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    results = [] if args.skip_sqlite else [run(f"sqlite:///{WORK / 'bench.db'}", "sqlite",
                                                args)]
    if args.pg:
        with postgres_database(args.pg, "crypto") as url:
            results.append(run(url, "postgresql", args))
    print(f"\ndecrypt of 12 intake answers alone: {bench_decrypt():,.0f} per second")
    print(f"{'database':<11} {'page enc r/s':>13} {'page plain r/s':>15} {'cost':>7} "
          f"{'rotation rows/s':>16} {'rows':>7}")
    for r in results:
        cost = 100 * (1 - r["encrypted"] / r["plaintext"])
        print(f"{r['database']:<11} {r['encrypted']:>13.0f} {r['plaintext']:>15.0f} "
              f"{cost:>6.1f}% {r['rotation_rows_per_s']:>16,.0f} {r['rotated']:>7}")


if __name__ == "__main__":
    main()
