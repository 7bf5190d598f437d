"""The operator's and onboarding engineer's entry point (click).

Every command takes the brand explicitly; nothing here reads request state.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from engine.cli_audit import audit
from engine.cli_keys import keys
from engine.cli_scheduler import scheduler_cli
from engine.cli_users import users
from engine.config import BrandConfigError, ConfigError, load_brand_set
from engine.config.editor import EditRefused, find_brand_file, set_module_enabled
from engine.config.loader import NETWORKS_FILE, brand_files, display_path, suggest
from engine.config.schema import json_schema
from engine.modules import registry
from engine.privacy.cli import privacy_cli
from engine.settings import PlatformSettings


def _settings() -> PlatformSettings:
    return PlatformSettings.from_env()


@click.group()
def main() -> None:
    """Daraport: one engine for many branded care platforms."""


# --- brands ----------------------------------------------------------------------------------


def _brand_dirs() -> tuple[Path, Path]:
    """(brands dir, themes dir) from DARAPORT_BRANDS_DIR / DARAPORT_THEMES_DIR.

    Read directly rather than through PlatformSettings.from_env(), which also creates a secret
    key and a database directory: checking YAML needs neither.
    """
    root = Path(__file__).resolve().parent.parent
    return (Path(os.environ.get("DARAPORT_BRANDS_DIR") or root / "brands"),
            Path(os.environ.get("DARAPORT_THEMES_DIR") or root / "themes"))


def _print_errors(errors: list[ConfigError]) -> None:
    for e in errors:
        click.echo(str(e))


@main.group()
def brands() -> None:
    """Validate, list and describe brand files."""


@brands.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
def brands_validate(paths: tuple[Path, ...]) -> None:
    """Validate brand files: every error of every file, as file:line:col: key: message.

    PATHS are brand files or directories (default: the brands directory). A file is checked
    together with the other brands of its directory, so a domain or slug claimed twice is found.
    Exits 1 when anything is invalid.
    """
    brands_dir, themes_dir = _brand_dirs()
    wanted: dict[Path, set[Path] | None] = {}  # directory -> files to report (None: all)
    for p in (paths or (brands_dir,)):
        p = p.resolve()
        if p.is_dir():
            wanted[p] = None
        else:
            files = wanted.setdefault(p.parent, set())
            if files is not None:
                files.add(p)
    reg = registry()
    errors: list[ConfigError] = []
    bad_files, checked = 0, 0
    for directory, files in wanted.items():
        listed = brand_files(directory)
        extra = sorted(files - set(listed)) if files else []
        result = load_brand_set(directory, reg, themes_dir, paths=listed + extra)
        for path, errs in result.errors.items():
            if files is None or path in files or path.name == NETWORKS_FILE:
                errors += errs
                bad_files += 1
        checked += len(listed + extra) if files is None else len(files)
    _print_errors(errors)
    if errors:
        click.echo(f"{len(errors)} error(s) in {bad_files} file(s)", err=True)
        sys.exit(1)
    click.echo(f"ok: {checked} brand file(s) valid")


@brands.command("list")
def brands_list() -> None:
    """Slug, name, domains, journey and enabled modules of every valid brand."""
    brands_dir, themes_dir = _brand_dirs()
    result = load_brand_set(brands_dir, registry(), themes_dir)
    rows = [("SLUG", "NAME", "DOMAINS", "JOURNEY", "MODULES")]
    for slug, lb in sorted(result.brands.items()):
        c = lb.config
        rows.append((slug, c.name, ",".join(c.domains), c.journey.mode,
                     ",".join(c.enabled_modules())))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)) + "  " + r[-1])
    for path in result.errors:
        click.echo(f"(invalid, not listed: {display_path(path, brands_dir)}; run "
                   f"`cli.py brands validate`)", err=True)


@brands.command("schema")
def brands_schema() -> None:
    """Print the JSON Schema of a brand file (for editor completion)."""
    click.echo(json.dumps(json_schema(registry()), indent=2, default=str))


# --- modules ---------------------------------------------------------------------------------


@main.group()
def modules() -> None:
    """List, enable and disable modules on a brand."""


@modules.command("list")
@click.argument("brand", required=False)
def modules_list(brand: str | None) -> None:
    """Installed modules (and, with BRAND, which are on there)."""
    reg = registry()
    enabled: set[str] = set()
    if brand:
        brands_dir, themes_dir = _brand_dirs()
        result = load_brand_set(brands_dir, reg, themes_dir)
        if brand not in result.brands:
            try:  # raises the error that explains why
                find_brand_file(brands_dir, reg, themes_dir, brand)
            except (LookupError, BrandConfigError) as exc:
                click.echo(f"error: {exc.args[0] if isinstance(exc, LookupError) else exc}",
                           err=True)
                sys.exit(1)
        enabled = set(result.brands[brand].config.enabled_modules())
    for m in reg:
        mark = ("on " if m.name in enabled else "off") if brand else ""
        req = f" (requires {', '.join(m.requires)})" if m.requires else ""
        click.echo(f"{mark} {m.name:14} {m.title}{req}".strip())


def _toggle(brand: str, module: str, enabled: bool) -> None:
    brands_dir, themes_dir = _brand_dirs()
    reg = registry()
    try:
        path = find_brand_file(brands_dir, reg, themes_dir, brand)
        changed = set_module_enabled(path, module, enabled, reg, themes_dir)
    except BrandConfigError as exc:
        click.echo(f"error: the file of brand '{brand}' is invalid; fix it first:\n{exc}",
                   err=True)
        sys.exit(1)
    except LookupError as exc:
        click.echo(f"error: {exc.args[0]}", err=True)
        sys.exit(1)
    except EditRefused as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    word = "enabled" if enabled else "disabled"
    if changed:
        from engine import audit
        from engine.db import brand_session
        from engine.runtime import current

        try:
            with brand_session(current().sessions, None) as session:
                audit.record(session, action="config.module_toggle", brand_id=brand,
                             details={"module": module, "enabled": enabled, "via": "cli"})
                session.commit()
        except Exception as exc:  # the file is written; say the log missed it, loudly
            click.echo(f"warning: the change is saved but not in the audit log: {exc}", err=True)
    if changed:
        click.echo(f"{module} {word} on {brand} ({display_path(path, brands_dir)})")
    else:
        click.echo(f"{module} was already {word} on {brand}; nothing written")


@modules.command("enable")
@click.argument("brand")
@click.argument("module")
def modules_enable(brand: str, module: str) -> None:
    """Turn MODULE on for BRAND (edits the YAML in place, keeping comments and layout)."""
    _toggle(brand, module, True)


@modules.command("disable")
@click.argument("brand")
@click.argument("module")
def modules_disable(brand: str, module: str) -> None:
    """Turn MODULE off for BRAND (refused, writing nothing, if the brand would be invalid)."""
    _toggle(brand, module, False)


# --- runtime ---------------------------------------------------------------------------------


def _platform():  # type: ignore[no-untyped-def]
    from engine.platform import create_platform

    platform = create_platform()
    for path, errs in platform.errors.items():
        click.echo(f"warning: {display_path(path)} not loaded:", err=True)
        for e in errs:
            click.echo(f"  {e}", err=True)
    return platform


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Serve every brand from one process (development server; use gunicorn in production)."""
    from werkzeug.serving import run_simple

    from engine.platform import settle_heap

    platform = _platform()
    platform.start_watching()
    settle_heap()  # as engine.wsgi does for production servers
    for slug, sb in sorted(platform.brands.items()):
        click.echo(f"  {slug:20} http://{sb.loaded.config.domains[0]}:{port}/")
    for h in platform.runtime.settings.admin_hosts:
        click.echo(f"  {'operator console':20} http://{h}:{port}/")
    run_simple(host, port, platform, threaded=True, use_reloader=False)


