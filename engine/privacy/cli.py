"""`python cli.py privacy ...`: retention runs, legal holds and the consent-document check."""

from __future__ import annotations

import sys

import click


@click.group("privacy")
def privacy_cli() -> None:
    """Privacy: retention, legal holds, consent documents."""


@privacy_cli.command("retention")
@click.option("--brand", default=None, help="Only this brand (slug).")
@click.option("--dry-run", is_flag=True, help="Report what would be removed; remove nothing.")
@click.option("--enqueue", is_flag=True, help="Queue the job for a worker (rq with REDIS_URL; "
              "in this process otherwise) instead of reporting here.")
def retention(brand: str | None, dry_run: bool, enqueue: bool) -> None:
    """Apply every brand's retention periods (and run due account deletions)."""
    from engine.jobs import enqueue as enqueue_job
    from engine.privacy.jobs import privacy_sweep

    if enqueue:
        job_id = enqueue_job(privacy_sweep, dry_run, brand)
        click.echo(f"queued privacy sweep {job_id}" if job_id else "privacy sweep ran in process")
        return
    try:
        reports = privacy_sweep(dry_run=dry_run, brand=brand)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    verb = "would remove" if dry_run else "removed"
    for r in reports:
        if r.held:
            click.echo(f"{r.brand_id}: under a legal hold, skipped")
            continue
        for what, count in sorted(r.counts.items()):
            click.echo(f"{r.brand_id}: {what}: {verb} {count}")
        click.echo(f"{r.brand_id}: {verb} {r.total} row(s) in all")


@privacy_cli.group("hold")
def hold() -> None:
    """Legal holds: block deletion and retention for a user or a whole brand."""


def _session():  # type: ignore[no-untyped-def]
    from engine.db import brand_session
    from engine.runtime import current

    return brand_session(current().sessions, None)


@hold.command("place")
@click.argument("brand")
@click.option("--user", "user_id", type=int, default=None, help="A user id (else: the brand).")
@click.option("--reason", required=True, help="Why (a case or request reference).")
def hold_place(brand: str, user_id: int | None, reason: str) -> None:
    """Place a legal hold on BRAND, or on one of its users."""
    from engine import audit
    from engine.privacy import holds
    from engine.web import UserError

    with _session() as session:
        try:
            row = holds.place(session, None, brand, reason, user_id=user_id)
        except UserError as exc:
            raise click.UsageError(exc.message) from exc
        audit.record(session, action="privacy.hold.place", brand_id=brand,
                     target_type="legal_hold", target_id=row.id, patient_id=user_id,
                     details={"via": "cli"})
        session.commit()
        click.echo(f"hold {row.id} placed on {brand}" + (f" user {user_id}" if user_id else ""))


@hold.command("release")
@click.argument("hold_id", type=int)
def hold_release(hold_id: int) -> None:
    """Release a legal hold."""
    from engine import audit
    from engine.privacy import holds
    from engine.web import UserError

    with _session() as session:
        try:
            row = holds.release(session, None, hold_id)
        except UserError as exc:
            raise click.UsageError(exc.message) from exc
        audit.record(session, action="privacy.hold.release", brand_id=row.brand_id,
                     target_type="legal_hold", target_id=row.id, patient_id=row.user_id,
                     details={"via": "cli"})
        session.commit()
        click.echo(f"hold {hold_id} released")


@hold.command("list")
@click.option("--brand", default=None)
def hold_list(brand: str | None) -> None:
    """Active legal holds."""
    from engine.privacy import holds

    with _session() as session:
        for h in holds.active_holds(session, brand):
            target = f"user {h.user_id}" if h.user_id else "whole brand"
            click.echo(f"{h.id}\t{h.brand_id}\t{target}\t{h.placed_at:%Y-%m-%d}\t{h.reason}")


@privacy_cli.command("consent-check")
def consent_check() -> None:
    """Publish new consent document versions; fail when a published text changed."""
    from engine.brand_context import brand_apps
    from engine.privacy.consent import ConsentDocumentChanged, publish
    from engine.runtime import current

    rt = current()
    failed = False
    with _session() as session:
        for slug, app in sorted(brand_apps(rt).items()):
            try:
                for name in publish(session, app.config, rt.settings.brands_dir):
                    click.echo(f"{slug}: published {name}")
            except ConsentDocumentChanged as exc:
                click.echo(f"error: {exc}", err=True)
                failed = True
        session.commit()
    if failed:
        sys.exit(1)
