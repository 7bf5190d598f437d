"""What the operator console knows and does: operator sign-in, brand overview, module toggles,
platform status. Shared by the console views and usable from the CLI or tests; no request state.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config.editor import EditRefused, set_module_enabled
from engine.config.loader import display_path, revision_of
from engine.db import ping
from engine.identity import services as identity
from engine.identity.models import PLATFORM_REALM, User

if TYPE_CHECKING:
    from engine.platform import Platform

log = logging.getLogger(__name__)



# --- operators -------------------------------------------------------------------------------


def authenticate_operator(session: Session, email: str, password: str) -> User | None:
    """The operator matching these credentials, or None. Only platform operators ever match:
    a patient, specialist or staff account with the same email and password does not."""
    user = session.scalar(select(User).where(
        User.realm == PLATFORM_REALM, User.role == "operator",
        User.email == identity.normalize_email(email)))
    # Reuses the identity service's verification so hashing rules (rehash, timing) stay in one
    # place; an unknown email spends the same hashing time as a wrong password.
    if user is None:
        identity.spend_hash_time(password)  # as long as a wrong password: one verification
        return None
    if identity.verify_password(user, password):
        user.last_sign_in_at = clock.now()
        return user
    return None


def sign_in_operator(session: Session, email: str, password: str, ip: str | None) -> User:
    """Operator sign-in with the same throttle as brand sign-in (in the platform realm).

    Raises a 429 UserError while this email or address is locked out, and a 401 UserError (the
    same whether or not the email has an operator account) for wrong credentials.
    """
    return identity.throttled_sign_in(session, PLATFORM_REALM, email, ip,
                                      lambda: authenticate_operator(session, email, password))


def load_operator(session: Session, user_id: str) -> User | None:
    """The operator behind a session id ``"<id>:<epoch>"``; None for anyone else or stale."""
    try:
        uid, epoch = (int(x) for x in user_id.split(":"))
    except ValueError:
        return None
    user = session.get(User, uid)
    if user is None or user.role != "operator" or user.realm != PLATFORM_REALM \
            or user.session_epoch != epoch:
        return None
    return user


# --- brands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleState:
    name: str
    title: str
    enabled: bool
    requires: tuple[str, ...]


@dataclass(frozen=True)
class BrandOverview:
    slug: str
    name: str
    domains: tuple[str, ...]
    journey: str
    modules: tuple[ModuleState, ...]
    revision: str  # the revision being served
    disk_revision: str | None  # the file on disk now (None when unreadable)
    file: str
    errors: tuple[str, ...]

    @property
    def enabled_modules(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.modules if m.enabled)

    @property
    def stale(self) -> bool:
        """The file on disk differs from what is served (broken, or not yet reloaded)."""
        return self.disk_revision != self.revision


@dataclass(frozen=True)
class FailedFile:
    """A file that did not load at all: no brand serves from it."""

    file: str
    name: str
    errors: tuple[str, ...]


@dataclass(frozen=True)
class PlatformOverview:
    brands: tuple[BrandOverview, ...]
    failed: tuple[FailedFile, ...]

    @property
    def error_count(self) -> int:
        return sum(bool(b.errors) for b in self.brands) + len(self.failed)


def _disk_revision(path: Path) -> str | None:
    try:
        return revision_of(path.read_bytes())
    except OSError:
        return None


def platform_overview(platform: Platform) -> PlatformOverview:
    """Every served brand with its modules, revisions and current file errors, plus the files
    that failed to load at all."""
    registry = platform.runtime.registry
    errors = platform.errors
    brands = []
    served_paths = set()
    for slug in sorted(platform.brands):
        loaded = platform.brands[slug].loaded
        cfg = loaded.config
        enabled = set(cfg.enabled_modules())
        served_paths.add(loaded.path)
        brands.append(BrandOverview(
            slug=slug, name=cfg.name, domains=tuple(cfg.domains), journey=cfg.journey.mode,
            modules=tuple(ModuleState(m.name, m.title, m.name in enabled, tuple(m.requires))
                          for m in registry),
            revision=loaded.revision, disk_revision=_disk_revision(loaded.path),
            file=display_path(loaded.path), errors=tuple(errors.get(loaded.path, ())),
        ))
    failed = tuple(FailedFile(display_path(p), p.name, tuple(errs))
                   for p, errs in sorted(errors.items()) if p not in served_paths)
    return PlatformOverview(tuple(brands), failed)


class StaleEdit(EditRefused):
    """The file changed since the operator loaded the page (or the form was sent twice)."""


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialize edits of one brand file across threads and processes.

    The editor replaces the file atomically, so a waiter holds a lock on the old inode; it then
    re-reads the path, sees the new revision and refuses as stale, which is what we want.
    """
    with open(path, "rb") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def set_brand_module(platform: Platform, actor: User, slug: str, module: str, enabled: bool,
                     expected_revision: str) -> bool:
    """Enable or disable ``module`` on brand ``slug`` through the config editor (the same
    validation as ``cli.py modules enable|disable``), then reload the platform.

    ``expected_revision`` is the file revision the operator saw: a different one on disk (a
    double submit, or someone else's edit) refuses with :class:`StaleEdit`. Returns False when
    the file already said so. Raises EditRefused (nothing written) and LookupError (unknown
    brand or module).
    """
    served = platform.brands.get(slug)
    if served is None:
        raise LookupError(f"no brand '{slug}'")
    path = served.loaded.path
    rt = platform.runtime
    with _file_lock(path):
        on_disk = _disk_revision(path)
        if on_disk != expected_revision:
            raise StaleEdit(f"{display_path(path)} changed since this page was loaded "
                            f"(revision {expected_revision} is now {on_disk}); nothing was "
                            f"written. Review the current state and try again.")
        changed = set_module_enabled(path, module, enabled, rt.registry, rt.settings.themes_dir)
    if changed:
        log.info("operator %s %s module %s on brand %s (%s)", actor.email,
                 "enabled" if enabled else "disabled", module, slug, display_path(path))
        platform.reload()
    return changed


