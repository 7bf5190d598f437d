"""`python cli.py reports reconcile BRAND --month 2026-10 [--format csv]` (also under
`cli.py payments reports ...`) and `python cli.py payments expire-holds`."""

from __future__ import annotations

import click

from engine import clock


@click.group("payments")
def payments_cli() -> None:
    """Payments: month-end reconciliation and unpaid holds."""


@payments_cli.group("reports")
def reports_cli() -> None:
    """Month-end reports built from the payments ledger."""


def _brand(slug: str):  # type: ignore[no-untyped-def]
    from engine.config import load_brand_set
    from engine.config.loader import suggest
    from engine.runtime import current

    rt = current()
    brand_set = load_brand_set(rt.settings.brands_dir, rt.registry, rt.settings.themes_dir)
    loaded = brand_set.brands.get(slug)
    if loaded is None:
        raise click.UsageError(f"no brand '{slug}'{suggest(slug, brand_set.brands)}")
    if loaded.config.module_settings("payments") is None:
        raise click.UsageError(f"payments is not enabled on '{slug}' "
                               f"(cli.py modules enable {slug} payments)")
    return loaded.config


@reports_cli.command("reconcile")
@click.argument("brand")
@click.option("--month", default=None, metavar="YYYY-MM",
              help="The month to close, in the brand's time zone (default: last month).")
@click.option("--format", "fmt", type=click.Choice(["text", "csv"]), default="text",
              show_default=True)
def reconcile_command(brand: str, month: str | None, fmt: str) -> None:
    """Month-end reconciliation of BRAND: per specialist and in total, from the ledger.

    Exits with status 1 when the report does not reconcile to the ledger to the cent.
    """
    from engine.db import brand_session
    from engine.runtime import current
    from modules.payments import reports

    config = _brand(brand)
    if month is None:
        today = clock.now()
        year, mon = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
        month = f"{year:04d}-{mon:02d}"
    try:
        reports.month_window(config, month)
    except reports.BadMonth as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from exc
    with brand_session(current().sessions, brand) as session:
        report = reports.reconcile(session, config, month)
    if fmt == "csv":
        click.echo(reports.to_csv(report), nl=False)
    else:
        click.echo(reports.to_text(report), nl=False)
    if not report.reconciles:
        for problem in report.problems:
            click.echo(f"does not reconcile: {problem}", err=True)
        raise SystemExit(1)


@payments_cli.command("expire-holds")
def expire_holds_command() -> None:
    """Expire unpaid holds whose time ran out, freeing their slots (safe to run any time)."""
    from modules.payments.holds import expire_holds

    click.echo(f"{expire_holds()} hold(s) expired")
