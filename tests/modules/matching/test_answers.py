"""Parsing intake answers against a brand's questionnaire (no database, no request)."""

from __future__ import annotations

from typing import Any

import pytest

from modules.matching.services import (
    InvalidAnswers,
    label_for,
    parse_answers,
    visible_questions,
)
from modules.matching.settings import MatchingSettings

SETTINGS = MatchingSettings.model_validate({"questions": [
    {"key": "topic", "type": "single", "label": "Topic", "required": True,
     "matches": "specialty",
     "choices": [{"value": "anxiety", "label": "Anxiety"}, {"value": "stress", "label": "Stress"},
                 {"value": "other", "label": "Something else"}]},
    {"key": "panic", "type": "single", "label": "Panic attacks?", "required": True,
     "show_if": {"question": "topic", "any_of": ["anxiety"]},
     "choices": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]},
    {"key": "panic-often", "type": "scale", "label": "How often?", "required": True,
     "scale_min": 1, "scale_max": 5, "show_if": {"question": "panic", "any_of": ["yes"]}},
    {"key": "modality", "type": "multiple", "label": "Meet how?", "matches": "modality",
     "choices": [{"value": "video", "label": "Video"},
                 {"value": "in_person", "label": "In person"}]},
    {"key": "json", "type": "text", "label": "Anything else?", "max_length": 20},
]})


def parse(**form: Any) -> dict[str, Any]:
    return parse_answers(SETTINGS, {k: v if isinstance(v, list) else [v]
                                    for k, v in form.items()})


def errors_of(**form: Any) -> dict[str, str]:
    with pytest.raises(InvalidAnswers) as exc:
        parse(**form)
    return exc.value.errors


def test_valid_answers_are_typed_and_blanks_left_out():
    answers = parse(topic="anxiety", panic="yes", **{"panic-often": "4"},
                    modality=["video", "in_person", "video"], json="  ", csrf_token="t")
    assert answers == {"topic": "anxiety", "panic": "yes", "panic-often": 4,
                       "modality": ("video", "in_person")}


def test_text_answers_are_trimmed():
    assert parse(topic="stress", json="  I sleep badly ")["json"] == "I sleep badly"


def test_answer_to_a_question_whose_condition_fails_is_ignored():
    answers = parse(topic="stress", panic="yes", **{"panic-often": "5"})
    assert answers == {"topic": "stress"}


def test_required_conditional_question_is_required_only_when_shown():
    assert parse(topic="stress") == {"topic": "stress"}
    assert errors_of(topic="anxiety") == {"panic": "required"}


def test_a_chain_of_conditions_collapses_when_its_first_link_fails():
    # "panic-often" depends on "panic", which only applies to anxiety
    assert parse(topic="other", panic="yes", **{"panic-often": "9"}) == {"topic": "other"}
    assert errors_of(topic="anxiety", panic="yes") == {"panic-often": "required"}


def test_visible_questions_follow_the_answers_given():
    keys = [q.key for q in visible_questions(SETTINGS, {"topic": "anxiety", "panic": "no"})]
    assert keys == ["topic", "panic", "modality", "json"]


def test_missing_required_answer_is_an_error():
    assert errors_of() == {"topic": "required"}
    assert errors_of(topic="   ") == {"topic": "required"}


def test_value_not_among_the_choices_is_an_error():
    assert errors_of(topic="sadness") == {"topic": "not_a_choice"}
    assert errors_of(topic="stress", modality=["video", "phone"]) == {"modality": "not_a_choice"}


def test_several_values_for_a_single_choice_question_are_an_error():
    assert errors_of(topic=["anxiety", "stress"]) == {"topic": "not_a_choice"}


@pytest.mark.parametrize("value", ["0", "6", "-1"])
def test_scale_answer_out_of_range_is_an_error(value):
    assert errors_of(topic="anxiety", panic="yes", **{"panic-often": value}) == {
        "panic-often": "out_of_range"}


def test_scale_answer_that_is_not_a_number_is_an_error():
    assert errors_of(topic="anxiety", panic="yes", **{"panic-often": "often"}) == {
        "panic-often": "invalid"}


def test_over_long_text_is_an_error():
    assert parse(topic="stress", json="x" * 20)["json"] == "x" * 20
    assert errors_of(topic="stress", json="x" * 21) == {"json": "too_long"}


def test_unknown_question_key_is_an_error_of_the_form():
    assert errors_of(topic="stress", diagnosis="x") == {"": "unknown_question"}


def test_every_error_is_reported_at_once():
    errors = errors_of(topic="anxiety", panic="maybe", json="x" * 50, extra="1")
    assert errors == {"panic": "not_a_choice", "json": "too_long", "": "unknown_question"}


@pytest.mark.parametrize(("text", "locale", "expected"), [
    ("Same everywhere", "es", "Same everywhere"),
    ({"en": "Hello", "es": "Hola"}, "es", "Hola"),
    ({"en": "Hello", "es": "Hola"}, "en", "Hello"),
    ({"en": "Hello"}, "es", "Hello"),          # falls back to the brand's locale
    ({"es": "Hola"}, "en", "Hola"),            # then to any locale it has
])
def test_label_in_locale_falls_back_to_brand_locale_then_any(text, locale, expected):
    assert label_for(text, locale, "en") == expected


def test_label_prefers_brand_locale_over_other_locales():
    assert label_for({"es": "Hola", "en": "Hello"}, "fr", "en") == "Hello"
