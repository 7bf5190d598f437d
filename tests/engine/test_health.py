"""GET /healthz: what an operator or a load balancer needs, as JSON, even when things break."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.config.loader import revision_of
from engine.db import make_engine
from engine.platform import Platform
from engine.runtime import Runtime, set_current
from engine.settings import PlatformSettings
from tests.conftest import BRAND_HOSTS, BrandClient

BRANDS = ["acme-clinic", "wellness-corp"]


@pytest.mark.parametrize("slug", BRANDS)
def test_healthz_reports_brand_revision_modules_and_database(
        client_for: Callable[[str], BrandClient], platform: Platform, slug: str) -> None:
    resp = client_for(slug).get("/healthz")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["Cache-Control"] == "no-store"
    path: Path = platform.brands[slug].loaded.path
    file_bytes = path.read_bytes()
    assert resp.json["brand"] == slug
    assert resp.json["revision"] == revision_of(file_bytes)
    assert resp.json["revision"] == hashlib.sha256(file_bytes).hexdigest()[:16]
    assert resp.json["modules"] == list(platform.brands[slug].loaded.config.enabled_modules())
    assert resp.json["database"] == "ok"
    assert resp.json["config_error"] is None


def test_healthz_modules_differ_per_brand(client_for: Callable[[str], BrandClient]) -> None:
    assert "matching" not in client_for("acme-clinic").get("/healthz").json["modules"]
    assert "matching" in client_for("wellness-corp").get("/healthz").json["modules"]


@pytest.fixture
def broken_database_platform(settings: PlatformSettings, platform: Platform,
                             tmp_path: Path) -> Iterator[Platform]:
    """The example brands bound to a database that cannot be opened."""
    unreachable: Engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'no.db'}")
    try:
        yield Platform(Runtime.create(replace(settings), bind=unreachable))
    finally:
        unreachable.dispose()
        set_current(platform.runtime)
        set_current(platform.runtime)


@pytest.mark.parametrize("slug", BRANDS)
def test_healthz_answers_503_json_when_the_database_is_down(
        broken_database_platform: Platform, slug: str) -> None:
    resp = BrandClient(broken_database_platform, BRAND_HOSTS[slug]).get("/healthz")
    assert resp.status_code == 503
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json["brand"] == slug
    assert resp.json["database"].startswith("error")
    assert resp.json["status"] != "ok"
    assert "no.db" not in resp.get_data(as_text=True)  # no connection details leak


def test_healthz_answers_503_when_postgres_is_unreachable(settings: PlatformSettings,
                                                          platform: Platform) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    unreachable = make_engine("postgresql://nobody@127.0.0.1:9/none",
                              connect_args={"connect_timeout": 2})
    try:
        platform = Platform(Runtime.create(replace(settings), bind=unreachable))
        resp = BrandClient(platform, BRAND_HOSTS["acme-clinic"]).get("/healthz")
        assert resp.status_code == 503
        assert resp.json["database"].startswith("error")
        assert "nobody" not in resp.get_data(as_text=True)
    finally:
        unreachable.dispose()
        set_current(platform.runtime)


def test_database_status_is_rechecked_after_its_short_cache(
        settings: PlatformSettings, db_engine: Engine, tmp_path: Path,
        platform: Platform) -> None:
    rt = Runtime.create(replace(settings), bind=db_engine)
    set_current(platform.runtime)
    try:
        assert rt.database_status() == "ok"
        rt.engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'no.db'}")
        assert rt.database_status() == "ok"  # within the second: the cached answer
        assert rt.database_status(max_age=0).startswith("error: ")
        assert rt.database_status().startswith("error: ")
    finally:
        rt.engine.dispose()


def test_platform_answers_healthz_like_the_brand_app_without_a_session(
        platform: Platform, client_for: Callable[[str], BrandClient]) -> None:
    client = client_for("acme-clinic")
    through_platform = client.get("/healthz")
    app_client = platform.app_for("acme-clinic").test_client()
    through_app = app_client.get("/healthz", base_url="http://acme.localhost")
    assert through_platform.json == through_app.json
    assert through_platform.status_code == through_app.status_code == 200
    assert "Set-Cookie" not in through_platform.headers
    assert through_platform.headers["Vary"] == "Host"
    assert through_platform.headers["Cache-Control"] == "no-store"
    assert client.head("/healthz").get_data() == b""
    assert client.post("/healthz").status_code == 405  # only GET/HEAD take the fast path
