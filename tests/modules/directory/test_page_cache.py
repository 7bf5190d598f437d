"""The anonymous page cache: a hit answers exactly what the miss did, and any change that shows
on a page (made by any session, as another process would) shows on the next request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from engine.identity.models import SpecialistMembership, User
from engine.platform import Platform
from modules.directory import page_cache, services
from modules.directory.models import Profile
from modules.directory.schemas import ProfileInput
from modules.directory.versioning import current_version
from tests.conftest import BrandClient
from tests.modules.directory.conftest import MakeSpecialist
from tests.modules.directory.test_cost_and_toggle import counting_selects


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    page_cache.pages.clear()
    yield
    page_cache.pages.clear()


def fetch(client: BrandClient, engine: Engine, path: str) -> tuple[Any, bool]:
    """(response, whether it came from the cache: nothing but the data version was read)."""
    with counting_selects(engine) as seen:
        resp = client.get(path)
    return resp, len(seen) == 1 and "directory_version" in seen[0]


def test_a_cache_hit_answers_the_same_status_headers_and_bytes_as_the_miss(
        client: BrandClient, db_engine: Engine, make_specialist: MakeSpecialist,
        tag: str) -> None:
    _, profile = make_specialist("Alba Cached", headline="Terapia")
    for path in (f"/specialists/?specialty={tag}", f"/specialists/{profile.id}"):
        miss, miss_cached = fetch(client, db_engine, path)
        hit, hit_cached = fetch(client, db_engine, path)
        assert (miss_cached, hit_cached) == (False, True)
        assert miss.status_code == hit.status_code == 200
        # every response has its own request id (audit correlation); nothing else may differ
        assert sorted(h for h in miss.headers.items() if h[0] != "X-Request-Id") == \
            sorted(h for h in hit.headers.items() if h[0] != "X-Request-Id")
        assert "Set-Cookie" not in hit.headers
        assert miss.get_data() == hit.get_data()
        assert "Alba Cached" in hit.get_data(as_text=True)


def test_only_successful_pages_are_kept(client: BrandClient) -> None:
    for path, status in (("/specialists/?page=0", 400), ("/specialists/999999999", 404)):
        assert [client.get(path).status_code for _ in range(2)] == [status, status]
    assert len(page_cache.pages) == 0
    assert client.get("/specialists/").status_code == 200
    assert len(page_cache.pages) == 1


def test_a_profile_edit_shows_on_the_next_anonymous_request(
        client: BrandClient, db: Any, platform: Platform, make_specialist: MakeSpecialist,
        tag: str) -> None:
    user, profile = make_specialist("Bruna Before", headline="Old headline")
    paths = (f"/specialists/?specialty={tag}", f"/specialists/{profile.id}")
    for path in paths:
        client.get(path)
        assert "Old headline" in client.get(path).get_data(as_text=True)
    services.save_profile(db, user, platform.brands["acme-clinic"].loaded.config, ProfileInput(
        display_name="Bruna After", headline="New headline", specialties=(tag,)))
    db.flush()
    for path in paths:
        body = client.get(path).get_data(as_text=True)
        assert "Bruna After" in body and "New headline" in body, path
        assert "Old headline" not in body, path


def test_hiding_a_profile_on_this_brand_shows_on_the_next_anonymous_request(
        client: BrandClient, db: Any, make_specialist: MakeSpecialist, tag: str) -> None:
    _, profile = make_specialist("Celia Hidden")
    listing, page = f"/specialists/?specialty={tag}", f"/specialists/{profile.id}"
    assert client.get(page).status_code == 200
    assert "Celia Hidden" in client.get(listing).get_data(as_text=True)
    services.set_visible(db, profile, "acme-clinic", False)
    assert "Celia Hidden" not in client.get(listing).get_data(as_text=True)
    assert client.get(page).status_code == 404
    services.set_visible(db, profile, "acme-clinic", True)
    assert client.get(page).status_code == 200


def test_a_membership_deactivation_shows_on_the_next_anonymous_request(
        client: BrandClient, db: Any, make_specialist: MakeSpecialist, tag: str) -> None:
    user, profile = make_specialist("Dalia Member")
    listing, page = f"/specialists/?specialty={tag}", f"/specialists/{profile.id}"
    for path in (listing, page, listing, page):
        assert "Dalia Member" in client.get(path).get_data(as_text=True)
    membership = db.scalars(select(SpecialistMembership).where(
        SpecialistMembership.user_id == user.id,
        SpecialistMembership.brand_id == "acme-clinic")).one()
    membership.active = False
    db.flush()
    assert "Dalia Member" not in client.get(listing).get_data(as_text=True)
    assert client.get(page).status_code == 404


def test_a_bulk_update_shows_on_the_next_anonymous_request(
        client: BrandClient, db: Any, make_specialist: MakeSpecialist, tag: str) -> None:
    _, profile = make_specialist("Elia Bulk")
    listing = f"/specialists/?specialty={tag}"
    client.get(listing)
    db.execute(update(Profile).where(Profile.id == profile.id)
               .values(display_name="Elia Renamed"))
    assert "Elia Renamed" in client.get(listing).get_data(as_text=True)


def test_a_rolled_back_change_never_shows_and_its_version_is_never_reused(
        client: BrandClient, db: Any, make_specialist: MakeSpecialist, tag: str) -> None:
    make_specialist("Fabia Kept")
    listing = f"/specialists/?specialty={tag}"
    before = current_version(db)
    assert "Fabia Kept" in client.get(listing).get_data(as_text=True)
    savepoint = db.begin_nested()
    make_specialist("Gala Rolledback")
    rolled_back = current_version(db)
    assert "Gala Rolledback" in client.get(listing).get_data(as_text=True)  # cached, too
    savepoint.rollback()
    assert current_version(db) == before
    assert "Gala Rolledback" not in client.get(listing).get_data(as_text=True)
    make_specialist("Hada Later")
    assert current_version(db) not in (before, rolled_back)
    body = client.get(listing).get_data(as_text=True)
    assert "Hada Later" in body and "Gala Rolledback" not in body


def test_signed_in_visitors_are_never_served_from_the_cache(
        client_for: Callable[[str], BrandClient], db_engine: Engine,
        create_user: Callable[..., User], signin: Callable[..., Any],
        make_specialist: MakeSpecialist, tag: str) -> None:
    make_specialist("Iris Public")
    path = f"/specialists/?specialty={tag}"
    anonymous = client_for("acme-clinic")
    anonymous.get(path)
    assert fetch(anonymous, db_engine, path)[1] is True
    stored = len(page_cache.pages)
    patient = create_user("patient", brand="acme-clinic", name="Jana Signedin")
    browser = client_for("acme-clinic")
    assert signin(browser, patient.email).status_code == 302
    for _ in range(2):
        resp, cached = fetch(browser, db_engine, path)
        body = resp.get_data(as_text=True)
        assert not cached
        assert "Jana Signedin" in body and "Iris Public" in body
        assert resp.headers["Cache-Control"] == "private, no-store"
    assert len(page_cache.pages) == stored


def test_a_visitor_with_a_session_is_not_served_from_the_cache(
        client_for: Callable[[str], BrandClient], platform: Platform,
        make_specialist: MakeSpecialist, tag: str) -> None:
    make_specialist("Kira Session")
    path = f"/specialists/?specialty={tag}"
    client = client_for("acme-clinic")
    client.get(path)
    assert client.get(path).status_code == 200  # cached for visitors without a session
    # same brand, locale, zone and path: only the session (a pending message) differs
    app = platform.app_for("acme-clinic")
    serializer = app.session_interface.get_signing_serializer(app)
    assert serializer is not None
    client.set_cookie("daraport", serializer.dumps({"_flashes": [("info", "A pending note")]}),
                      domain=client.host)
    body = client.get(path).get_data(as_text=True)
    assert "A pending note" in body and "Kira Session" in body


def test_one_brands_cached_page_never_serves_another_brand(
        client_for: Callable[[str], BrandClient], platform: Platform,
        make_specialist: MakeSpecialist, tag: str) -> None:
    _, profile = make_specialist("Lia Shared", brands=("acme-clinic", "wellness-corp"))
    names = {slug: platform.brands[slug].loaded.config.name
             for slug in ("acme-clinic", "wellness-corp")}
    for path in (f"/specialists/?specialty={tag}", f"/specialists/{profile.id}"):
        for slug, other in (("acme-clinic", "wellness-corp"), ("wellness-corp", "acme-clinic")):
            for _ in range(2):
                body = client_for(slug).get(path).get_data(as_text=True)
                assert f"· {names[slug]}</title>" in body
                assert f"· {names[other]}</title>" not in body
