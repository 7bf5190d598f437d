"""The directory page's cards: plain values read in two queries, the same tags and order as the
profile they summarize."""

from __future__ import annotations

from typing import Any

from engine.platform import Platform
from modules.directory import services
from modules.directory.schemas import DirectoryQuery
from tests.modules.directory.conftest import MakeSpecialist


def test_cards_carry_each_kind_of_tag_sorted_as_on_the_profile(
        platform: Platform, db: Any, make_specialist: MakeSpecialist, tag: str) -> None:
    make_specialist("Olga Cards", headline="Terapia breve",
                    specialties=["zeta", "ansiedad", "duelo"], languages=["fr", "es", "ca"],
                    modalities=["video", "in_person"])
    make_specialist("Pia Plain", specialties=[], languages=[], modalities=[])
    acme = platform.brands["acme-clinic"].loaded.config
    page = services.search(db, acme, DirectoryQuery(specialty=tag), 10, "name")
    assert [c.display_name for c in page.items] == ["Olga Cards", "Pia Plain"]
    for card in page.items:
        profile = services.listed_profile(db, card.id, acme)
        assert (card.headline, card.has_photo) == (profile.headline, bool(profile.photo))
        assert card.specialties == tuple(profile.values("specialty"))
        assert card.languages == tuple(profile.values("language"))
        assert card.modalities == tuple(profile.values("modality"))
    olga = page.items[0]
    assert olga.specialties == ("ansiedad", "duelo", tag, "zeta")
    assert olga.languages == ("ca", "es", "fr")
    assert olga.modalities == ("in_person", "video")


def test_card_shows_photo_and_profile_links_under_the_list_url(
        client: Any, db: Any, make_specialist: MakeSpecialist, tag: str) -> None:
    _, with_photo = make_specialist("Quima Photo")
    _, without = make_specialist("Rosa Initials")
    with_photo.photo = "abc.png"
    db.flush()
    body = client.get(f"/specialists/?specialty={tag}").get_data(as_text=True)
    assert f'<img class="avatar" src="/specialists/{with_photo.id}/photo"' in body
    assert f'<h2><a href="/specialists/{with_photo.id}">Quima Photo</a></h2>' in body
    assert f'<h2><a href="/specialists/{without.id}">Rosa Initials</a></h2>' in body
    assert f"/specialists/{without.id}/photo" not in body
    assert '<span class="avatar avatar-initials" aria-hidden="true">R</span>' in body
