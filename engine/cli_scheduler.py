"""`cli.py scheduler`: run the periodic jobs when due; `cli.py scheduler status`: the table of
them. The scheduling itself is :mod:`engine.scheduler`."""

from __future__ import annotations

import signal
from contextlib import suppress
from datetime import datetime
from types import FrameType
from typing import Any

import click
from click.core import ParameterSource

from engine.scheduler import DEFAULT_INTERVAL_SECONDS

RUN_OPTIONS = {"interval": "--interval", "max_runs": "--max-runs", "once": "--once"}


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") if at is not None else "never"


def _missing_table() -> click.ClickException:
    return click.ClickException("the scheduler's table is missing: run `cli.py db upgrade` first")


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # a stop request (systemd, docker stop) ends the loop as Ctrl-C does


def run_command(interval: float, max_runs: int | None, *, note: str | None = None) -> None:
    """Run the scheduler in the foreground, printing what each tick starts. ``note`` (to
    stderr, after the first line) is for aliases of this command."""
    from sqlalchemy import inspect

    from engine import clock, scheduler
    from engine.runtime import current

    rt = current()
    if not inspect(rt.engine).has_table("scheduler_periodic_run"):
        raise _missing_table()
    jobs = scheduler.declared(rt.registry)
    where = "rq (`cli.py worker` runs them)" if rt.settings.redis_url else "this process"
    click.echo(f"{len(jobs)} periodic job(s), checked every {interval:g}s, run by {where}; "
               f"Ctrl-C stops")
    if note:
        click.echo(note, err=True)
    for job in jobs:
        click.echo(f"  {job.name:24} every {scheduler.describe_every(job.every)}")

    def report(outcomes: list[scheduler.RunOutcome]) -> None:
        for outcome in outcomes:
            click.echo(f"{_when(clock.now())} {outcome.describe()}")

    previous: Any = None
    with suppress(ValueError):  # signal handlers can only be set from the main thread
        previous = signal.signal(signal.SIGTERM, _stop)
    try:
        runs = scheduler.run_loop(interval, max_runs=max_runs, report=report)
    except KeyboardInterrupt:
        click.echo("scheduler stopped")
        return
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    click.echo(f"scheduler stopped after {runs} run(s)")


@click.group("scheduler", invoke_without_command=True)
@click.option("--interval", type=click.FloatRange(1, 3600), default=DEFAULT_INTERVAL_SECONDS,
              show_default=True, help="Seconds between two checks for due jobs.")
@click.option("--max-runs", type=click.IntRange(min=1), default=None,
              help="Stop after this many checks (default: run until Ctrl-C).")
@click.option("--once", is_flag=True, help="Check once, start what is due, and exit.")
@click.pass_context
def scheduler_cli(ctx: click.Context, interval: float, max_runs: int | None, once: bool) -> None:
    """Start the periodic jobs when due: booking reminders and waitlist, expired payment holds
    (each minute), privacy retention (daily, 00:00 UTC).

    Each job runs once per period however many schedulers run, and a restart does not run a
    job again in the same period. With REDIS_URL the jobs run on rq workers (`cli.py worker`);
    without, in this process. `cli.py scheduler status` lists the jobs and their last runs.
    """
    if ctx.invoked_subcommand is not None:
        given = [flag for name, flag in RUN_OPTIONS.items()
                 if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT]
        if given:
            raise click.UsageError(f"{', '.join(given)}: options of running the scheduler; "
                                   f"`scheduler {ctx.invoked_subcommand}` takes none")
        return
    if once and max_runs is not None:
        raise click.UsageError("--once is --max-runs 1: give one of them, not both")
    run_command(interval, 1 if once else max_runs)


@scheduler_cli.command("status")
def status_command() -> None:
    """Each periodic job: its period, last run and outcome (UTC), and when it is next due."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from engine import clock, scheduler
    from engine.db import brand_session
    from engine.runtime import current

    rt = current()
    now = clock.now()
    jobs = scheduler.declared(rt.registry)
    enabled = scheduler.enabled_modules(rt)
    try:
        with brand_session(rt.sessions, None) as session:
            lines = scheduler.status(session, jobs, enabled, now)
    except (OperationalError, ProgrammingError) as exc:
        raise _missing_table() from exc
    rows = [("JOB", "OWNER", "EVERY", "LAST RUN (UTC)", "OUTCOME", "NEXT DUE (UTC)")]
    for line in lines:
        last = line.last
        if last is None or last.started_at is None:
            outcome = "-"
        else:
            outcome = (last.outcome or "-") + (f" ({last.detail})" if last.detail else "")
        if not line.active:
            due = f"off: {line.job.owner} is on for no brand"
        elif line.next_due <= now:
            due = "now"
        else:
            due = _when(line.next_due)
        rows.append((line.job.name, line.job.owner, scheduler.describe_every(line.job.every),
                     _when(last.started_at if last else None), outcome, due))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False))
                   + "  " + row[-1])
