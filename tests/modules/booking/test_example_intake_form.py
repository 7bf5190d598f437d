"""The example brand's first-visit intake form: a required reason, then how long ago only for
patients who had therapy before."""

from __future__ import annotations

import pytest

from engine.platform import Platform
from modules.booking.questions import IntakeForm, InvalidAnswers, parse_answers


@pytest.fixture
def form(platform: Platform) -> IntakeForm:
    settings = platform.brands["acme-clinic"].loaded.config.module_settings("booking")
    return settings.intake_forms["first-visit"]  # type: ignore[union-attr]


def test_the_example_form_requires_the_reason_for_the_visit(form: IntakeForm) -> None:
    with pytest.raises(InvalidAnswers) as caught:
        parse_answers(form.questions, {"therapy-before": ["no"]})
    assert caught.value.errors == {"reason": "required"}


def test_how_long_ago_counts_only_after_therapy_before(form: IntakeForm) -> None:
    given = {"reason": ["Trouble sleeping"], "therapy-when": ["this-year"]}
    assert parse_answers(form.questions, {**given, "therapy-before": ["yes"]}) == {
        "reason": "Trouble sleeping", "therapy-before": "yes", "therapy-when": "this-year"}
    assert parse_answers(form.questions, {**given, "therapy-before": ["no"]}) == {
        "reason": "Trouble sleeping", "therapy-before": "no"}
