"""Console fixtures: a client on the admin host, a signed-in operator, a platform on a scratch
copy of brands/ whose requests join the test's rolled-back transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from werkzeug.test import TestResponse

from engine.db import make_sessionmaker
from engine.identity.models import PLATFORM_REALM, User
from engine.platform import Platform
from engine.runtime import Runtime, set_current
from engine.settings import PlatformSettings
from tests.conftest import PASSWORD, BrandClient
from tests.security.support import enroll, next_code

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
def console_signin(db: Any) -> Callable[..., TestResponse]:
    """Sign in with the password and, when asked, a fresh code of the operator's authenticator
    (operators always have a second step; see tests/security for its own tests)."""

    def do(client: BrandClient, email: str, password: str = PASSWORD,
           path: str = "/signin") -> TestResponse:
        resp = client.submit(path, {"email": email, "password": password})
        if resp.status_code == 302 and resp.headers["Location"] == "/signin/code":
            user = db.scalar(select(User).where(User.realm == PLATFORM_REALM,
                                                User.email == email))
            resp = client.submit("/signin/code", {"code": next_code(db, user)})
        return resp

    return do


@pytest.fixture
def operator(create_user: Callable[..., User], db: Any) -> User:
    user = create_user(role="operator", brand=None, name="Olga Operator")
    enroll(db, user)
    return user


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