@main.command()
@click.argument("brand")
def routes(brand: str) -> None:
    """List BRAND's mounted URL rules with the access each declares."""
    from engine.identity.permissions import access_of

    platform = _platform()
    if brand not in platform.brands:
        raise click.UsageError(f"no brand '{brand}'{suggest(brand, platform.brands)}")
    app = platform.app_for(brand)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        methods = ",".join(sorted(m for m in rule.methods or () if m not in ("HEAD", "OPTIONS")))
        access = access_of(app.view_functions[rule.endpoint])
        label = "public" if access and access[0] == "public" else (access or ("?", "?"))[1]
        click.echo(f"{rule.rule:45} {methods:10} {rule.endpoint:35} {label}")


@main.command()
@click.option("--queue", "queues", multiple=True, default=["default", "mail"],
              show_default=True)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
def worker(queues: tuple[str, ...], burst: bool) -> None:
    """Run an rq worker on the job queues (needs REDIS_URL)."""
    from engine.jobs import run_worker

    try:
        run_worker(list(queues), burst=burst)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc


# --- database --------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Build or migrate the schema on DATABASE_URL (default: the embedded SQLite file)."""
    from engine.migrate import upgrade

    url = upgrade(_settings().database_url, revision)
    click.echo(f"database at {url} is at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Step the schema back to REVISION."""
    from engine.migrate import downgrade

    downgrade(_settings().database_url, revision)
    click.echo(f"downgraded to {revision}")


@db.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (for developers)."""
    from engine.migrate import revision

    revision(_settings().database_url, message)


main.add_command(users)
main.add_command(audit)
main.add_command(keys)
main.add_command(privacy_cli)
main.add_command(scheduler_cli)

from engine.demo import demo  # noqa: E402  (last: the demo command reuses `serve`)

main.add_command(demo)


@main.group()
def reports() -> None:
    """Reports that modules provide (e.g. `reports reconcile BRAND --month 2026-10`)."""


def _add_module_commands() -> None:
    """Each installed module's own command group (``Module.cli``) under its name; the commands
    of a module's ``reports`` subgroup also under the top-level ``reports`` group."""
    for m in registry():
        if m.cli is not None:
            main.add_command(m.cli, name=m.name)
            sub = m.cli.commands.get("reports")
            if isinstance(sub, click.Group):
                for name, command in sub.commands.items():
                    reports.add_command(command, name=name)


_add_module_commands()
