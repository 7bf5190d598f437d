"""`cli.py audit ...`: verify the HMAC chain, list events, purge expired events (retention)."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

import click


def _session():  # type: ignore[no-untyped-def]
    from engine.db import brand_session
    from engine.runtime import current

    return brand_session(current().sessions, None)


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) \
            if len(value) <= 10 else datetime.fromisoformat(value).astimezone(UTC)
    except ValueError as exc:
        raise click.BadParameter(f"not a date (YYYY-MM-DD): {value}") from exc


@click.group()
def audit() -> None:
    """Audit log: verify its chain, list and filter events, purge expired ones."""


@audit.command("verify")
@click.option("--chain", help='One chain: "brand:<slug>" or "platform" (default: all).')
@click.option("--batch", default=5000, show_default=True, help="Events read per query.")
def audit_verify(chain: str | None, batch: int) -> None:
    """Walk every chain and name the first event that was altered, removed or inserted.

    Exits 1 when a chain is broken, 0 when every chain verifies.
    """
    from engine import audit_chain

    started = time.perf_counter()
    broken = False
    total = 0
    with _session() as session:
        names = [chain] if chain else audit_chain.chains(session)
        for name in names:
            report = audit_chain.verify_chain(session, name, batch=batch)
            total += report.events
            if report.ok:
                span = (f"#{report.first_seq}..#{report.last_seq}" if report.events else "empty")
                click.echo(f"ok      {name}: {report.events} events ({span})")
            else:
                broken = True
                assert report.problem is not None
                click.echo(f"BROKEN  {name}: {report.problem.kind}: {report.problem.message}")
    elapsed = time.perf_counter() - started
    rate = total / elapsed if elapsed > 0 else 0.0
    click.echo(f"{total} events in {len(names)} chain(s) verified in {elapsed:.2f}s "
               f"({rate:,.0f} events/s)")
    if broken:
        sys.exit(1)


@audit.command("list")
@click.option("--brand", help="Only this brand's events ('-' for platform events).")
@click.option("--action", help="Actions starting with this (e.g. 'auth.').")
@click.option("--outcome", type=click.Choice(["success", "failure", "denied"]))
@click.option("--actor", "actor_id", type=int, help="Actor's user id.")
@click.option("--patient", "patient_id", type=int, help="Patient's user id.")
@click.option("--since", help="From this date (YYYY-MM-DD, UTC).")
@click.option("--until", help="Before this date (YYYY-MM-DD, UTC).")
@click.option("--limit", default=50, show_default=True)
def audit_list(brand: str | None, action: str | None, outcome: str | None,
               actor_id: int | None, patient_id: int | None, since: str | None,
               until: str | None, limit: int) -> None:
    """Newest events first, filtered."""
    from engine import audit_chain

    brand_filter: object = ... if brand is None else (None if brand == "-" else brand)
    stmt = audit_chain.query(brand_id=brand_filter, action=action, outcome=outcome,  # type: ignore[arg-type]
                             actor_id=actor_id, patient_id=patient_id, since=_date(since),
                             until=_date(until), limit=max(1, min(limit, 10000)))
    with _session() as session:
        for ev in session.scalars(stmt):
            who = f"{ev.actor_role or '-'}:{ev.actor_id}" if ev.actor_id else "-"
            target = f"{ev.target_type}:{ev.target_id}" if ev.target_type else "-"
            click.echo(f"{ev.occurred_at:%Y-%m-%d %H:%M:%S}Z  {ev.chain}#{ev.seq}  "
                       f"{ev.action}  {ev.outcome}  actor={who}  target={target}  "
                       f"patient={ev.patient_id or '-'}  ip={ev.ip or '-'}  "
                       f"req={ev.request_id or '-'}  {ev.details or ''}".rstrip())


@audit.command("purge")
@click.option("--brand", required=True, help="The brand whose chain to purge ('-': platform).")
@click.option("--before", required=True, help="Delete events before this date (YYYY-MM-DD); "
              "at least six years ago.")
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
def audit_purge(brand: str, before: str, dry_run: bool) -> None:
    """Delete a brand's expired events (the retention job calls the same routine)."""
    from engine import audit_chain

    cutoff = _date(before)
    assert cutoff is not None
    with _session() as session:
        try:
            result = audit_chain.purge_expired(session, None if brand == "-" else brand,
                                               cutoff, dry_run=dry_run)
        except (ValueError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{result.chain}: {verb} {result.count} event(s)"
               + (f" through #{result.through_seq}" if result.through_seq else ""))
