"""Every rule of the matching section of brand YAML (modules/matching/settings.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from modules.matching.settings import MatchingSettings, Question, Weights


def topic(**extra: Any) -> dict[str, Any]:
    return {"key": "topic", "type": "single", "label": "Topic", "matches": "specialty",
            "choices": [{"value": "anxiety", "label": "Anxiety"},
                        {"value": "stress", "label": "Stress"}], **extra}


def settings_with(*questions: dict[str, Any], **extra: Any) -> MatchingSettings:
    return MatchingSettings.model_validate({"questions": list(questions), **extra})


def assert_refused(match: str, *questions: dict[str, Any], **extra: Any) -> None:
    with pytest.raises(ValidationError, match=match):
        settings_with(*questions, **extra)


def test_default_settings_are_a_working_questionnaire():
    s = MatchingSettings()
    assert [q.key for q in s.questions] == ["topic", "language", "modality"]
    assert s.shortlist_size == 3


def test_unknown_keys_are_refused_at_every_level():
    assert_refused("Extra inputs", topic(colour="red"))
    assert_refused("Extra inputs", topic(), shortlist=3)
    with pytest.raises(ValidationError, match="Extra inputs"):
        Weights.model_validate({"distance": 1})


@pytest.mark.parametrize("kind", ["single", "multiple"])
def test_choice_question_needs_at_least_two_choices(kind):
    assert_refused("needs at least 2 choices",
                   topic(type=kind, choices=[{"value": "a", "label": "A"}]))


@pytest.mark.parametrize("kind", ["scale", "text"])
def test_scale_and_text_questions_take_no_choices(kind):
    assert_refused("takes no choices", topic(type=kind, matches=None))


def test_scale_min_must_be_below_scale_max():
    assert_refused("scale_min must be below scale_max",
                   {"key": "mood", "type": "scale", "label": "Mood", "scale_min": 5,
                    "scale_max": 5})


def test_scale_has_at_most_eleven_steps():
    ok = {"key": "mood", "type": "scale", "label": "Mood", "scale_min": 0, "scale_max": 10}
    assert settings_with(ok).questions[0].scale_max == 10
    assert_refused("at most 11 steps", {**ok, "scale_max": 11})


def test_scale_settings_only_apply_to_scale_questions():
    assert_refused("only apply to scale questions", topic(scale_max=7))
    assert_refused("only apply to scale questions", topic(scale_min_label="Never"))


def test_max_length_only_applies_to_text_questions():
    assert_refused("max_length only applies to text", topic(max_length=10))
    text = {"key": "story", "type": "text", "label": "Tell us more", "max_length": 10}
    assert settings_with(text).questions[0].max_length == 10


@pytest.mark.parametrize("kind", ["scale", "text"])
def test_only_choice_questions_can_be_matched_against_profiles(kind):
    assert_refused("only choice questions can be matched",
                   {"key": "q1", "type": kind, "label": "Q", "matches": "specialty"})


def test_must_match_needs_a_profile_field():
    assert_refused("must_match needs `matches`", topic(matches=None, must_match=True))


def test_choice_values_are_unique():
    assert_refused("choice values must be unique",
                   topic(choices=[{"value": "a", "label": "A"}, {"value": "a", "label": "B"}]))


@pytest.mark.parametrize(("field", "value"), [("language", "klingon"), ("modality", "phone")])
def test_language_and_modality_choices_must_be_values_a_profile_can_have(field, value):
    assert_refused("can never match a profile",
                   topic(key=field, matches=field,
                         choices=[{"value": value, "label": "X"},
                                  {"value": "video" if field == "modality" else "en",
                                   "label": "Y"}]))


@pytest.mark.parametrize("bad", ["", "   ", {}, {"en": ""}, {"fr": "Bonjour"}])
def test_labels_are_non_empty_strings_or_es_en_mappings(bad):
    with pytest.raises(ValidationError):
        Question.model_validate(topic(label=bad))


def test_question_keys_are_slugs_and_unique():
    assert_refused("should match pattern", topic(key="Topic"))
    assert_refused("used twice", topic(), topic())


def test_questionnaire_has_at_least_one_question():
    assert_refused("at least 1 item", questions=[])


def test_show_if_names_an_earlier_question():
    later = topic(key="detail", show_if={"question": "topic", "any_of": ["anxiety"]})
    assert_refused("not an earlier question", later, topic())
    assert_refused("not an earlier question",
                   topic(), topic(key="detail", show_if={"question": "nope", "any_of": ["x"]}))


def test_show_if_values_are_answers_of_the_question_named():
    assert_refused(r"show_if values \['panic'\]",
                   topic(), topic(key="detail", show_if={"question": "topic",
                                                         "any_of": ["panic"]}))
    mood = {"key": "mood", "type": "scale", "label": "Mood"}
    ok = settings_with(mood, topic(show_if={"question": "mood", "any_of": ["4", "5"]}))
    assert ok.questions[1].show_if is not None
    assert_refused(r"show_if values \['9'\]",
                   mood, topic(show_if={"question": "mood", "any_of": ["9"]}))


def test_show_if_cannot_depend_on_a_text_answer():
    assert_refused("cannot depend on the text question",
                   {"key": "story", "type": "text", "label": "Story"},
                   topic(show_if={"question": "story", "any_of": ["x"]}))


def test_show_if_needs_at_least_one_value():
    assert_refused("at least 1 item",
                   topic(), topic(key="detail", show_if={"question": "topic", "any_of": []}))


@pytest.mark.parametrize("field", ["specialty", "language", "modality", "availability",
                                   "price", "capacity"])
@pytest.mark.parametrize("value", [-1, 101])
def test_each_weight_is_between_0_and_100(field, value):
    with pytest.raises(ValidationError, match=field):
        Weights.model_validate({field: value})


def test_weights_that_apply_today_cannot_all_be_zero():
    with pytest.raises(ValidationError, match="at least one of the specialty"):
        Weights(specialty=0, language=0, modality=0)
    assert Weights(specialty=0, language=0, modality=1).modality == 1


@pytest.mark.parametrize(("field", "bad"), [("shortlist_size", 0), ("shortlist_size", 21),
                                            ("availability_within_days", 0),
                                            ("availability_within_days", 121),
                                            ("price_ceiling", "90,00"),
                                            ("price_ceiling", "-5"),
                                            ("price_ceiling", "9.999")])
def test_numbers_outside_their_range_are_refused(field, bad):
    with pytest.raises(ValidationError, match=field):
        MatchingSettings.model_validate({field: bad})


def test_a_broken_questionnaire_in_a_brand_file_is_reported_with_its_line():
    from engine.config.loader import load_brand_text, load_networks
    from engine.modules import registry
    from engine.settings import ROOT

    text = (ROOT / "brands" / "wellness-corp.yaml").read_text().replace(
        "    shortlist_size: 3\n",
        "    shortlist_size: 3\n    questions:\n      - key: topic\n        type: single\n"
        "        label: Topic\n        choices: [{value: a, label: A}]\n")
    networks, _ = load_networks(ROOT / "brands")
    cfg, _, errors = load_brand_text(text, ROOT / "brands" / "wellness-corp.yaml", registry(),
                                     ROOT / "themes", networks)
    assert cfg is None
    assert any("needs at least 2 choices" in str(e) and e.line > 1 for e in errors), errors
