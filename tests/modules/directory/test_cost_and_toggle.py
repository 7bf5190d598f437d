"""The directory page's database cost, and a brand without the directory."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.test import Client

from engine.app import build_brand_app

# an anonymous visitor's page: the data version (the page cache's key), the count, the page of
# profiles, their tags, the filter options
SELECTS_PER_PAGE = 5


@contextmanager
def counting_selects(engine: Engine) -> Iterator[list[str]]:
    """The SELECT statements run on ``engine`` inside the block."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def selects_for(client: Any, engine: Engine, path: str) -> int:
    with counting_selects(engine) as seen:
        resp = client.get(path)
    assert resp.status_code == 200
    return len(seen)


def test_directory_page_costs_a_small_constant_number_of_queries(client, make_specialist,
                                                                 db_engine, tag):
    for i in range(3):
        make_specialist(f"Few {i}", specialties=["a", "b"], languages=["es", "en"],
                        modalities=["video", "in_person"])
    few = selects_for(client, db_engine, f"/specialists/?specialty={tag}")
    for i in range(47):
        make_specialist(f"Many {i:02d}", specialties=["a", "b", f"c{i}"],
                        languages=["es", "en"], modalities=["video", "in_person"])
    # 50 specialists: a full first page, a middle page, an unfiltered page, a search
    many = [selects_for(client, db_engine, path) for path in (
        f"/specialists/?specialty={tag}", f"/specialists/?specialty={tag}&page=3",
        "/specialists/", f"/specialists/?q=many&specialty={tag}&language=es&sort=newest")]
    assert few == SELECTS_PER_PAGE
    assert many == [few] * 4


def test_a_cached_page_costs_one_query_for_the_data_version(client, make_specialist, db_engine,
                                                           tag):
    _, profile = make_specialist("Cached Cost")
    for path in (f"/specialists/?specialty={tag}", f"/specialists/{profile.id}"):
        assert selects_for(client, db_engine, path) > 1  # rendered and stored
        assert selects_for(client, db_engine, path) == 1  # served from the cache


def test_profile_page_costs_a_constant_number_of_queries(client, make_specialist, db_engine):
    _, small = make_specialist("Small", specialties=["a"])
    _, large = make_specialist("Large", specialties=[f"s{i}" for i in range(11)],
                               languages=["es", "en", "ca"], modalities=["video", "in_person"])
    assert selects_for(client, db_engine, f"/specialists/{small.id}") == \
        selects_for(client, db_engine, f"/specialists/{large.id}") <= 3


def test_disabled_directory_routes_answer_404(platform, db):
    # No valid brand file can switch the directory off today (every journey needs it; see the
    # issue note), so the app is built from the loaded acme-clinic config with it disabled.
    loaded = platform.brands["acme-clinic"].loaded
    cfg = loaded.config
    modules = cfg.modules.model_copy(update={
        "directory": cfg.modules.directory.model_copy(update={"enabled": False})})
    off = cfg.model_copy(update={"modules": modules})
    assert "directory" not in off.enabled_modules()
    app = build_brand_app(dataclasses.replace(loaded, config=off), platform.runtime)
    client = Client(app)
    base = "http://acme.localhost"
    for path in ("/specialists/", "/specialists/1", "/specialists/1/photo",
                 "/specialist/profile/"):
        assert client.get(path, base_url=base).status_code == 404, path
    # and no navigation links to it (the home page links the journey, which this config lacks)
    signin = client.get("/account/signin", base_url=base)
    assert signin.status_code == 200
    assert 'href="/specialists/"' not in signin.get_data(as_text=True)
    # the same brand with the directory on answers and links it
    on = Client(platform.app_for("acme-clinic"))
    assert on.get("/specialists/", base_url=base).status_code == 200
    assert 'href="/specialists/"' in on.get("/account/signin", base_url=base).get_data(
        as_text=True)
