"""The scheduler: starts each periodic job once per period, however many schedulers run.

What runs: the engine's own periodic work (:data:`ENGINE_PERIODIC`) and each module's
``Module.periodic`` while the module is on for at least one brand (read from the brand files at
every tick, so an operator's toggle counts at the next one). A job decides per brand itself, as
it did under cron: the scheduler passes it nothing.

When: periods are aligned to the UTC clock (a one-minute job's periods start on the minute, a
daily job's at 00:00 UTC), so every scheduler agrees which period it is. A job is due when its
current period has not been claimed yet. Claiming is one conditional UPDATE of the job's row in
``scheduler_periodic_run`` that moves ``period_start`` forward only while it is behind,
committed before the job starts: of several schedulers, or one restarted, exactly one wins each
period (on PostgreSQL the loser waits on the winner's row lock, then re-checks the WHERE against
the committed row and matches nothing; SQLite has one writer at a time). A scheduler that was
stopped for a while runs a job once for the current period, not once per period missed.

How: with REDIS_URL the job is enqueued for an rq worker (which retries it); without, it runs in
the scheduler's process. A job that raises is logged and recorded as failed, the others still
run, and the next period tries again. A claimed period is never run a second time, even if its
run failed: jobs are idempotent sweeps, so the next period does the work the failed one missed.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine import clock
from engine.db import brand_session
from engine.modules import ModuleRegistry, Periodic
from engine.privacy.jobs import privacy_sweep
from engine.runtime import Runtime, current
from engine.scheduler_models import PeriodicRun

log = logging.getLogger(__name__)

# periods are counted from here, so they fall on UTC minutes, hours and days
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# the owner shown for the engine's own periodic jobs (the others show their module's name)
ENGINE = "engine"
# the loop sleeps in short steps so Ctrl-C and stop requests are answered at once
SLEEP_STEP_SECONDS = 1.0
DEFAULT_INTERVAL_SECONDS = 15.0

ENGINE_PERIODIC: tuple[Periodic, ...] = (
    # retention periods are counted in days; a daily sweep is what `privacy retention` did by cron
    Periodic("privacy.retention", timedelta(days=1), privacy_sweep),
)


@dataclass(frozen=True)
class Scheduled:
    """A declared periodic job and who declared it: a module's name, or ``"engine"``."""

    owner: str
    periodic: Periodic

    @property
    def name(self) -> str:
        return self.periodic.name

    @property
    def every(self) -> timedelta:
        return self.periodic.every


@dataclass(frozen=True)
class RunOutcome:
    """What one claimed period of a job came to: ``ok``, ``failed`` or ``queued``."""

    name: str
    period_start: datetime
    outcome: str
    detail: str | None = None
    seconds: float = 0.0

    def describe(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.name}: {self.outcome}{detail} in {self.seconds:.1f}s"


@dataclass(frozen=True)
class JobStatus:
    """One line of `cli.py scheduler status`."""

    job: Scheduled
    active: bool  # the engine's, or its module is on for at least one brand
    last: PeriodicRun | None
    next_due: datetime


def declared(reg: ModuleRegistry | None = None) -> list[Scheduled]:
    """Every periodic job of the platform, the engine's and each installed module's, by name.

    Raises RuntimeError when two declare the same name: they would share one row, and so one
    period, and one of them would never run.
    """
    reg = reg if reg is not None else current().registry
    found = [Scheduled(ENGINE, p) for p in ENGINE_PERIODIC]
    found += [Scheduled(m.name, p) for m in reg for p in m.periodic]
    owners: dict[str, str] = {}
    for job in found:
        if job.name in owners:
            raise RuntimeError(f"periodic job {job.name!r} is declared by both "
                               f"{owners[job.name]} and {job.owner}")
        owners[job.name] = job.owner
    return sorted(found, key=lambda job: job.name)


def enabled_modules(rt: Runtime | None = None) -> set[str]:
    """Modules on for at least one valid brand file (an invalid file counts for nothing, as it
    serves nothing)."""
    from engine.config import load_brand_set

    rt = rt or current()
    brand_set = load_brand_set(rt.settings.brands_dir, rt.registry, rt.settings.themes_dir)
    return {name for loaded in brand_set.brands.values()
            for name in loaded.config.enabled_modules()}


def is_active(job: Scheduled, enabled: Iterable[str]) -> bool:
    return job.owner == ENGINE or job.owner in set(enabled)