def module_url_prefixes(platform: Platform, module: str) -> list[str]:
    """The URL prefixes a module serves (shown before disabling it)."""
    from engine.modules import PORTAL_PREFIX

    m = platform.runtime.registry[module]
    return [(PORTAL_PREFIX[mt.portal] + mt.url_prefix) or "/" for mt in m.mounts]


def dependents(platform: Platform, slug: str, module: str) -> list[str]:
    """Enabled modules of ``slug`` that require ``module``."""
    enabled = platform.brands[slug].loaded.config.enabled_modules()
    return [m.name for m in platform.runtime.registry
            if m.name in enabled and module in m.requires]


# --- status ----------------------------------------------------------------------------------


def _redacted(url: str) -> str:
    """scheme://host:port of a URL, without credentials or path."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


@dataclass(frozen=True)
class PlatformStatus:
    database: str
    database_backend: str
    jobs: str  # "rq" | "in-process"
    redis: str | None
    smtp: bool
    smtp_server: str | None
    checked_at: datetime = field(default_factory=clock.now)

    @property
    def ok(self) -> bool:
        return self.database == "ok"


def platform_status(session: Session, platform: Platform) -> PlatformStatus:
    """Database ping, job mode and SMTP mode of this process (no secrets)."""
    s = platform.runtime.settings
    return PlatformStatus(
        database=ping(session),
        database_backend=platform.runtime.engine.dialect.name,
        jobs="rq" if s.redis_url else "in-process",
        redis=_redacted(s.redis_url) if s.redis_url else None,
        smtp=bool(s.smtp_url),
        smtp_server=_redacted(s.smtp_url) if s.smtp_url else None,
    )


def health_report(session: Session, platform: Platform) -> dict[str, object]:
    """The console's /healthz body: every brand's revision and error state, failed files."""
    overview = platform_overview(platform)
    database = ping(session)
    degraded = database != "ok" or overview.error_count > 0
    return {
        "status": "degraded" if degraded else "ok",
        "database": database,
        "brands": [{"slug": b.slug, "revision": b.revision, "disk_revision": b.disk_revision,
                    "status": "error" if b.errors else "ok", "config_errors": len(b.errors)}
                   for b in overview.brands],
        # file names only: the console's /healthz is open to load balancers
        "failed_files": [{"file": f.name, "config_errors": len(f.errors)}
                         for f in overview.failed],
    }
