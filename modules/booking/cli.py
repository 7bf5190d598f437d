"""`python cli.py booking ...`: the reminder sweep by hand. Booking's periodic jobs (reminders,
waitlist) are declared in its manifest and run by `cli.py scheduler`."""

from __future__ import annotations

import click

from engine import clock
from engine.scheduler import DEFAULT_INTERVAL_SECONDS


@click.group("booking")
def booking_cli() -> None:
    """Scheduling and booking: reminders (their scheduler is `cli.py scheduler`)."""


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


@booking_cli.command("scheduler")
@click.option("--interval", type=click.FloatRange(1, 3600), default=DEFAULT_INTERVAL_SECONDS,
              show_default=True, help="Seconds between two checks for due jobs.")
@click.option("--max-runs", type=click.IntRange(1), default=None,
              help="Stop after this many checks (default: run until Ctrl-C).")
def scheduler(interval: float, max_runs: int | None) -> None:
    """Deprecated alias of `cli.py scheduler`, which runs booking's reminder sweep and waitlist
    advance with every other periodic job of the platform."""
    from engine.cli_scheduler import run_command

    run_command(interval, max_runs, note="note: `cli.py booking scheduler` is now "
                "`cli.py scheduler` (every periodic job, booking's included); use that")
