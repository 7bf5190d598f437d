"""What the benchmarks that drive the engine share: a migrated platform on a given database,
and a temporary PostgreSQL database made beside a server's and dropped afterwards."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from engine.db import make_engine  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.platform import Platform  # noqa: E402
from engine.runtime import Runtime, set_current  # noqa: E402
from engine.settings import PlatformSettings  # noqa: E402


def open_platform(url: str, data_dir: Path, brands_dir: Path = ROOT / "brands") -> Platform:
    """The example brands (or ``brands_dir``) served from ``url``, migrated first; the
    process's current runtime."""
    upgrade(url)
    settings = PlatformSettings.from_env(
        brands_dir=brands_dir, themes_dir=ROOT / "themes", data_dir=data_dir,
        database_url=url, secret_key="bench", redis_url=None, smtp_url=None, reload=False,
        argon2_fast=True)
    platform = Platform(Runtime.create(settings))
    set_current(platform.runtime)
    return platform


@contextmanager
def postgres_database(base: str, label: str = "bench") -> Iterator[str]:
    """The URL of a fresh database on the PostgreSQL server ``base`` names, dropped at the
    end (a leftover of an interrupted run of the same process id is dropped first)."""
    server = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1)
                      if base.startswith("postgresql://") else base)
    name = f"daraport_bench_{label}_{os.getpid()}"
    admin = make_engine(server.render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
