"""Alembic, configured in code so `cli.py db ...` and the tests share one path."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> str:
    command.upgrade(alembic_config(url), revision)
    return _safe(url)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def revision(url: str, message: str) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True)


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def all_metadata():  # type: ignore[no-untyped-def]
    """The metadata of the engine's and every installed module's models."""
    import engine.audit_models  # noqa: F401
    import engine.crypto_keys  # noqa: F401
    import engine.identity.models  # noqa: F401
    import engine.notify  # noqa: F401
    import engine.privacy.models  # noqa: F401
    import engine.scheduler_models  # noqa: F401
    import engine.sms  # noqa: F401
    from engine.db import Base
    from engine.modules import registry

    registry().import_models()
    return Base.metadata
