"""Shared fixtures: one migrated test database per run, per-test rollback, a platform serving the
example brands, clients that speak to it by Host, factories, and a live server for real HTTP.

DATABASE_URL selects the database (PostgreSQL in CI); without it a SQLite file in a temp dir.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from flask_babel import gettext
from sqlalchemy import select, text
from sqlalchemy.engine import Engine, make_url
from werkzeug.serving import make_server
from werkzeug.test import Client, TestResponse

from engine.db import brand_session, make_engine, make_sessionmaker
from engine.identity import services as identity
from engine.identity.models import User
from engine.migrate import upgrade
from engine.notify import Email
from engine.platform import Platform
from engine.privacy import consent as privacy_consent
from engine.runtime import Runtime, set_current
from engine.settings import ROOT, PlatformSettings

PASSWORD = "correct horse battery"
BRAND_HOSTS = {"acme-clinic": "acme.localhost", "wellness-corp": "wellness.localhost"}


def _postgres_test_url(url: str, suffix: str = "") -> str:
    """A fresh database beside the one DATABASE_URL names (dropped and created per run)."""
    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)
                    if url.startswith("postgresql://") else url)
    name = f"daraport_test_{os.getpid()}{suffix}"
    admin = make_engine(base.render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _test_database(tmp_path_factory: pytest.TempPathFactory, suffix: str) -> Iterator[str]:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        test_url = _postgres_test_url(url, suffix)
        yield test_url
        admin = make_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(test_url).database}" '
                              f'WITH (FORCE)'))
        admin.dispose()
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db' + suffix) / 'test.db'}"


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The database of the rolled-back tests: nothing committed may stay in it."""
    yield from _test_database(tmp_path_factory, "")


@pytest.fixture(scope="session")
def db_engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def live_db_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A second database for live servers, whose requests commit for real: their data never
    reaches the rolled-back tests' database."""
    for url in _test_database(tmp_path_factory, "_live"):
        upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, db_url: str) -> PlatformSettings:
    return PlatformSettings.from_env(
        brands_dir=ROOT / "brands", themes_dir=ROOT / "themes",
        data_dir=tmp_path_factory.mktemp("data"), database_url=db_url,
        secret_key="test-secret", redis_url=None, smtp_url=None, reload=False,
        argon2_fast=True,
    )


@pytest.fixture(scope="session")
def platform(settings: PlatformSettings, db_engine: Engine) -> Platform:
    """The example brands, built once; each test rebinds its database to a rolled-back one."""
    p = Platform(Runtime.create(settings, bind=db_engine))
    assert not p.errors, p.errors
    return p


@pytest.fixture
def db(platform: Platform, db_engine: Engine) -> Iterator[Any]:
    """A platform-wide session inside a transaction that is rolled back after the test.

    Every request session and job of the test joins the same transaction (as savepoints).
    """
    rt = platform.runtime
    conn = db_engine.connect()
    outer = conn.begin()
    rt.sessions = make_sessionmaker(conn)
    set_current(rt)
    session = brand_session(rt.sessions, None)
    try:
        yield session
    finally:
        session.close()
        if outer.is_active:
            outer.rollback()
        conn.close()
        rt.sessions = make_sessionmaker(db_engine)


class BrandClient(Client):
    """A client that speaks to the platform as a browser on one brand's host would."""

    def __init__(self, app: Any, host: str):
        super().__init__(app)
        self.host = host

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:  # type: ignore[override]
        kwargs.setdefault("base_url", f"http://{self.host}")
        return super().open(*args, **kwargs)

    def csrf(self, path: str = "/account/signin") -> str:
        page = self.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', page) or \
            re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def submit(self, path: str, data: dict[str, Any] | None = None, *,
               form_page: str | None = None, **kwargs: Any) -> TestResponse:
        """POST a form the way a browser would: with the CSRF token of a page of the session."""
        payload = dict(data or {})
        payload.setdefault("csrf_token", self.csrf(form_page or path))
        return self.post(path, data=payload, **kwargs)


@pytest.fixture
def client_for(platform: Platform, db: Any) -> Callable[[str], BrandClient]:
    def make(brand_or_host: str = "acme-clinic") -> BrandClient:
        return BrandClient(platform, BRAND_HOSTS.get(brand_or_host, brand_or_host))

    return make


