"""`cli.py demo`: a migrated database with demo accounts on the example brands, then serve.

The engine creates the people (operator, specialists of the shared network, patients,
organization staff) through :mod:`engine.identity.services`; each enabled module then adds its
own demo content through its manifest's ``demo(session, brand, people)`` hook. The engine names
no module. Seeding is idempotent: a second run finds every account and creates nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import click
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.db import brand_session
from engine.identity import services as identity
from engine.identity.models import (
    PLATFORM_REALM,
    User,
    brand_realm,
    network_realm,
)
from engine.modules import Module, ModuleRegistry
from engine.runtime import Runtime
from engine.web import UserError, network_id

DEMO_PASSWORD = "demo-password-123"

# The keys of the ``people`` mapping a module's demo hook receives, by role.
PEOPLE_KEYS = {"operator": "operators", "specialist": "specialists", "patient": "patients",
               "org_admin": "org_admins", "affiliate": "affiliates"}


@dataclass(frozen=True)
class DemoPerson:
    """One demo account. ``brands``: the brand of a patient or organization admin, or every
    brand a specialist is a member of (the first creates the account); empty for operators."""

    role: str
    email: str
    name: str
    brands: tuple[str, ...] = ()
    organization: str | None = None


ACME, WELLNESS = "acme-clinic", "wellness-corp"
BOTH = (ACME, WELLNESS)

DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("operator", "operator@daraport.localhost", "Olga Ferrer"),
    # specialists of the care-collective network: two on both brands, the others on one
    DemoPerson("specialist", "lucia.moreno@care-collective.example", "Lucía Moreno", BOTH),
    DemoPerson("specialist", "daniel.okafor@care-collective.example", "Daniel Okafor", BOTH),
    DemoPerson("specialist", "carmen.ruiz@care-collective.example", "Carmen Ruiz", (ACME,)),
    DemoPerson("specialist", "javier.santos@care-collective.example", "Javier Santos", (ACME,)),
    DemoPerson("specialist", "alvaro.gil@care-collective.example", "Álvaro Gil", (ACME,)),
    DemoPerson("specialist", "emily.carter@care-collective.example", "Emily Carter",
               (WELLNESS,)),
    DemoPerson("specialist", "priya.raman@care-collective.example", "Priya Raman",
               (WELLNESS,)),
    # patients of Acme Clinic
    DemoPerson("patient", "maria.lopez@example.com", "María López", (ACME,)),
    DemoPerson("patient", "pablo.garcia@example.com", "Pablo García", (ACME,)),
    # Wellness Corp: the globex organization's admin, two of its employees, one other patient
    DemoPerson("org_admin", "hr@globex.example", "Rachel Adams", (WELLNESS,), "globex"),
    DemoPerson("patient", "jordan.lee@globex.example", "Jordan Lee", (WELLNESS,), "globex"),
    DemoPerson("patient", "alex.kim@globex.example", "Alex Kim", (WELLNESS,), "globex"),
    DemoPerson("patient", "sam.taylor@example.com", "Sam Taylor", (WELLNESS,)),
)


@dataclass
class SeedResult:
    """What a seeding run did: accounts created now and accounts that already existed."""

    created: list[DemoPerson]
    existing: list[DemoPerson]
    skipped_brands: list[str]


def _realm(person: DemoPerson, brands: Mapping[str, BrandConfig]) -> str:
    if person.role == "operator":
        return PLATFORM_REALM
    first = brands[person.brands[0]]
    if person.role == "specialist":
        return network_realm(network_id(first))
    return brand_realm(first.slug)


def _planned(people: Sequence[DemoPerson], brands: Mapping[str, BrandConfig],
             ) -> list[DemoPerson]:
    """The people whose brands are loaded (a specialist keeps the brands that are)."""
    out = []
    for p in people:
        if p.role == "operator":
            out.append(p)
            continue
        kept = tuple(b for b in p.brands if b in brands)
        if kept:
            out.append(DemoPerson(p.role, p.email, p.name, kept, p.organization))
    return out


def _delete_demo_accounts(session: Session, people: Sequence[DemoPerson],
                          brands: Mapping[str, BrandConfig]) -> None:
    """Remove the demo accounts and every row that belongs to them, whichever module wrote it
    (a demo appointment's RESTRICT keys would otherwise refuse the reset)."""
    pairs = [(_realm(p, brands), identity.normalize_email(p.email)) for p in people]
    ids = set(session.scalars(select(User.id).where(
        or_(*[(User.realm == realm) & (User.email == email) for realm, email in pairs]))))
    delete_rows_of_users(session, ids)
    session.execute(delete(User).where(User.id.in_(ids)))
    session.flush()


def delete_rows_of_users(session: Session, user_ids: set[int]) -> None:
    """Delete the rows that would keep ``user_ids`` from being deleted (those behind a RESTRICT
    or NO ACTION foreign key, and theirs in turn; CASCADE and SET NULL the database does
    itself), children first. Demo data only: real accounts are closed through the privacy
    module, which keeps what the law says to keep."""
    from sqlalchemy import Table

    from engine.migrate import all_metadata

    metadata = all_metadata()
    doomed: dict[Table, set] = {metadata.tables["identity_user"]: set(user_ids)}
    changed = bool(user_ids)
    while changed:
        changed = False
        for table in metadata.sorted_tables:
            if "id" not in table.c or table.name == "identity_user":
                continue
            for fk in table.foreign_keys:
                if (fk.ondelete or "NO ACTION").upper() not in ("RESTRICT", "NO ACTION"):
                    continue  # the database cascades or sets null itself
                parents = doomed.get(fk.column.table)
                if not parents:
                    continue
                found = set(session.scalars(select(table.c.id).where(
                    fk.parent.in_(parents)))) - doomed.setdefault(table, set())
                if found:
                    doomed[table] |= found
                    changed = True
    for table in reversed(metadata.sorted_tables):
        rows = doomed.get(table)
        if rows and table.name != "identity_user":
            session.execute(table.delete().where(table.c.id.in_(rows)))


def seed_people(session: Session, brands: Mapping[str, BrandConfig],
                people: Sequence[DemoPerson] = DEMO_PEOPLE, *,
                password: str = DEMO_PASSWORD) -> tuple[SeedResult, dict[str, User]]:
    """Create the demo accounts that do not exist yet and their specialist memberships.

    ``session`` is platform-wide (no brand). Returns what was done and email -> User.
    """
    plan = _planned(people, brands)
    created: list[DemoPerson] = []
    existing: list[DemoPerson] = []
    users: dict[str, User] = {}
    for p in plan:
        realm = _realm(p, brands)
        user = session.scalar(select(User).where(User.realm == realm,
                                                 User.email == identity.normalize_email(p.email)))
        if user is None:
            first = brands[p.brands[0]] if p.brands else None
            user = identity.create_user(session, first, role=p.role, email=p.email, name=p.name,
                                        password=password, organization=p.organization)
            if p.role == "patient" and first is not None:  # as if they signed up and accepted
                _give_consents(session, first, user)
            created.append(p)
        else:
            existing.append(p)
        if p.role == "specialist":
            for slug in p.brands:
                membership = identity.add_membership(session, brands[slug], user)
                membership.active = True
        users[p.email] = user
    session.flush()
    skipped = sorted({b for p in people for b in p.brands} - set(brands))
    return SeedResult(created, existing, skipped), users


def _give_consents(session: Session, brand: BrandConfig, user: User) -> None:
    """A demo patient has given every current consent document of their brand."""
    from engine.privacy import consent
    from engine.runtime import current

    for doc in consent.current_documents(brand):
        consent.record(session, user, brand, doc.key, granted=True, method="signup",
                       brands_dir=current().settings.brands_dir)


def _in_dependency_order(modules: Sequence[Module]) -> list[Module]:
    """Modules after the modules they require (a module's demo may build on another's)."""
    by_name = {m.name: m for m in modules}
    ordered: list[Module] = []
    seen: set[str] = set()

    def visit(m: Module) -> None:
        if m.name in seen:
            return
        seen.add(m.name)
        for dep in m.requires:
            if dep in by_name:
                visit(by_name[dep])
        ordered.append(m)

    for m in sorted(modules, key=lambda m: m.name):
        visit(m)
    return ordered


def people_of(session: Session, brand: BrandConfig, plan: Sequence[DemoPerson],
              users: Mapping[str, User]) -> dict[str, list[User]]:
    """role key ("specialists", "patients", ...) -> the demo users of ``brand``, loaded in
    ``session``."""
    out: dict[str, list[User]] = {key: [] for key in PEOPLE_KEYS.values()}
    for p in plan:
        if p.role == "operator" or brand.slug in p.brands:
            user = session.get(User, users[p.email].id)
            if user is not None:
                out[PEOPLE_KEYS[p.role]].append(user)
    return out


def run_module_demos(runtime: Runtime, brands: Mapping[str, BrandConfig],
                     users: Mapping[str, User],
                     people: Sequence[DemoPerson] = DEMO_PEOPLE) -> list[tuple[str, str]]:
    """Call each enabled module's demo hook on each brand, one committed session per brand.

    Returns the (brand, module) pairs whose hook ran.
    """
    plan = _planned(people, brands)
    registry: ModuleRegistry = runtime.registry
    ran: list[tuple[str, str]] = []
    for slug, cfg in sorted(brands.items()):
        enabled = [registry[n] for n in cfg.enabled_modules() if n in registry]
        with brand_session(runtime.sessions, slug) as session:
            brand_people = people_of(session, cfg, plan, users)
            for module in _in_dependency_order(enabled):
                if module.demo is None:
                    continue
                try:
                    module.demo(session, cfg, brand_people)
                except UserError as exc:
                    raise click.ClickException(
                        f"module {module.name}: demo data for {slug} refused: {exc.message}"
                    ) from exc
                ran.append((slug, module.name))
            session.commit()
    return ran


def seed(runtime: Runtime, brands: Mapping[str, BrandConfig], *, reset: bool = False,
         people: Sequence[DemoPerson] = DEMO_PEOPLE) -> SeedResult:
    """Seed the demo accounts and every enabled module's demo content (idempotent)."""
    plan = _planned(people, brands)
    with brand_session(runtime.sessions, None) as session:
        if reset:
            _delete_demo_accounts(session, plan, brands)
        result, users = seed_people(session, brands, plan)
        session.commit()
    run_module_demos(runtime, brands, users, plan)
    return result


def _login_rows(plan: Sequence[DemoPerson], brands: Mapping[str, BrandConfig],
                port: int, admin_host: str) -> list[tuple[str, str, str, str, str]]:
    rows = [("ROLE", "BRAND", "EMAIL", "PASSWORD", "SIGN IN AT")]
    for p in plan:
        if p.role == "operator":
            where = f"http://{admin_host}:{port}/signin"
            brand = "(platform)"
        else:
            where = " ".join(f"http://{brands[b].domains[0]}:{port}/account/signin"
                             for b in p.brands)
            brand = ", ".join(p.brands)
        role = p.role + (f" ({p.organization})" if p.organization else "")
        rows.append((role, brand, p.email, DEMO_PASSWORD, where))
    return rows


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r[:-1], widths, strict=True))
                     + "  " + r[-1] for r in rows)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Seed and print the logins, do not serve.")
