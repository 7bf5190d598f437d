"""`python cli.py booking ...`: the reminder sweep and the scheduler that runs it every minute."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import click

from engine import clock

log = logging.getLogger(__name__)

SWEEP_JOB = "modules.booking.reminders.sweep_reminders"
WAITLIST_JOB = "modules.booking.jobs.advance_waitlists"
# the scheduler sleeps in short steps so Ctrl-C and stop requests are answered at once
SLEEP_STEP_SECONDS = 1.0


@click.group("booking")
def booking_cli() -> None:
    """Scheduling and booking: reminders and their scheduler."""


@booking_cli.command("send-reminders")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send nothing.")
def send_reminders(dry_run: bool) -> None:
    """Send the appointment reminders due now (each exactly once; safe to run any time)."""
    from engine.db import brand_session
    from engine.runtime import current
    from modules.booking.reminders import send_due_reminders

    with brand_session(current().sessions, None) as session:
        reminders = send_due_reminders(session, clock.now(), dry_run=dry_run)
    for reminder in reminders:
        click.echo(("would send " if dry_run else "sent ") + reminder.describe())
    verb = "would be sent" if dry_run else "sent"
    click.echo(f"{len(reminders)} reminder(s) {verb}")


def run_scheduler(interval: float, *, max_runs: int | None = None,
                  sleep: Callable[[float], None] = time.sleep) -> int:
    """Enqueue the reminder sweep and the waitlist advance every ``interval`` seconds (rq when
    REDIS_URL is set, in this process otherwise) until interrupted or ``max_runs`` runs; returns
    the runs made.

    A failing enqueue (Redis down) is logged and retried at the next tick, never fatal.
    """
    from engine.jobs import enqueue

    runs = 0
    while max_runs is None or runs < max_runs:
        started = time.monotonic()
        for job in (SWEEP_JOB, WAITLIST_JOB):
            try:
                enqueue(job)
            except Exception:  # the scheduler outlives a broken tick
                log.exception("enqueueing %s failed", job)
        runs += 1
        if max_runs is not None and runs >= max_runs:
            break
        while (left := interval - (time.monotonic() - started)) > 0:
            sleep(min(left, SLEEP_STEP_SECONDS))
    return runs


@booking_cli.command("scheduler")
@click.option("--interval", default=60.0, show_default=True,
              type=click.FloatRange(1, 3600), help="Seconds between two sweeps.")
@click.option("--max-runs", type=click.IntRange(1), default=None,
              help="Stop after this many sweeps (default: run until Ctrl-C).")
def scheduler(interval: float, max_runs: int | None) -> None:
    """Enqueue the reminder sweep and the waitlist advance every minute, until Ctrl-C.

    With REDIS_URL the sweep runs on an rq worker (`cli.py worker`); without, in this process.
    Several schedulers may run: reminders still go out once.
    """
    from engine.runtime import current

    where = "rq" if current().settings.redis_url else "this process"
    click.echo(f"reminder sweep and waitlist advance every {interval:g}s, run by {where}; "
               f"Ctrl-C stops")
    try:
        runs = run_scheduler(interval, max_runs=max_runs)
    except KeyboardInterrupt:
        click.echo("scheduler stopped")
        return
    click.echo(f"scheduler stopped after {runs} run(s)")
