"""Alembic migrations: up from empty, all the way down, up again; the result matches the models.

Runs on a fresh SQLite file and, when DATABASE_URL names PostgreSQL, on a fresh PostgreSQL
database of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from engine.db import make_engine
from engine.migrate import all_metadata, downgrade, upgrade

DATABASE_URL = os.environ.get("DATABASE_URL", "")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A uniquely named, empty PostgreSQL database beside DATABASE_URL's, dropped afterwards."""
    if not DATABASE_URL.startswith("postgresql"):
        pytest.skip("DATABASE_URL does not name PostgreSQL; the PostgreSQL migration run needs "
                    "one (e.g. DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test)")
    name = f"daraport_migrations_{uuid.uuid4().hex[:12]}"
    admin = make_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _differences(url: str) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "compare_server_default": True})
            return list(compare_metadata(context, all_metadata()))
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    model_tables = set(all_metadata().tables)
    upgrade(url)
    assert model_tables <= _tables(url)
    downgrade(url, "base")
    assert _tables(url) <= {"alembic_version"}
    upgrade(url)
    assert model_tables <= _tables(url)


def test_sqlite_migrations_upgrade_downgrade_and_upgrade_again(sqlite_url: str) -> None:
    _round_trip(sqlite_url)


def test_postgres_migrations_upgrade_downgrade_and_upgrade_again(postgres_url: str) -> None:
    _round_trip(postgres_url)


def test_sqlite_migrated_schema_matches_the_models(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    assert _differences(sqlite_url) == []


def test_postgres_migrated_schema_matches_the_models(postgres_url: str) -> None:
    upgrade(postgres_url)
    assert _differences(postgres_url) == []