@click.option("--reset", is_flag=True,
              help="Delete the demo accounts (and what belongs to them) first, then seed anew.")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, no_serve: bool, reset: bool) -> None:
    """Migrate the database, seed demo accounts on the example brands, print logins, serve.

    Every demo account's password is "demo-password-123". Running it again creates nothing
    twice.
    """
    from engine.config import load_brand_set
    from engine.migrate import upgrade
    from engine.settings import PlatformSettings

    settings = PlatformSettings.from_env()
    click.echo(f"database at {upgrade(settings.database_url)} is at head")
    runtime = Runtime.create(settings)
    result = load_brand_set(settings.brands_dir, runtime.registry, settings.themes_dir)
    for path in result.errors:
        click.echo(f"warning: {path} is invalid and not seeded (run `cli.py brands validate`)",
                   err=True)
    brands = {slug: lb.config for slug, lb in result.brands.items()}
    try:
        seeded = seed(runtime, brands, reset=reset)
    finally:
        runtime.engine.dispose()
    for slug in seeded.skipped_brands:
        click.echo(f"warning: brand {slug} is not loaded; its demo accounts were skipped",
                   err=True)
    click.echo(f"demo accounts: {len(seeded.created)} created, {len(seeded.existing)} "
               f"already there")

    admin_host = settings.admin_hosts[0] if settings.admin_hosts else "admin.localhost"
    click.echo("\nSites")
    site_rows = [("SITE", "URL")]
    site_rows += [(slug, f"http://{cfg.domains[0]}:{port}/")
                  for slug, cfg in sorted(brands.items())]
    site_rows.append(("operator console", f"http://{admin_host}:{port}/"))
    click.echo(_table(site_rows))
    click.echo(f"\nLogins (password for every account: {DEMO_PASSWORD})")
    click.echo(_table(_login_rows(_planned(DEMO_PEOPLE, brands), brands, port, admin_host)))
    if no_serve:
        return
    click.echo("")
    from engine.cli import serve

    ctx.invoke(serve, host=host, port=port)
