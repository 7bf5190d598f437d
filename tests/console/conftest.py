"""Console fixtures: a client on the admin host, a signed-in operator, a platform on a scratch
copy of brands/ whose requests join the test's rolled-back transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from werkzeug.test import TestResponse

from engine.db import make_sessionmaker
from engine.identity.models import User
from engine.platform import Platform
from engine.runtime import Runtime, set_current
from engine.settings import PlatformSettings
from tests.conftest import PASSWORD, BrandClient

CONSOLE_HOST = "admin.localhost"


@pytest.fixture
def console_for(db: Any) -> Callable[[Platform], BrandClient]:
    def make(platform: Platform) -> BrandClient:
        return BrandClient(platform, CONSOLE_HOST)

    return make


@pytest.fixture
def console(platform: Platform, console_for: Callable[[Platform], BrandClient]) -> BrandClient:
    return console_for(platform)


@pytest.fixture
def console_signin() -> Callable[..., TestResponse]:
    def do(client: BrandClient, email: str, password: str = PASSWORD) -> TestResponse:
        return client.submit("/signin", {"email": email, "password": password})

    return do


@pytest.fixture
def operator(create_user: Callable[..., User]) -> User:
    return create_user(role="operator", brand=None, name="Olga Operator")


@pytest.fixture
def operator_console(console: BrandClient, operator: User,
                     console_signin: Callable[..., TestResponse]) -> BrandClient:
    resp = console_signin(console, operator.email)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return console


@pytest.fixture
def scratch_platform(brands_dir: Path, settings: PlatformSettings, db_engine: Engine,
                     platform: Platform, db: Any) -> Iterator[Platform]:
    """A platform serving ``brands_dir`` (a copy tests may edit), on the test's transaction."""
    scratch = Platform(Runtime.create(replace(settings, brands_dir=brands_dir), bind=db_engine))
    scratch.runtime.sessions = make_sessionmaker(db.get_bind())
    try:
        yield scratch
    finally:
        set_current(platform.runtime)


@pytest.fixture
def scratch_console(scratch_platform: Platform, operator: User,
                    console_for: Callable[[Platform], BrandClient],
                    console_signin: Callable[..., TestResponse]) -> BrandClient:
    client = console_for(scratch_platform)
    assert console_signin(client, operator.email).status_code == 302
    return client
