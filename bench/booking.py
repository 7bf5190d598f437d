"""Booking benchmark (run by hand, not by pytest): availability speed, "next 3 slots" for 1,000
specialists, and booking throughput on PostgreSQL with the SQL queries per booking.

    .venv/bin/python bench/booking.py [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Temp databases only: a SQLite file in a temp dir, and a fresh PostgreSQL database beside the
one --pg names (dropped at the end). Figures are printed side by side at the end.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench import platforms  # noqa: E402
from bench.platforms import postgres_database  # noqa: E402
from engine import clock  # noqa: E402
from engine.config import BrandConfig  # noqa: E402
from engine.db import brand_session  # noqa: E402
from engine.identity import services as identity  # noqa: E402
from engine.identity.models import User  # noqa: E402
from engine.platform import Platform, settle_heap  # noqa: E402
from engine.privacy import consent  # noqa: E402
from engine.runtime import Runtime  # noqa: E402
from engine.settings import PlatformSettings  # noqa: E402
from engine.web import UserError  # noqa: E402
from modules.booking import BookingSettings, availability, calendar  # noqa: E402
from modules.booking import services as booking  # noqa: E402
from modules.booking.models import (  # noqa: E402
    Appointment,
    AppointmentType,
    Calendar,
)
from modules.booking.schemas import (  # noqa: E402
    AppointmentTypeInput,
    OverrideInput,
    WeeklyRangeInput,
)

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # a Monday, before opening time in Madrid
ACME = "acme-clinic"
KIND = AppointmentTypeInput(name="Session", duration_minutes=30, modality="video",
                            catalog_key="first-visit", slot_interval_minutes=30,
                            max_days_ahead=120)
HOURS = [WeeklyRangeInput(weekday=d, start_minute=8 * 60, end_minute=20 * 60) for d in range(5)]
EIGHT_WEEKS = (NOW, NOW + timedelta(weeks=8))


# --- set-up -----------------------------------------------------------------------------------


@dataclass
class Bench:
    platform: Platform
    brand: BrandConfig

    def session(self) -> Session:
        return brand_session(self.platform.runtime.sessions, ACME)


def open_platform(url: str, data_dir: Path) -> Bench:
    platform = platforms.open_platform(url, data_dir)
    config = platform.brands[ACME].loaded.config
    # the benchmark's patients book many appointments each
    modules = config.modules.model_copy(update={"booking": BookingSettings(
        max_upcoming_per_patient=100)})
    return Bench(platform, config.model_copy(update={"modules": modules}))


def specialist(session: Session, brand: BrandConfig, n: int) -> tuple[User, AppointmentType]:
    user = identity.create_user(session, brand, role="specialist", email=f"s{n}@bench.example",
                                name=f"Specialist {n}", password="bench password 123")
    session.flush()
    calendar.set_calendar_zone(session, user, brand, "Europe/Madrid")
    calendar.set_weekly_rules(session, user, brand, HOURS)
    return user, calendar.save_appointment_type(session, user, brand, KIND)


def patient(session: Session, brand: BrandConfig, n: int) -> User:
    user = identity.create_user(session, brand, role="patient", email=f"p{n}@bench.example",
                                name=f"Patient {n}", password="bench password 123")
    for doc in consent.current_documents(brand):  # as at sign-up (video needs telehealth)
        consent.record(session, user, brand, doc.key, granted=True, method="signup",
                       brands_dir=ROOT / "brands")
    session.flush()
    return user


def grid(weeks: int = 8) -> list[datetime]:
    """Every 30-minute start of the working hours (UTC; Madrid is UTC+1 until Mar 29)."""
    starts = []
    for day in range(weeks * 7):
        d = NOW.date() + timedelta(days=day)
        if d.weekday() >= 5:
            continue
        local = datetime(d.year, d.month, d.day, 8, tzinfo=calendar_zone())
        starts += [(local + timedelta(minutes=30 * k)).astimezone(UTC) for k in range(24)]
    return starts


def calendar_zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Madrid")


def fill(session: Session, brand: BrandConfig, who: User, kind: AppointmentType, payer: User,
         starts: list[datetime]) -> None:
    """Appointments written directly (the set-up, not the measured path)."""
    for start in starts:
        end = start + timedelta(minutes=30)
        session.add(Appointment(
            brand_id=brand.slug, specialist_id=who.id, patient_id=payer.id,
            appointment_type_id=kind.id, booked_by_id=payer.id, modality="video",
            start_at=start, end_at=end, blocked_start_at=start, blocked_end_at=end,
            status="confirmed", price_minor=kind.price_minor, currency=kind.currency))
    session.flush()


def median_ms(call: Callable[[], Any], runs: int) -> float:
    call()  # warm caches (zoneinfo, statements)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


@contextmanager
def counting(engine: Any) -> Iterator[list[int]]:
    seen = [0]

    def count(*args: Any) -> None:
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --- 1. one specialist, 8 weeks, 200 appointments, 3 overrides --------------------------------


def bench_availability(bench: Bench) -> dict[str, float]:
    brand = bench.brand
    with bench.session() as session:
        who, kind = specialist(session, brand, 0)
        payer = patient(session, brand, 0)
        rng = random.Random(1)
        fill(session, brand, who, kind, payer, sorted(rng.sample(grid(), 200)))
        calendar.add_override(session, who, brand, OverrideInput(
            kind="day_off", on_date=date(2026, 3, 11)))
        calendar.add_override(session, who, brand, OverrideInput(
            kind="extra_hours", on_date=date(2026, 3, 14), start_minute=600, end_minute=840))
        calendar.add_override(session, who, brand, OverrideInput(
            kind="time_off", start_at=datetime(2026, 3, 18, 11, tzinfo=UTC),
            end_at=datetime(2026, 3, 19, 15, tzinfo=UTC)))
        session.commit()
        cal = session.scalar(select(Calendar).where(Calendar.specialist_id == who.id))
        assert cal is not None
        weekly = [availability.WeeklyRange(r.weekday, r.start_minute, r.end_minute)
                  for r in calendar.weekly_rules(session, cal)]
        dated = [booking._as_override(o) for o in calendar.overrides(session, cal)]
        existing = booking._calendar_appointments(session, who.id, EIGHT_WEEKS[0] - timedelta(
            days=8), EIGHT_WEEKS[1] + timedelta(days=8))
        rules = booking._rules_of(kind)
        slots = availability.available_slots(cal.timezone, weekly, dated, existing, rules,
                                             *EIGHT_WEEKS, clock.now())
        engine_ms = median_ms(lambda: availability.available_slots(
            cal.timezone, weekly, dated, existing, rules, *EIGHT_WEEKS, clock.now()), 200)
        with exact_path_only():
            assert availability.available_slots(cal.timezone, weekly, dated, existing, rules,
                                                *EIGHT_WEEKS, clock.now()) == slots
            exact_ms = median_ms(lambda: availability.available_slots(
                cal.timezone, weekly, dated, existing, rules, *EIGHT_WEEKS, clock.now()), 200)
        service_ms = median_ms(lambda: booking.available_slots(
            session, brand, who.id, kind.id, *EIGHT_WEEKS), 100)
    return {"slots": len(slots), "engine_ms": engine_ms, "engine_exact_path_ms": exact_ms,
            "service_ms": service_ms}


@contextmanager
def exact_path_only() -> Iterator[None]:
    """The engine as it was before the arithmetic grid: zoneinfo for every slot of every day
    (for the side-by-side figure only)."""
    steady = availability._steady_offset
    availability._steady_offset = lambda day, zone: None  # type: ignore[assignment]
    try:
        yield
    finally:
        availability._steady_offset = steady


# --- 2. next 3 slots for 1,000 specialists -----------------------------------------------------


def bench_next_slots(bench: Bench, n: int = 1000) -> dict[str, float]:
    brand = bench.brand
    with bench.session() as session:
        people = [specialist(session, brand, 1000 + i) for i in range(n)]
        payer = patient(session, brand, 1000)
        rng = random.Random(2)
        starts = grid(2)
        for who, kind in people:  # each specialist is busy on a few of the first slots
            fill(session, brand, who, kind, payer, sorted(rng.sample(starts[:30], 10)))
        session.commit()
    ids = [who.id for who, _ in people]

    def per_specialist() -> int:
        from modules.booking import changes

        with bench.session() as session:
            return sum(len(changes.next_slots(session, brand, i, 3)) for i in ids)

    def batched() -> int:
        """The directory page's read: one batched call for every specialist on it."""
        from modules.booking import batch

        with bench.session() as session:
            found = batch.next_slots_many(session, brand, ids, 3)
            return sum(len(v) for v in found.values())

    t0 = time.perf_counter()
    found = per_specialist()
    per_ms = (time.perf_counter() - t0) * 1000
    engine = bench.platform.runtime.engine
    with counting(engine) as queries:
        per_specialist()
    found_batched = batched()  # a first page warms zoneinfo and the statement caches
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        assert batched() == found_batched
        runs.append((time.perf_counter() - t0) * 1000)
    with counting(engine) as batched_queries:
        batched()
    # the same in a settled process, as the servers run (engine.platform.settle_heap): the
    # difference is the garbage collector walking long-lived objects
    frozen = []
    with settled_heap():
        for _ in range(5):
            t0 = time.perf_counter()
            batched()
            frozen.append((time.perf_counter() - t0) * 1000)
    page = bench_directory_page(bench, people)
    return {"specialists": n, "slots": found, "per_specialist_ms": per_ms,
            "queries": queries[0], "batched_ms": statistics.median(runs),
            "batched_settled_ms": statistics.median(frozen),
            "batched_queries": batched_queries[0], "slots_batched": found_batched, **page}


