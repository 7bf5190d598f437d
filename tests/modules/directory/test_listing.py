"""The public directory: who is listed on which brand, search, filters, sort, pages, errors."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.identity.models import SpecialistMembership
from modules.directory.models import Profile


def names(resp: Any) -> list[str]:
    """The specialist names of a directory page, in order."""
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    found = re.findall(r'<h2><a href="/specialists/\d+">([^<]+)</a></h2>',
                       resp.get_data(as_text=True))
    return [html.unescape(n) for n in found]


def test_listing_shows_only_active_members_of_this_brand_with_visible_listings(
        client_for, make_specialist, db, tag):
    make_specialist("Ana Listed")
    make_specialist("Bea Hidden", hidden_on=("acme-clinic",))
    inactive, _ = make_specialist("Carla Inactive")
    db.scalars(select(SpecialistMembership).where(
        SpecialistMembership.user_id == inactive.id)).one().active = False
    make_specialist("Dora Elsewhere", brands=("wellness-corp",))
    db.flush()

    assert names(client_for("acme-clinic").get(f"/specialists/?specialty={tag}")) == \
        ["Ana Listed"]


def test_specialist_hidden_on_one_brand_stays_listed_on_the_other(client_for, make_specialist,
                                                                  tag):
    _, profile = make_specialist("Eva Shared", brands=("acme-clinic", "wellness-corp"),
                                 hidden_on=("acme-clinic",))
    acme, wellness = client_for("acme-clinic"), client_for("wellness-corp")

    assert names(acme.get(f"/specialists/?specialty={tag}")) == []
    assert names(wellness.get(f"/specialists/?specialty={tag}")) == ["Eva Shared"]
    assert acme.get(f"/specialists/{profile.id}").status_code == 404
    assert wellness.get(f"/specialists/{profile.id}").status_code == 200


def test_shared_specialist_appears_on_both_example_brands(client_for, make_specialist, tag):
    _, profile = make_specialist("Fina Both", brands=("acme-clinic", "wellness-corp"))
    for brand in ("acme-clinic", "wellness-corp"):
        client = client_for(brand)
        assert names(client.get(f"/specialists/?specialty={tag}")) == ["Fina Both"]
        page = client.get(f"/specialists/{profile.id}")
        assert page.status_code == 200
        assert "Fina Both" in page.get_data(as_text=True)


@pytest.mark.parametrize("q", ["zelda", "ZELDA", "grief counsellor", "sueño profundo"])
def test_search_matches_name_headline_and_specialty(client, make_specialist, tag, q):
    make_specialist("Zelda Search", headline="Grief counsellor",
                    specialties=["sueño profundo"])
    make_specialist("Other Person", headline="Something else", specialties=["nutrition"])
    assert names(client.get("/specialists/", query_string={"q": q, "specialty": tag})) == \
        ["Zelda Search"]


def test_search_takes_wildcards_literally(client, make_specialist, tag):
    make_specialist("Plain Name", headline="plain")
    make_specialist("Fifty% Name", headline="50% off")
    assert names(client.get("/specialists/", query_string={"q": "%", "specialty": tag})) == \
        ["Fifty% Name"]
    assert names(client.get("/specialists/", query_string={"q": "_", "specialty": tag})) == []


@pytest.mark.parametrize(("param", "value"), [("specialty", "ansiedad"), ("language", "en"),
                                              ("modality", "in_person")])
def test_each_filter_keeps_only_matching_specialists(client, make_specialist, tag, param,
                                                     value):
    make_specialist("Match Me", specialties=["ansiedad"], languages=["en", "es"],
                    modalities=["in_person", "video"])
    make_specialist("Not Me", specialties=["depresión"], languages=["es"],
                    modalities=["video"])
    # every filter alone, combined with the test's tag through search text
    resp = client.get("/specialists/", query_string={param: value, "q": tag})
    assert names(resp) == ["Match Me"]
    assert names(client.get("/specialists/", query_string={"q": tag})) == ["Match Me", "Not Me"]


def test_filter_options_offer_only_values_of_listed_profiles(client, make_specialist, tag):
    make_specialist("Shown One", specialties=["visible topic"])
    make_specialist("Hidden One", specialties=["secret topic"], hidden_on=("acme-clinic",))
    page = client.get("/specialists/").get_data(as_text=True)
    assert '<option value="visible topic"' in page
    assert "secret topic" not in page


def test_sort_by_name_or_newest(client, make_specialist, tag):
    base = datetime(2024, 1, 1, tzinfo=UTC)
    make_specialist("Bruno", created_at=base + timedelta(days=2))
    make_specialist("alicia", created_at=base + timedelta(days=1))
    make_specialist("Carlos", created_at=base)
    make_specialist("Álvaro", created_at=base - timedelta(days=1))
    by_name = names(client.get(f"/specialists/?specialty={tag}&sort=name"))
    newest = names(client.get(f"/specialists/?specialty={tag}&sort=newest"))
    assert by_name == ["alicia", "Álvaro", "Bruno", "Carlos"]
    assert newest == ["Bruno", "alicia", "Carlos", "Álvaro"]


@pytest.mark.parametrize("q", ["alvaro", "ÁLVARO", "álvaro", "nino", "NIÑO"])
def test_search_ignores_accents_and_case(client, make_specialist, tag, q):
    make_specialist("Álvaro Núñez", specialties=["psicología del niño"])
    make_specialist("Alba Ortiz")
    found = names(client.get("/specialists/", query_string={"q": q, "specialty": tag}))
    assert found == ["Álvaro Núñez"]


def test_pages_follow_the_brand_page_size_and_link_to_each_other(client_for, make_specialist,
                                                                  tag):
    # wellness-corp shows 9 per page
    for i in range(11):
        make_specialist(f"Person {i:02d}", brands=("wellness-corp",))
    wellness = client_for("wellness-corp")
    first = wellness.get(f"/specialists/?specialty={tag}")
    second = wellness.get(f"/specialists/?specialty={tag}&page=2")
    assert names(first) == [f"Person {i:02d}" for i in range(9)]
    assert names(second) == ["Person 09", "Person 10"]
    first_html = first.get_data(as_text=True)
    assert f'rel="next" href="/specialists/?specialty={tag}&amp;page=2"' in first_html
    assert 'rel="prev"' not in first_html
    assert f'rel="prev" href="/specialists/?specialty={tag}&amp;page=1"' in \
        second.get_data(as_text=True)


def test_page_beyond_the_end_shows_the_last_page(client, make_specialist, tag):
    for i in range(13):  # acme-clinic shows 12 per page
        make_specialist(f"Person {i:02d}")
    resp = client.get(f"/specialists/?specialty={tag}&page=99")
    assert names(resp) == ["Person 12"]
    assert "2 / 2" in resp.get_data(as_text=True) or "2 of 2" in resp.get_data(as_text=True) \
        or "2 de 2" in resp.get_data(as_text=True)


@pytest.mark.parametrize("page", ["0", "abc", "-1", "10001", ""])
def test_invalid_page_answers_400_naming_the_field(client, page):
    resp = client.get(f"/specialists/?page={page}", headers={"Accept": "application/json"})
    assert resp.status_code == 400
    assert resp.json["field"] == "page"
    assert "page" in resp.json["message"]
    html_resp = client.get(f"/specialists/?page={page}")
    assert html_resp.status_code == 400
    assert "page" in html_resp.get_data(as_text=True)


@pytest.mark.parametrize(("param", "value"), [("language", "xx"), ("modality", "phone"),
                                              ("sort", "price")])
def test_invalid_filter_value_answers_400_naming_the_field(client, param, value):
    resp = client.get("/specialists/", query_string={param: value},
                      headers={"Accept": "application/json"})
    assert resp.status_code == 400
    assert resp.json["field"] == param
    assert param in resp.json["message"]


def test_unknown_query_parameter_answers_400_naming_it(client):
    resp = client.get("/specialists/?colour=blue", headers={"Accept": "application/json"})
    assert resp.status_code == 400
    assert resp.json["error"] == "invalid_query"
    assert resp.json["field"] == "colour"
    assert "colour" in resp.json["message"]
    page = client.get("/specialists/?colour=blue")
    assert page.status_code == 400
    assert "colour" in page.get_data(as_text=True)


def test_profile_page_shows_the_profile(client, make_specialist):
    _, profile = make_specialist("Gala Profile", headline="Psicóloga",
                                 specialties=["ansiedad"], languages=["es", "en"])
    page = client.get(f"/specialists/{profile.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Gala Profile" in body and "Psicóloga" in body and "Ansiedad" in body


def test_profile_not_listed_on_this_brand_answers_404(client, make_specialist, db):
    _, elsewhere = make_specialist("Hana Wellness", brands=("wellness-corp",))
    _, hidden = make_specialist("Iris Hidden", hidden_on=("acme-clinic",))
    missing = (db.scalar(select(Profile.id).order_by(Profile.id.desc())) or 0) + 1000
    for profile_id in (elsewhere.id, hidden.id, missing):
        assert client.get(f"/specialists/{profile_id}").status_code == 404
        assert client.get(f"/specialists/{profile_id}/photo").status_code == 404