def period_of(now: datetime, every: timedelta) -> datetime:
    """The start of the period of length ``every`` that holds ``now`` (aware)."""
    return EPOCH + ((now - EPOCH) // every) * every


def next_due(last: PeriodicRun | None, every: timedelta, now: datetime) -> datetime:
    """When the job is next due: its current period's start (at or before ``now``: due now)
    if that period is unclaimed, else the start of the period after the claimed one."""
    current_period = period_of(now, every)
    if last is None or last.period_start is None or last.period_start < current_period:
        return current_period
    return last.period_start + every


def runner_id() -> str:
    """Who claimed a period, for operators reading the table: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def claim(session: Session, name: str, period: datetime, now: datetime, runner: str) -> bool:
    """Claim ``period`` of job ``name``: True for exactly one caller per period and job.

    The job's row is created if missing, then moved forward by an UPDATE matching only while
    the row is behind ``period``. The caller commits at once, before running the job, so the
    claim is visible to every other scheduler while the job runs.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:  # SQLite: the INSERT (a write) first takes the one write lock, before anything reads
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    session.execute(insert(PeriodicRun).values(name=name)
                    .on_conflict_do_nothing(index_elements=["name"]))
    result = session.execute(
        update(PeriodicRun)
        .where(PeriodicRun.name == name,
               or_(PeriodicRun.period_start.is_(None), PeriodicRun.period_start < period))
        .values(period_start=period, started_at=now, finished_at=None, outcome="running",
                detail=None, runner=runner)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1  # type: ignore[attr-defined]


def _finish(sessions: sessionmaker[Session], name: str, period: datetime, outcome: str,
            detail: str | None) -> None:
    """Record how the run of ``period`` ended (unless a later period was claimed meanwhile)."""
    with brand_session(sessions, None) as session:
        session.execute(
            update(PeriodicRun)
            .where(PeriodicRun.name == name, PeriodicRun.period_start == period)
            .values(finished_at=clock.now(), outcome=outcome,
                    detail=detail[:200] if detail else None)
            .execution_options(synchronize_session=False))
        session.commit()


def _start(sessions: sessionmaker[Session], job: Scheduled, period: datetime,
           use_rq: bool) -> RunOutcome:
    from engine.jobs import enqueue

    started = time.monotonic()
    outcome, detail = "ok", None
    try:
        if use_rq:
            outcome, detail = "queued", f"rq job {enqueue(job.periodic.job)}"
        else:
            job.periodic.job()
    except Exception as exc:  # one job's failure must not stop the others
        log.exception("periodic job %s failed", job.name)
        # the type only: messages can quote rows (SQL parameters), which may be personal data
        outcome, detail = "failed", type(exc).__name__
    except BaseException:  # Ctrl-C or a stop request: say so in the table, then stop
        with suppress(Exception):
            _finish(sessions, job.name, period, "interrupted", None)
        raise
    try:
        _finish(sessions, job.name, period, outcome, detail)
    except Exception:  # the job ran; only its line in `scheduler status` is stale
        log.exception("recording the outcome of periodic job %s failed", job.name)
    return RunOutcome(job.name, period, outcome, detail, time.monotonic() - started)


def run_due(jobs: Sequence[Scheduled], now: datetime | None = None, *,
            sessions: sessionmaker[Session] | None = None) -> list[RunOutcome]:
    """Claim and start each of ``jobs`` whose current period is unclaimed, one after another;
    returns what this scheduler started. Never raises for a job's or the database's fault: a
    claim that fails (database away) is logged and tried again at the next tick."""
    rt = current()
    sessions = sessions or rt.sessions
    now = now or clock.now()
    use_rq = bool(rt.settings.redis_url)
    runner = runner_id()
    started: list[RunOutcome] = []
    for job in jobs:
        period = period_of(now, job.every)
        try:
            with brand_session(sessions, None) as session:
                won = claim(session, job.name, period, now, runner)
                session.commit()
        except Exception:
            log.exception("claiming periodic job %s failed", job.name)
            continue
        if won:
            started.append(_start(sessions, job, period, use_rq))
    return started


def tick(now: datetime | None = None, *, jobs: Sequence[Scheduled] | None = None
         ) -> list[RunOutcome]:
    """One check: the jobs that are on (:func:`enabled_modules`), then :func:`run_due`."""
    all_jobs = declared() if jobs is None else jobs
    try:
        enabled = enabled_modules()
    except Exception:  # the engine's own jobs need no brand file
        log.exception("reading the brand files failed; only the engine's periodic jobs run")
        enabled = set()
    return run_due([job for job in all_jobs if is_active(job, enabled)], now)


def run_loop(interval: float, *, max_runs: int | None = None,
             report: Callable[[list[RunOutcome]], None] | None = None,
             sleep: Callable[[float], None] = time.sleep,
             monotonic: Callable[[], float] = time.monotonic) -> int:
    """:func:`tick` every ``interval`` seconds until interrupted or ``max_runs`` ticks; returns
    the ticks made. ``report`` sees what each tick started."""
    runs = 0
    while max_runs is None or runs < max_runs:
        started = monotonic()
        outcomes = tick()
        if report is not None:
            report(outcomes)
        runs += 1
        if max_runs is not None and runs >= max_runs:
            break
        while (left := interval - (monotonic() - started)) > 0:
            sleep(min(left, SLEEP_STEP_SECONDS))
    return runs


def status(session: Session, jobs: Sequence[Scheduled], enabled: Iterable[str],
           now: datetime | None = None) -> list[JobStatus]:
    """Each of ``jobs`` with its last run and when it is next due."""
    now = now or clock.now()
    enabled = set(enabled)
    rows = {row.name: row for row in session.scalars(
        select(PeriodicRun).where(PeriodicRun.name.in_([job.name for job in jobs])))}
    return [JobStatus(job, is_active(job, enabled), rows.get(job.name),
                      next_due(rows.get(job.name), job.every, now)) for job in jobs]


def describe_every(every: timedelta) -> str:
    """``timedelta(minutes=1)`` -> "1 minute", ``timedelta(hours=1, minutes=30)`` ->
    "1 hour 30 minutes"."""
    seconds = int(every.total_seconds())
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts)
