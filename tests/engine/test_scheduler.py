"""The engine's scheduler: periods on the UTC clock, one run per period and job however many
schedulers race for it (threads on separate connections, committed rows), a restart that
remembers, a failing job that stops nothing, the declared jobs and the CLI."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from engine import clock, scheduler
from engine.cli import main
from engine.db import brand_session, make_engine, make_sessionmaker
from engine.modules import Module, ModuleRegistry, Periodic
from engine.platform import Platform
from engine.privacy.jobs import privacy_sweep
from engine.runtime import set_current
from engine.scheduler import ENGINE, Scheduled, period_of, run_due
from engine.scheduler_models import PeriodicRun
from modules.booking import module as booking
from modules.booking.jobs import advance_waitlists
from modules.booking.reminders import sweep_reminders
from modules.messaging.attachments import sweep_orphan_files
from modules.payments import module as payments
from modules.payments.holds import expire_holds

T = datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)  # half a minute into 09:00
MINUTE = timedelta(minutes=1)


def _job(calls: list[str], *, every: timedelta = MINUTE, owner: str = ENGINE,
         fail: bool = False, name: str | None = None) -> Scheduled:
    """A periodic job recording each run in ``calls`` (raising after it when ``fail``)."""
    name = name or f"test.job_{uuid.uuid4().hex[:8]}"

    def job() -> None:
        calls.append(name)
        if fail:
            raise RuntimeError("the job broke")

    return Scheduled(owner, Periodic(name, every, job))


def _row(session: Session, name: str) -> PeriodicRun:
    row = session.scalar(select(PeriodicRun).where(PeriodicRun.name == name)
                         .execution_options(populate_existing=True))
    assert row is not None
    return row


# --- declarations ------------------------------------------------------------------------------


def test_the_declared_jobs_are_booking_payments_messaging_and_privacy_retention() -> None:
    jobs = {job.name: job for job in scheduler.declared()}
    expected = {
        "booking.reminders": ("booking", MINUTE, sweep_reminders),
        "booking.waitlist": ("booking", MINUTE, advance_waitlists),
        "payments.expire-holds": ("payments", MINUTE, expire_holds),
        "messaging.orphan-files": ("messaging", timedelta(days=1), sweep_orphan_files),
        "privacy.retention": (ENGINE, timedelta(days=1), privacy_sweep),
    }
    assert {name: (j.owner, j.every, j.periodic.job) for name, j in jobs.items()
            if name in expected} == expected
    # the older `jobs` field still lists the job functions
    assert sweep_reminders in booking.jobs and expire_holds in payments.jobs


@pytest.mark.parametrize(("name", "every"), [
    ("Booking.Reminders", MINUTE), ("reminders", MINUTE), ("booking.reminders", timedelta(0)),
    ("booking.reminders", timedelta(milliseconds=1500)), ("booking." + "x" * 100, MINUTE),
])
def test_a_periodic_job_needs_a_dotted_name_and_whole_seconds(name: str,
                                                               every: timedelta) -> None:
    with pytest.raises(ValueError, match="periodic job"):
        Periodic(name, every, sweep_reminders)


def test_a_module_names_its_periodic_jobs_after_itself_and_once() -> None:
    job = Periodic("other.sweep", MINUTE, sweep_reminders)
    with pytest.raises(ValueError, match="must start with 'demo.'"):
        Module("demo", "Demo", periodic=(job,))
    twice = Periodic("demo.sweep", MINUTE, sweep_reminders)
    with pytest.raises(ValueError, match="declared twice"):
        Module("demo", "Demo", periodic=(twice, twice))


def test_two_owners_of_one_job_name_are_refused() -> None:
    clash = Module("privacy", "Privacy",
                   periodic=(Periodic("privacy.retention", MINUTE, sweep_reminders),))
    with pytest.raises(RuntimeError, match="declared by both engine and privacy"):
        scheduler.declared(ModuleRegistry({"privacy": clash}))


# --- due-ness ----------------------------------------------------------------------------------


def test_periods_fall_on_the_utc_clock() -> None:
    assert period_of(T, MINUTE) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert period_of(T, timedelta(days=1)) == datetime(2026, 3, 2, tzinfo=UTC)
    assert period_of(T, timedelta(minutes=15)) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    # a time in another zone is the same instant: its period is still the UTC one
    madrid = datetime(2026, 3, 2, 11, 59, 30, tzinfo=ZoneInfo("Europe/Madrid"))  # 10:59:30 UTC
    assert period_of(madrid, timedelta(hours=1)) == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert period_of(madrid, timedelta(days=1)) == datetime(2026, 3, 2, tzinfo=UTC)


def test_a_job_runs_once_per_period(db: Session) -> None:
    calls: list[str] = []
    job = _job(calls)
    with clock.freeze(T):
        assert [o.outcome for o in run_due([job])] == ["ok"]
    with clock.freeze(T + timedelta(seconds=29)):  # 09:00:59, the same period
        assert run_due([job]) == []
    with clock.freeze(T + timedelta(seconds=30)):  # 09:01:00
        assert [o.period_start for o in run_due([job])] == [T.replace(second=0) + MINUTE]
    assert calls == [job.name, job.name]
    row = _row(db, job.name)
    assert (row.outcome, row.started_at, row.period_start) == (
        "ok", T + timedelta(seconds=30), datetime(2026, 3, 2, 9, 1, tzinfo=UTC))


def test_a_long_stop_runs_a_job_once_not_once_per_missed_period(db: Session) -> None:
    calls: list[str] = []
    job = _job(calls)
    run_due([job], T)
    assert len(run_due([job], T + timedelta(days=3))) == 1
    assert len(calls) == 2


def test_a_failing_job_does_not_stop_the_others_and_the_next_period_retries(
        db: Session) -> None:
    calls: list[str] = []
    broken, fine = _job(calls, fail=True, name="test.a_broken"), _job(calls, name="test.b_fine")
    outcomes = run_due([broken, fine], T)
    assert [(o.name, o.outcome, o.detail) for o in outcomes] == [
        ("test.a_broken", "failed", "RuntimeError"), ("test.b_fine", "ok", None)]
    assert (_row(db, broken.name).outcome, _row(db, broken.name).detail) == (
        "failed", "RuntimeError")  # the type only: an error's message may quote personal data
    assert run_due([broken, fine], T + timedelta(seconds=10)) == []  # not again this period
    assert [o.name for o in run_due([broken, fine], T + MINUTE)] == [broken.name, fine.name]
    assert calls == [broken.name, fine.name, broken.name, fine.name]


def test_an_interrupted_job_is_recorded_and_the_interrupt_stops_the_scheduler(
        db: Session) -> None:
    def stopped() -> None:
        raise KeyboardInterrupt

    job = Scheduled(ENGINE, Periodic("test.stopped", MINUTE, stopped))
    with pytest.raises(KeyboardInterrupt):
        run_due([job], T)
    assert _row(db, job.name).outcome == "interrupted"


def test_only_the_jobs_of_modules_on_for_some_brand_run(db: Session) -> None:
    calls: list[str] = []
    on, off, engine_job = _job(calls, owner="booking"), _job(calls, owner="nowhere"), _job(calls)
    assert {o.name for o in scheduler.tick(T, jobs=[on, off, engine_job])} == {
        on.name, engine_job.name}
    assert off.name not in calls


def test_the_loop_ticks_until_max_runs_sleeping_in_short_steps(
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    slept: list[float] = []
    ticks: list[int] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(scheduler, "tick", lambda: ticks.append(1) or [])
    assert scheduler.run_loop(2.5, max_runs=3, sleep=sleep, monotonic=lambda: now[0]) == 3
    assert len(ticks) == 3 and slept == [1.0, 1.0, 0.5, 1.0, 1.0, 0.5]


# --- with Redis: the job goes to rq ------------------------------------------------------------


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"),
                    reason="TEST_REDIS_URL is not set: no Redis server for the rq test")
def test_with_redis_a_due_job_is_enqueued_not_run(db: Session, platform: Platform) -> None:
    from redis import Redis
    from rq import Queue

    url = os.environ["TEST_REDIS_URL"]
    rt = platform.runtime
    original = rt.settings
    rt.settings = replace(original, redis_url=url)
    job = Scheduled("booking", Periodic("test.rq_waitlist", MINUTE, advance_waitlists))
    try:
        [outcome] = run_due([job], T)
    finally:
        rt.settings = original
    assert outcome.outcome == "queued" and outcome.detail and outcome.detail.startswith("rq job")
    job_id = outcome.detail.removeprefix("rq job ")
    with Redis.from_url(url) as conn:
        queued = Queue("default", connection=conn).fetch_job(job_id)
        assert queued is not None
        assert queued.func_name == "modules.booking.jobs.advance_waitlists"
        queued.delete()
    assert _row(db, job.name).outcome == "queued"


# --- several schedulers, committed rows, separate connections ----------------------------------


@pytest.fixture
def committed(platform: Platform, db_engine: Engine) -> Iterator[Callable[[str], None]]:
    """Tests whose scheduler rows really commit: ``forget(name)`` deletes them afterwards."""
    set_current(platform.runtime)
    names: list[str] = []
    yield names.append
    with brand_session(make_sessionmaker(db_engine), None) as s:
        s.execute(delete(PeriodicRun).where(PeriodicRun.name.in_(names)))
        s.commit()


def test_two_schedulers_racing_run_each_job_once_per_period(
        db_engine: Engine, committed: Callable[[str], None]) -> None:
    lock = threading.Lock()
    runs: list[tuple[str, datetime]] = []
    current_period: list[datetime] = [T]

    def job_recording(name: str) -> Scheduled:
        def job() -> None:
            with lock:
                runs.append((name, current_period[0]))

        committed(name)
        return Scheduled(ENGINE, Periodic(name, MINUTE, job))

    tag = uuid.uuid4().hex[:8]
    jobs = [job_recording(f"test.race_{tag}_{i}") for i in range(3)]
    periods = [T + i * MINUTE for i in range(5)]
    barrier = threading.Barrier(2)
    started: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def scheduler_thread(index: int) -> None:
        sessions = make_sessionmaker(db_engine)  # its own connection from the pool
        try:
            for now in periods:
                barrier.wait(10)
                current_period[0] = now  # both threads write the same value
                started[index] += [o.name for o in run_due(jobs, now, sessions=sessions)]
        except BaseException as exc:  # reported by the main thread
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=scheduler_thread, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(runs) == sorted((job.name, now) for job in jobs for now in periods)
    assert len(started[0]) + len(started[1]) == len(jobs) * len(periods)


def test_while_a_job_runs_another_scheduler_does_not_start_it(
        db_engine: Engine, committed: Callable[[str], None]) -> None:
    inside, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> None:
        calls.append(1)
        inside.set()
        assert release.wait(10)

    name = f"test.slow_{uuid.uuid4().hex[:8]}"
    committed(name)
    job = Scheduled(ENGINE, Periodic(name, MINUTE, slow))
    first = threading.Thread(target=run_due, args=([job], T),
                             kwargs={"sessions": make_sessionmaker(db_engine)})
    first.start()
    try:
        assert inside.wait(10)
        sessions = make_sessionmaker(db_engine)
        assert run_due([job], T + timedelta(seconds=5), sessions=sessions) == []
        with brand_session(sessions, None) as s:
            assert _row(s, name).outcome == "running"
    finally:
        release.set()
        first.join(10)
    assert calls == [1]


def test_a_restarted_scheduler_keeps_the_last_run(
        db_url: str, committed: Callable[[str], None]) -> None:
    calls: list[str] = []
    job = _job(calls)
    committed(job.name)
    for offset, expected in ((timedelta(0), 1), (timedelta(seconds=20), 1), (MINUTE, 2)):
        process = make_engine(db_url)  # a new process: its own engine and connections
        try:
            run_due([job], T + offset, sessions=make_sessionmaker(process))
        finally:
            process.dispose()
        assert len(calls) == expected


# --- the CLI -----------------------------------------------------------------------------------


def test_scheduler_once_runs_the_declared_jobs_and_status_shows_them(
        db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    with clock.freeze(T):
        ran = runner.invoke(main, ["scheduler", "--once"])
    assert ran.exit_code == 0, ran.output
    assert "run by this process; Ctrl-C stops" in ran.output
    for name in ("booking.reminders", "booking.waitlist", "payments.expire-holds",
                 "messaging.orphan-files", "privacy.retention"):
        assert f"{name}: ok" in ran.output
    assert "stopped after 1 run(s)" in ran.output
    # payments off everywhere, as far as the scheduler can tell
    monkeypatch.setattr(scheduler, "enabled_modules", lambda rt=None: {"booking"})
    with clock.freeze(T + timedelta(seconds=20)):  # 09:00:50
        shown = runner.invoke(main, ["scheduler", "status"])
    assert shown.exit_code == 0, shown.output
    lines = {line.split()[0]: line.split("  ") for line in shown.output.splitlines()}
    cells = {name: [c.strip() for c in cols if c.strip()] for name, cols in lines.items()}
    assert cells["JOB"] == ["JOB", "OWNER", "EVERY", "LAST RUN (UTC)", "OUTCOME",
                            "NEXT DUE (UTC)"]
    assert cells["booking.reminders"] == ["booking.reminders", "booking", "1 minute",
                                          "2026-03-02 09:00:30", "ok", "2026-03-02 09:01:00"]
    assert cells["privacy.retention"] == ["privacy.retention", "engine", "1 day",
                                          "2026-03-02 09:00:30", "ok", "2026-03-03 00:00:00"]
    assert cells["payments.expire-holds"][-1] == "off: payments is on for no brand"
    with clock.freeze(T + timedelta(seconds=90)):
        later = runner.invoke(main, ["scheduler", "status"])
    assert "1 minute  2026-03-02 09:00:30  ok       now" in later.output


def test_the_booking_scheduler_alias_runs_the_scheduler_and_says_it_moved(db: Session) -> None:
    with clock.freeze(T):
        result = CliRunner().invoke(main, ["booking", "scheduler", "--max-runs", "1"])
    assert result.exit_code == 0, result.output
    assert "is now `cli.py scheduler`" in result.stderr
    assert "privacy.retention: ok" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--once", "--max-runs", "2"], "--once is --max-runs 1: give one of them"),
    (["--interval", "0"], "0.0 is not in the range 1<=x<=3600"),
    (["--max-runs", "0"], "0 is not in the range x>=1"),
    (["--interval", "5", "status"], "--interval: options of running the scheduler"),
    (["statuss"], "No such command 'statuss'"),
])
def test_bad_scheduler_arguments_are_clear_usage_errors(args: list[str], message: str,
                                                         db: Any) -> None:
    result = CliRunner().invoke(main, ["scheduler", *args])
    assert result.exit_code == 2 and message in result.output, result.output