def bench_directory_page(bench: Bench, people: list[tuple[User, AppointmentType]],
                         ) -> dict[str, float]:
    """The whole directory page as a browser loads it: the list's HTML (1,000 cards, built,
    not served from the anonymous page cache) and the one batched next.json request its
    script makes for the next 3 free times of every card."""
    from werkzeug.test import Client

    from modules.booking import slot_cache
    from modules.directory import page_cache
    from modules.directory import services as directory
    from modules.directory.schemas import ProfileInput

    with bench.session() as session:
        for who, _ in people:
            profile = directory.save_profile(session, who, bench.brand, ProfileInput(
                display_name=who.name, languages=("es",), modalities=("video",)))
            directory.set_visible(session, profile, ACME, True)
        session.commit()
    # the same platform with one page of 1,000 cards (and patients who may book many times)
    brands = Path(tempfile.mkdtemp()) / "brands"
    import shutil

    shutil.copytree(ROOT / "brands", brands)
    acme = brands / f"{ACME}.yaml"
    text_ = acme.read_text().replace("    page_size: 12", "    page_size: 1000", 1)
    assert "page_size: 1000" in text_
    acme.write_text(text_)
    runtime = bench.platform.runtime
    settings = PlatformSettings.from_env(
        brands_dir=brands, themes_dir=ROOT / "themes", data_dir=runtime.settings.data_dir,
        database_url=runtime.settings.database_url, secret_key="bench", redis_url=None,
        smtp_url=None, reload=False, argon2_fast=True)
    platform = Platform(Runtime.create(settings, bind=runtime.engine))
    client = Client(platform)
    ids = ",".join(str(who.id) for who, _ in people)

    def html() -> Any:
        page_cache.pages.clear()  # measure the page being built, not the cache
        return client.get("/specialists/", headers={"Host": "acme.localhost"})

    def slots() -> Any:
        return client.get(f"/appointments/book/next.json?ids={ids}",
                          headers={"Host": "acme.localhost"})

    def check(page: Any, found: Any) -> None:
        """What the browser gets: every card, and three free times for each."""
        assert page.status_code == 200, page.status
        assert page.get_data(as_text=True).count('data-specialist=') == len(people)
        assert found.status_code == 200, found.status
        assert sum(len(v) for v in found.get_json()["specialists"].values()) == 3 * len(people)

    check(html(), slots())  # and warm templates and statement caches

    def whole(cold: bool) -> tuple[float, float, float]:
        """The server's time for the page and its next.json (the werkzeug client reads each
        whole response body); what they hold is checked after the clock stops."""
        if cold:  # every specialist's slots computed, none from the next-slots cache
            slot_cache.slots.clear()
            availability.forget_grids()  # and the day grids the engine keeps
        t0 = time.perf_counter()
        page = html()
        t1 = time.perf_counter()
        found = slots()
        t2 = time.perf_counter()
        check(page, found)
        return (t1 - t0) * 1000, (t2 - t1) * 1000, (t2 - t0) * 1000

    # first as a process whose heap the collector still walks whole, then as the servers run:
    # `cli.py serve` and engine.wsgi settle their start-up heap (engine.platform.settle_heap)
    figures: dict[str, float] = {}
    for settled in (False, True):
        with settled_heap() if settled else nullcontext():
            for cold in (True, False):
                runs = [whole(cold) for _ in range(11)]
                tag = ("cold" if cold else "cached") + ("" if settled else "_unsettled")
                figures[f"page_html_ms_{tag}"] = statistics.median(r[0] for r in runs)
                figures[f"page_next_json_ms_{tag}"] = statistics.median(r[1] for r in runs)
                figures[f"page_whole_ms_{tag}"] = statistics.median(r[2] for r in runs)
    with settled_heap():
        figures.update(served_page(platform, ids, check))
    return figures


