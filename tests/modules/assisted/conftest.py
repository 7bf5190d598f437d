"""Assisted fixtures: a brands directory where acme-clinic runs the assisted journey, a client of
that platform, people of each role, and a Monday-working specialist (the booking fixtures)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.platform import Platform
from tests.conftest import BrandClient
from tests.modules.booking.conftest import (  # noqa: F401 (fixtures used by these tests)
    Practice,
    brands,
    practice,
)

# a Wednesday; the specialist works Mondays 09:00-17:00 Europe/Madrid (UTC+1 in March)
NOW = datetime(2026, 2, 25, 12, 0, tzinfo=UTC)
MONDAY_9_MADRID = "2026-03-02T08:00:00+00:00"


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.freeze(NOW):
        yield


def assisted_brands(brands_dir: Path) -> Path:
    """acme-clinic in the assisted journey with the module enabled (wellness-corp unchanged)."""
    path = brands_dir / "acme-clinic.yaml"
    text = path.read_text()
    assert "  mode: directory" in text and "\nmodules:\n" in text
    text = text.replace("  mode: directory", "  mode: assisted", 1)
    text = text.replace("\nmodules:\n", "\nmodules:\n  assisted:\n    search_days: 21\n"
                        "    slots_per_suggestion: 6\n    max_open_requests: 2\n", 1)
    path.write_text(text)
    return brands_dir


@pytest.fixture
def assisted_platform(brands_dir: Path, platform_on: Callable[..., Platform]) -> Platform:
    return platform_on(assisted_brands(brands_dir))


@pytest.fixture
def acme(assisted_platform: Platform) -> BrandConfig:
    """acme-clinic's config as the assisted platform serves it."""
    return assisted_platform.brands["acme-clinic"].loaded.config


@pytest.fixture
def web(assisted_platform: Platform) -> Callable[[], BrandClient]:
    """Factory: a fresh browser on acme-clinic of the assisted platform."""
    return lambda: BrandClient(assisted_platform, "acme.localhost")


@pytest.fixture
def signed_in(web: Callable[[], BrandClient], signin: Callable[..., Any],
              ) -> Callable[[User], BrandClient]:
    """Factory: a browser signed in as ``user`` on acme-clinic."""

    def make(user: User) -> BrandClient:
        client = web()
        resp = signin(client, user.email)
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def coordinator(create_user: Callable[..., User]) -> User:
    return create_user(role="coordinator", name="Carla Coordinator")


@pytest.fixture
def patient(create_user: Callable[..., User]) -> User:
    return create_user(role="patient", name="Pablo Patient")