@pytest.fixture
def client(client_for: Callable[[str], BrandClient]) -> BrandClient:
    return client_for("acme-clinic")


@pytest.fixture
def create_user(platform: Platform, db: Any) -> Callable[..., User]:
    """Factory: ``create_user(role="patient", brand="acme-clinic", email=None, ...)``.

    A patient has given every current consent document of the brand, as one who signed up and
    accepted them would (``consents=False``: none, for tests of consent itself).
    """

    def make(role: str = "patient", brand: str | None = "acme-clinic", email: str | None = None,
             name: str = "Test Person", password: str = PASSWORD, consents: bool = True,
             **kw: Any) -> User:
        cfg = platform.brands[brand].loaded.config if brand else None
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        user = identity.create_user(db, cfg, role=role, email=email, name=name,
                                    password=password, **kw)
        if consents and cfg is not None and role == "patient":
            for doc in privacy_consent.current_documents(cfg):
                privacy_consent.record(db, user, cfg, doc.key, granted=True, method="signup",
                                       brands_dir=platform.runtime.settings.brands_dir)
        db.flush()
        return user

    return make


@pytest.fixture
def signin() -> Callable[..., TestResponse]:
    def do(client: BrandClient, email: str, password: str = PASSWORD) -> TestResponse:
        return client.submit("/account/signin", {"email": email, "password": password})

    return do


@pytest.fixture
def outbox(db: Any) -> Callable[[], list[Email]]:
    def read() -> list[Email]:
        return list(db.scalars(select(Email).order_by(Email.id)))

    return read


def link_in(email: Email) -> str:
    match = re.search(r"https?://\S+", email.body_text or "")
    assert match, "no link in the email"
    return match.group(0)


def spanish(platform: Platform, msgid: str, **params: object) -> str:
    """``msgid`` (filled with ``params``) as acme-clinic's users read it: through the brand's own
    Babel in its default locale, Spanish. Never the English source, so a check against the result
    cannot pass (or, negated, pass vacuously) because the text went untranslated."""
    with platform.app_for("acme-clinic").test_request_context():
        text = str(gettext(msgid, **params))
    english = msgid % params if params else msgid
    assert text != english, f"no Spanish on acme-clinic for {msgid!r}"
    return text


# --- brand files in a scratch directory, and a live server ------------------------------------


@pytest.fixture
def brands_dir(tmp_path: Path) -> Path:
    """A copy of brands/ that a test may edit."""
    target = tmp_path / "brands"
    shutil.copytree(ROOT / "brands", target)
    return target


@pytest.fixture
def platform_on(settings: PlatformSettings, db_engine: Engine, platform: Platform,
                db: Any) -> Callable[..., Platform]:
    """Factory: a platform serving another brands directory (e.g. an edited ``brands_dir``
    copy) whose requests join the test's rolled-back transaction."""

    def make(brands: Path, *, allow_errors: bool = False) -> Platform:
        built = Platform(Runtime.create(replace(settings, brands_dir=brands), bind=db_engine))
        assert allow_errors or not built.errors, built.errors
        built.runtime.sessions = platform.runtime.sessions
        set_current(platform.runtime)
        return built

    return make


@dataclass
class LiveServer:
    platform: Platform
    port: int

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{BRAND_HOSTS.get(host, host)}:{self.port}{path}"


@pytest.fixture
def live_server(settings: PlatformSettings, live_db_engine: Engine,
                ) -> Iterator[Callable[..., LiveServer]]:
    """Factory: a real threaded HTTP server on loopback serving a platform (committed data)."""
    started: list[tuple[Any, threading.Thread, Platform]] = []

    def start(brands: Path | None = None, *, reload: bool = False,
              reload_interval: float = 0.2) -> LiveServer:
        s = replace(settings, brands_dir=brands or settings.brands_dir, reload=reload,
                    reload_interval=reload_interval)
        platform = Platform(Runtime.create(s, bind=live_db_engine))
        server = make_server("127.0.0.1", 0, platform, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        if reload:
            platform.start_watching()
        started.append((server, thread, platform))
        return LiveServer(platform, server.server_port)

    yield start
    for server, thread, platform in started:
        platform.stop_watching()
        server.shutdown()
        thread.join(5)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