def served_page(platform: Platform, ids: str, check: Callable[[Any, Any], None],
                ) -> dict[str, float]:
    """The same page over HTTP, from werkzeug's threaded server as `cli.py serve` runs it
    (a thread of this process, so it shares the benchmark's frozen clock), one connection per
    request as a browser opening the page. Cold here is what a bulk change does to a running
    server: the platform's slots epoch bumped in the database, so every cached entry is stale
    and each specialist is computed again."""
    import http.client
    import threading

    from werkzeug.serving import make_server

    from modules.booking import slot_cache
    from modules.directory import page_cache

    server = make_server("127.0.0.1", 0, platform, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def get(path: str) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        try:
            conn.request("GET", path, headers={"Host": "acme.localhost"})
            resp = conn.getresponse()
            return _Served(resp.status, resp.read())
        finally:
            conn.close()

    def whole(cold: bool) -> tuple[float, float, float]:
        page_cache.pages.clear()  # the page built, not served from its cache
        if cold:
            with platform.runtime.engine.begin() as connection:
                slot_cache.bump_epoch(connection)
        t0 = time.perf_counter()
        page = get("/specialists/")
        t1 = time.perf_counter()
        found = get(f"/appointments/book/next.json?ids={ids}")
        t2 = time.perf_counter()
        check(page, found)
        return (t1 - t0) * 1000, (t2 - t1) * 1000, (t2 - t0) * 1000

    figures: dict[str, float] = {}
    try:
        whole(False)
        for cold in (True, False):
            runs = [whole(cold) for _ in range(11)]
            tag = ("cold" if cold else "cached") + "_http"
            figures[f"page_html_ms_{tag}"] = statistics.median(r[0] for r in runs)
            figures[f"page_next_json_ms_{tag}"] = statistics.median(r[1] for r in runs)
            figures[f"page_whole_ms_{tag}"] = statistics.median(r[2] for r in runs)
    finally:
        server.shutdown()
        server.server_close()
    return figures


@dataclass
class _Served:
    """An HTTP response as :func:`served_page`'s check reads it (the werkzeug test client's
    names)."""

    status_code: int
    body: bytes

    @property
    def status(self) -> str:
        return str(self.status_code)

    def get_data(self, as_text: bool = False) -> Any:
        return self.body.decode() if as_text else self.body

    def get_json(self) -> Any:
        import json

        return json.loads(self.body)


@contextmanager
def settled_heap() -> Iterator[None]:
    """The process as a server runs it after start-up (engine.platform.settle_heap), then as
    it was (the benchmark's next parts measure an ordinary process)."""
    thresholds = gc.get_threshold()
    settle_heap()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


# --- 3. booking throughput on PostgreSQL --------------------------------------------------------


_forked: list[Bench] = []  # the platform a forked client inherits (a Platform is not pickled)


def _forget_connections() -> None:
    """In a forked client: never reuse the parent's pooled connections."""
    _forked[0].platform.runtime.engine.dispose(close=False)


def _client(k: int, ids: list[tuple[int, int]], patient_ids: list[int],
            per_client: int) -> tuple[int, int, list[str]]:
    """One client: ``per_client`` bookings at random times of random specialists."""
    bench = _forked[0]
    rng = random.Random(100 + k)
    starts = grid()
    booked = taken = 0
    errors: list[str] = []
    with bench.session() as session:
        for j in range(per_client):
            sid, tid = rng.choice(ids)
            actor = session.get(User, patient_ids[2 * k + j % 2])
            assert actor is not None
            try:
                booking.book(session, actor, bench.brand, sid, tid, rng.choice(starts))
                session.commit()
                booked += 1
            except UserError as exc:
                session.rollback()
                if exc.code in ("slot_taken", "fully_booked"):
                    taken += 1
                else:
                    errors.append(exc.code)
    return booked, taken, errors


def bench_booking(bench: Bench, clients: int = 8, specialists: int = 50,
                  per_client: int = 150) -> dict[str, float]:
    brand = bench.brand
    with bench.session() as session:
        people = [specialist(session, brand, 5000 + i) for i in range(specialists)]
        patients = [patient(session, brand, 5000 + i) for i in range(clients * 2)]
        session.commit()
    ids = [(who.id, kind.id) for who, kind in people]
    patient_ids = [p.id for p in patients]
    # one process per client (threads would share one GIL and measure Python, not the database)
    context = multiprocessing.get_context("fork")
    _forked[:] = [bench]
    with context.Pool(clients, initializer=_forget_connections) as pool:
        t0 = time.perf_counter()
        answers = pool.starmap(_client, [(k, ids, patient_ids, per_client)
                                         for k in range(clients)])
        seconds = time.perf_counter() - t0
    booked = [a[0] for a in answers]
    taken = [a[1] for a in answers]
    errors = [e for a in answers for e in a[2]]

    # queries of one booking, on an empty calendar and on one with 2,000 appointments
    engine = bench.platform.runtime.engine
    with bench.session() as session:
        (empty, kind_e), (full, kind_f) = (specialist(session, brand, 9000),
                                          specialist(session, brand, 9001))
        payer = patient(session, brand, 9000)
        fill(session, brand, full, kind_f, payer, grid(17)[:2000])
        extra = patient(session, brand, 9001)
        session.commit()
        counts = []
        for who, kind in ((empty, kind_e), (full, kind_f)):
            actor = session.get(User, extra.id)
            assert actor is not None
            when = grid(17)[-1]  # after the 2,000, inside the 120-day horizon
            with counting(engine) as queries:
                booking.book(session, actor, brand, who.id, kind.id, when)
                session.commit()
            counts.append(queries[0])
    total = sum(booked) + sum(taken)
    return {"clients": clients, "specialists": specialists, "requests": total,
            "booked": sum(booked), "taken": sum(taken), "other_errors": len(errors),
            "seconds": seconds, "per_second": total / seconds,
            "queries_empty": counts[0], "queries_2000": counts[1]}


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server to create the temp database on")
    parser.add_argument("--specialists", type=int, default=1000)
    parser.add_argument("--only", choices=("next-slots",),
                        help="run one part (the directory page's next slots on SQLite)")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with clock.freeze(NOW), tempfile.TemporaryDirectory() as tmp:
        sqlite = open_platform(f"sqlite:///{tmp}/bench.db", Path(tmp))
        if args.only is None:
            print("SQLite: availability ...", flush=True)
            results["availability (SQLite)"] = bench_availability(sqlite)
        print(f"SQLite: next 3 slots for {args.specialists} specialists ...", flush=True)
        results["next 3 slots (SQLite)"] = bench_next_slots(sqlite, args.specialists)
        if args.only == "next-slots":
            _report(results)
            return
        with postgres_database(args.pg, "booking") as pg_url:
            pg = open_platform(pg_url, Path(tmp))
            print("PostgreSQL: availability ...", flush=True)
            results["availability (PostgreSQL)"] = bench_availability(pg)
            print("PostgreSQL: booking with 8 clients ...", flush=True)
            results["booking (PostgreSQL)"] = bench_booking(pg)
            pg.platform.runtime.engine.dispose()
    _report(results)


def _report(results: dict[str, dict[str, Any]]) -> None:
    print()
    targets = {"availability (SQLite)": "engine_ms < 5",
               "next 3 slots (SQLite)": "page_whole_ms_cold < 150",
               "availability (PostgreSQL)": "engine_ms < 5",
               "booking (PostgreSQL)": "report; queries must not grow"}
    width = max(len(k) for k in results)
    for name, figures in results.items():
        shown = "  ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in figures.items())
        print(f"{name:<{width}}  {shown}   [target: {targets[name]}]")


if __name__ == "__main__":
    main()
