"""`cli.py users ...`: create and list accounts of a brand (operators, onboarding)."""

from __future__ import annotations

import click

from engine.config import BrandConfig
from engine.identity.models import ROLES


def _brand(slug: str) -> BrandConfig:
    from engine.config import load_brand_set
    from engine.config.loader import suggest
    from engine.runtime import current

    s = current().settings
    result = load_brand_set(s.brands_dir, current().registry, s.themes_dir)
    if slug not in result.brands:
        raise click.UsageError(f"no valid brand '{slug}'{suggest(slug, result.brands)}")
    return result.brands[slug].config


@click.group()
def users() -> None:
    """Create and list accounts."""


@users.command("create")
@click.option("--brand", "brand_slug", help="The brand (not for operators).")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--organization", help="For patients and organization admins.")
def users_create(brand_slug: str | None, role: str, email: str, name: str,
                 organization: str | None) -> None:
    """Create an account; the password is asked for (never an argument, never in history)."""
    from engine.db import brand_session
    from engine.identity import services
    from engine.runtime import current
    from engine.web import UserError

    if role != "operator" and not brand_slug:
        raise click.UsageError(f"--brand is required for role {role}")
    if role == "operator" and brand_slug:
        raise click.UsageError("operators belong to the platform, not to a brand")
    brand = _brand(brand_slug) if brand_slug else None
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with brand_session(current().sessions, None) as session:
        try:
            user = services.create_user(session, brand, role=role, email=email, name=name,
                                        password=password, organization=organization)
        except UserError as exc:
            raise click.ClickException(exc.message) from exc
        session.commit()
        click.echo(f"created {user.role} {user.email} (id {user.id}) in {user.realm}")


@users.command("list")
@click.argument("brand_slug", metavar="BRAND")
def users_list(brand_slug: str) -> None:
    """Accounts that can sign in on BRAND (its own and its network's specialists)."""
    from engine.db import brand_session
    from engine.identity import services
    from engine.runtime import current

    brand = _brand(brand_slug)
    with brand_session(current().sessions, None) as session:
        rows = [("ID", "ROLE", "EMAIL", "NAME", "VERIFIED")]
        for u in services.brand_users(session, None, brand):
            rows.append((str(u.id), u.role, u.email, u.name,
                         "yes" if u.email_verified_at else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
