"""`cli.py audit ...`: verify the HMAC chain, list events, purge expired events (retention), and
manage the HMAC keys (`audit keys status|rotate|retire`, see :mod:`engine.audit_keys`)."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

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
    """Audit log: verify its chain, list and filter events, purge expired ones, rotate keys."""


@audit.command("verify")
@click.option("--chain", help='One chain: "brand:<slug>" or "platform" (default: all).')
@click.option("--batch", default=5000, show_default=True, help="Events read per query.")
def audit_verify(chain: str | None, batch: int) -> None:
    """Walk every chain and name the first event that was altered, removed or inserted.

    Each event is checked with the key its key id names. Exits 1 when a chain is broken or
    holds events whose key is no longer in the keyring, 0 when every chain verifies.
    """
    from engine import audit_chain

    started = time.perf_counter()
    broken = False
    total = 0
    with _session() as session:
        ring = _keyring()
        names = [chain] if chain else audit_chain.chains(session)
        for name in names:
            report = audit_chain.verify_chain(session, name, keyring=ring, batch=batch)
            total += report.events
            if report.ok:
                span = (f"#{report.first_seq}..#{report.last_seq}" if report.events else "empty")
                click.echo(f"ok      {name}: {report.events} events ({span})")
            else:
                broken = True
                assert report.problem is not None
                label = "NO KEY" if report.problem.kind == "key_missing" else "BROKEN"
                click.echo(f"{label:<8}{name}: {report.problem.kind}: "
                           f"{report.problem.message}")
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


# --- keys ---------------------------------------------------------------------------------------


def _keyring():  # type: ignore[no-untyped-def]
    from engine import audit_keys

    try:
        return audit_keys.load()
    except audit_keys.AuditKeyError as exc:
        raise click.ClickException(str(exc)) from exc


@audit.group("keys")
def audit_keys_group() -> None:
    """The HMAC keys that sign the audit log: status, rotate, retire."""


@audit_keys_group.command("status")
def audit_keys_status() -> None:
    """Each key id, which one signs new events, and how many events and retention
    checkpoints each signed (ids events name but the keyring lacks are shown too)."""
    from engine import audit_keys

    ring = _keyring()
    with _session() as session:
        used = audit_keys.usage(session)
    click.echo(f"audit keys: {ring.source}")
    ids = list(ring.keys) + sorted((set(used.events) | set(used.checkpoints)) - set(ring.keys))
    for kid in ids:
        events, checkpoints = used.of(kid)
        mark = (" (current)" if kid == ring.current
                else "" if kid in ring.keys else " (NOT IN KEYRING)")
        click.echo(f"  key {kid}{mark}: {events} event(s), {checkpoints} checkpoint(s)")
    if not ring.from_env and Path(ring.source).stat().st_mode & 0o077:
        click.echo(f"warning: {ring.source} is readable by other users; chmod 600 it", err=True)
    if (missing := [k for k in ids if k not in ring.keys]):
        click.echo(f"warning: events signed with key(s) {', '.join(missing)} cannot be "
                   f"verified until the key is back in the keyring", err=True)


@audit_keys_group.command("rotate")
def audit_keys_rotate() -> None:
    """Generate a new key and append it to the key file (0600, written atomically): it signs
    every event from now on, old events keep verifying with the key that signed them.

    Refused when the keys come from the environment (the message says what to set). The
    rotation is itself an audit event on the platform chain, the first the new key signs.
    """
    from engine import audit_keys

    ring = _keyring()
    if ring.from_env:
        raise click.ClickException(audit_keys.env_rotation_hint(ring))
    with _session() as session:
        try:
            previous, kid = audit_keys.rotate_key(session)
        except audit_keys.AuditKeyError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
    click.echo(f"rotated the audit key: key {kid} signs new events from now on (key "
               f"{previous} stays in {ring.source} to verify the events it signed); processes "
               f"pick the new key up at their next audit event")


@audit_keys_group.command("retire")
@click.argument("kid", metavar="ID")
def audit_keys_retire(kid: str) -> None:
    """Remove key ID from the key file; refused while it is the current key or any event or
    retention checkpoint is signed with it."""
    from engine import audit_keys

    _keyring()
    with _session() as session:
        try:
            audit_keys.retire_key(session, kid)
        except audit_keys.AuditKeyError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()  # the audit event of the retirement
    click.echo(f"retired audit key {kid}")
