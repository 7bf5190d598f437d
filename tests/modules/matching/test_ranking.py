"""rank(profiles, answers, settings): scores, reasons, order and ties — without a database
(profiles are transient directory models)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modules.directory.models import Profile, Tag
from modules.matching.services import Reason, rank
from modules.matching.settings import MatchingSettings


def profile(pid: int, name: str, *, specialties: Sequence[str] = (),
            languages: Sequence[str] = (), modalities: Sequence[str] = ()) -> Profile:
    tags = [Tag(kind="specialty", value=v) for v in specialties] + \
        [Tag(kind="language", value=v) for v in languages] + \
        [Tag(kind="modality", value=v) for v in modalities]
    return Profile(id=pid, display_name=name, tags=tags)


def settings(**extra: Any) -> MatchingSettings:
    return MatchingSettings.model_validate({"shortlist_size": 10, **extra})


def names(matches: Sequence[Any]) -> list[str]:
    return [m.profile.display_name for m in matches]


def test_profiles_are_ranked_by_weighted_score():
    # defaults: specialty 3, language 2, modality 1
    people = [
        profile(1, "Only video", modalities=["video"]),
        profile(2, "Speaks Spanish", languages=["es"]),
        profile(3, "Anxiety in English", specialties=["anxiety"], languages=["en"]),
        profile(4, "Everything", specialties=["anxiety"], languages=["es"],
                modalities=["video"]),
        profile(5, "Anxiety", specialties=["anxiety"]),
    ]
    answers = {"topic": "anxiety", "language": "es", "modality": ("video",)}
    matches = rank(people, answers, settings())
    assert names(matches) == ["Everything", "Anxiety", "Anxiety in English", "Speaks Spanish",
                              "Only video"]
    assert [m.score for m in matches] == [6, 3, 3, 2, 1]


def test_weights_from_settings_change_the_order():
    people = [profile(1, "Anxiety", specialties=["anxiety"]),
              profile(2, "Spanish", languages=["es"])]
    answers = {"topic": "anxiety", "language": "es"}
    assert names(rank(people, answers, settings())) == ["Anxiety", "Spanish"]
    heavy_language = settings(weights={"specialty": 1, "language": 5})
    assert names(rank(people, answers, heavy_language)) == ["Spanish", "Anxiety"]


def test_each_match_says_why():
    people = [profile(1, "Ana", specialties=["anxiety", "grief"], languages=["es", "en"],
                      modalities=["video", "in_person"])]
    answers = {"topic": "anxiety", "language": "es", "modality": ("video",)}
    [match] = rank(people, answers, settings())
    assert match.reasons == (
        Reason("specialty", "anxiety", {"en": "Anxiety", "es": "Ansiedad"}),
        Reason("language", "es", {"en": "Spanish", "es": "Español"}),
        Reason("modality", "video", {"en": "Video", "es": "Vídeo"}),
    )


def test_profiles_that_meet_no_answer_are_left_out():
    people = [profile(1, "Grief only", specialties=["grief"], languages=["de"])]
    assert rank(people, {"topic": "anxiety", "language": "es"}, settings()) == []


def test_ties_are_broken_by_name_ignoring_case_and_accents_then_id():
    people = [profile(7, "bea", languages=["es"]), profile(3, "Álex", languages=["es"]),
              profile(9, "Ana", languages=["es"]), profile(2, "Ana", languages=["es"])]
    matches = rank(people, {"language": "es"}, settings())
    assert [(m.profile.display_name, m.profile.id) for m in matches] == [
        ("Álex", 3), ("Ana", 2), ("Ana", 9), ("bea", 7)]
    assert rank(list(reversed(people)), {"language": "es"}, settings()) == matches


def test_shortlist_is_cut_at_shortlist_size():
    people = [profile(i, f"P{i}", languages=["es"]) for i in range(1, 8)]
    assert names(rank(people, {"language": "es"}, settings(shortlist_size=3))) == [
        "P1", "P2", "P3"]


def test_specialty_answers_add_up_while_any_accepted_language_or_modality_is_enough():
    s = settings(questions=[
        {"key": "topics", "type": "multiple", "label": "Topics", "matches": "specialty",
         "choices": [{"value": "anxiety", "label": "Anxiety"},
                     {"value": "sleep", "label": "Sleep"}]},
        {"key": "modality", "type": "multiple", "label": "Meet", "matches": "modality",
         "choices": [{"value": "video", "label": "Video"},
                     {"value": "in_person", "label": "In person"}]},
    ])
    people = [profile(1, "Both topics", specialties=["anxiety", "sleep"]),
              profile(2, "One topic", specialties=["sleep"]),
              profile(3, "Video", modalities=["video"]),
              profile(4, "Both modalities", modalities=["video", "in_person"])]
    answers = {"topics": ("anxiety", "sleep"), "modality": ("video", "in_person")}
    matches = rank(people, answers, s)
    assert [(m.profile.display_name, m.score) for m in matches] == [
        ("Both topics", 3), ("One topic", 1.5), ("Both modalities", 1), ("Video", 1)]


def test_specialties_match_whatever_their_case_and_spacing():
    s = settings(questions=[
        {"key": "topic", "type": "single", "label": "Topic", "matches": "specialty",
         "choices": [{"value": "Eating  Disorders", "label": "Eating"},
                     {"value": "other", "label": "Other"}]}])
    [match] = rank([profile(1, "Eva", specialties=["eating disorders"])],
                   {"topic": "Eating  Disorders"}, s)
    assert match.reasons[0].value == "Eating  Disorders"


def test_must_match_question_leaves_out_profiles_that_miss_it():
    s = settings(questions=[
        {"key": "language", "type": "single", "label": "Language", "matches": "language",
         "must_match": True,
         "choices": [{"value": "es", "label": "Spanish"}, {"value": "en", "label": "English"}]},
        {"key": "topic", "type": "single", "label": "Topic", "matches": "specialty",
         "choices": [{"value": "anxiety", "label": "Anxiety"},
                     {"value": "stress", "label": "Stress"}]}])
    people = [profile(1, "Anxiety, English", specialties=["anxiety"], languages=["en"]),
              profile(2, "Spanish", languages=["es"])]
    assert names(rank(people, {"language": "es", "topic": "anxiety"}, s)) == ["Spanish"]


def test_answers_to_questions_whose_condition_fails_do_not_count():
    s = settings(questions=[
        {"key": "topic", "type": "single", "label": "Topic",
         "choices": [{"value": "anxiety", "label": "Anxiety"},
                     {"value": "stress", "label": "Stress"}]},
        {"key": "meet", "type": "single", "label": "Meet", "matches": "modality",
         "show_if": {"question": "topic", "any_of": ["anxiety"]},
         "choices": [{"value": "video", "label": "Video"},
                     {"value": "in_person", "label": "In person"}]}])
    people = [profile(1, "Video", modalities=["video"])]
    assert names(rank(people, {"topic": "anxiety", "meet": "video"}, s)) == ["Video"]
    assert rank(people, {"topic": "stress", "meet": "video"}, s) == []


def test_questions_not_matched_against_profiles_do_not_change_the_score():
    s = settings(questions=[
        {"key": "topic", "type": "single", "label": "Topic", "matches": "specialty",
         "choices": [{"value": "anxiety", "label": "Anxiety"},
                     {"value": "stress", "label": "Stress"}]},
        {"key": "mood", "type": "scale", "label": "Mood"},
        {"key": "story", "type": "text", "label": "Story"}])
    [match] = rank([profile(1, "A", specialties=["anxiety"])],
                   {"topic": "anxiety", "mood": 2, "story": "anxiety"}, s)
    assert match.score == 3
    assert [r.kind for r in match.reasons] == ["specialty"]
