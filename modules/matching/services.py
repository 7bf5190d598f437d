"""Matching rules: which questions apply, parsing the answers, and ranking specialists.

Answers are health data. Nothing here stores, caches or logs them: they arrive as arguments and
leave as return values (see the module docstring in ``modules/matching/__init__.py``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from modules.directory import services as directory
from modules.matching.settings import MatchingSettings, Question, Text

AnswerValue = str | int | tuple[str, ...]
Answers = Mapping[str, AnswerValue]
# form keys that are not answers: the CSRF token and the "change my answers" button
RESERVED_KEYS = frozenset({"csrf_token", "_edit"})

ErrorCode = Literal["required", "not_a_choice", "out_of_range", "too_long", "invalid",
                    "unknown_question"]


def label_for(text: Text, locale: str, brand_locale: str) -> str:
    """A label in ``locale``, else in the brand's locale, else in any locale it has."""
    if isinstance(text, str):
        return text
    found = text.get(locale) or text.get(brand_locale)  # type: ignore[call-overload]
    return found or next(iter(text.values()))


def _holds(q: Question, target: Question, answers: Mapping[str, Any]) -> bool:
    assert q.show_if is not None
    given = answers.get(target.key)
    if isinstance(given, list | tuple):
        # several values only make sense for multiple choice; elsewhere they are refused later
        values = {str(v) for v in given} if target.type == "multiple" else set()
    else:
        values = set() if given is None else {str(given)}
    return bool(values & set(q.show_if.any_of))


def visible_questions(settings: MatchingSettings, answers: Mapping[str, Any]) -> list[Question]:
    """The questions that apply to these answers, in order.

    A question with ``show_if`` applies when its condition holds on an earlier question that
    itself applies, so a chain of conditions collapses when its first link does not hold.
    """
    shown: dict[str, Question] = {}
    for q in settings.questions:
        if q.show_if is None:
            shown[q.key] = q
            continue
        target = shown.get(q.show_if.question)
        if target is not None and _holds(q, target, answers):
            shown[q.key] = q
    return list(shown.values())


class InvalidAnswers(Exception):
    """Answers that do not fit the questionnaire: question key -> error code.

    Errors not tied to a question (a key no question has) are under ``""``.
    """

    def __init__(self, errors: Mapping[str, ErrorCode]):
        super().__init__(", ".join(f"{k or 'form'}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def _field(q: Question) -> tuple[Any, Any]:
    default: Any = ... if q.required else None
    if q.type == "single":
        return Literal[tuple(c.value for c in q.choices)] | None, default  # type: ignore[misc]
    if q.type == "multiple":
        values = Literal[tuple(c.value for c in q.choices)]  # type: ignore[misc]
        return tuple[values, ...], Field(... if q.required else (),  # type: ignore[valid-type]
                                         min_length=1 if q.required else 0)
    if q.type == "scale":
        return int | None, Field(default, ge=q.scale_min, le=q.scale_max, strict=False)
    return str | None, Field(default, max_length=q.max_length)


def _name(index: int) -> str:
    # field names are positional: question keys may have dashes or shadow BaseModel attributes
    return f"q{index}"


def answers_model(questions: Sequence[Question]) -> type[BaseModel]:
    """A pydantic model of the answers to ``questions``, by question key (unknown keys are
    errors)."""
    aliases = {_name(i): q.key for i, q in enumerate(questions)}
    model = create_model(  # type: ignore[call-overload]
        "Answers",
        __config__=ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              alias_generator=lambda name: aliases.get(name, name)),
        **{_name(i): _field(q) for i, q in enumerate(questions)},
    )
    return model  # type: ignore[no-any-return]


_CODES: dict[str, ErrorCode] = {
    "missing": "required", "too_short": "required", "literal_error": "not_a_choice",
    "greater_than_equal": "out_of_range", "less_than_equal": "out_of_range",
    "string_too_long": "too_long", "extra_forbidden": "unknown_question",
}


def _raw(settings: MatchingSettings, form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Form values shaped for the answers model: lists for multiple choice, blanks dropped."""
    kinds = {q.key: q.type for q in settings.questions}
    raw: dict[str, Any] = {}
    for key, given in form.items():
        if key in RESERVED_KEYS:
            continue
        values = [v for v in given if v.strip()]
        if not values:
            continue
        if kinds.get(key) == "multiple":
            raw[key] = list(dict.fromkeys(values))
        else:
            # one value per single/scale/text question; several is a tampered form
            raw[key] = values[0] if len(values) == 1 else values
    return raw


def parse_answers(settings: MatchingSettings, form: Mapping[str, Sequence[str]]) -> dict[
        str, AnswerValue]:
    """Validate submitted answers against the brand's questionnaire.

    ``form`` maps a field name to its submitted values (a multidict's ``lists()``). Questions
    whose ``show_if`` does not hold are ignored, answered or not. Returns the answers to the
    applicable questions that were answered; raises :class:`InvalidAnswers` otherwise.
    """
    raw = _raw(settings, form)
    known = {q.key for q in settings.questions}
    shown = visible_questions(settings, raw)
    shown_keys = {q.key for q in shown}
    # hidden questions' answers are dropped, not refused: a browser without JS sends them
    data = {k: v for k, v in raw.items() if k in shown_keys or k not in known}
    try:
        parsed = answers_model(shown).model_validate(data)
    except ValidationError as exc:
        errors: dict[str, ErrorCode] = {}
        for err in exc.errors(include_url=False):
            loc = str(err["loc"][0]) if err["loc"] else ""
            code = _CODES.get(err["type"], "invalid")
            key = "" if code == "unknown_question" else loc
            errors.setdefault(key, code)
        raise InvalidAnswers(errors) from None
    out: dict[str, AnswerValue] = {}
    for i, q in enumerate(shown):
        value = getattr(parsed, _name(i))
        if value not in (None, ()):
            out[q.key] = value
    return out


class Matchable(Protocol):
    """What ranking reads of a profile (``modules.directory.models.Profile`` fits)."""

    id: Any
    display_name: str

    def values(self, kind: str) -> list[str]: ...


@dataclass(frozen=True)
class Reason:
    """Why a profile matched: it has ``value`` for ``kind`` (a specialty, language, modality).

    ``label`` is the label of the patient's chosen answer, shown for specialties.
    """

    kind: Literal["specialty", "language", "modality"]
    value: str
    label: Text


@dataclass(frozen=True)
class Match:
    profile: Any  # a Matchable; typed loosely so templates get the ORM profile back
    score: float
    reasons: tuple[Reason, ...]


def _sort_name(name: str) -> tuple[str, str]:
    """'Álex' sorts with 'alex', before 'bea' (accents and case only break ties)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name)
                    if not unicodedata.combining(c))
    return plain.casefold(), name.casefold()


def _norm(value: str) -> str:
    # profiles store specialties lowercased with single spaces (see directory.schemas)
    return " ".join(value.split()).lower()


def _score(profile: Matchable, answers: Answers, questions: Iterable[Question],
           settings: MatchingSettings) -> tuple[float, list[Reason]] | None:
    """The profile's score and reasons, or None when a ``must_match`` answer is not met."""
    score = 0.0
    reasons: list[Reason] = []
    for q in questions:
        if q.matches is None or q.key not in answers:
            continue
        answer = answers[q.key]
        chosen = [answer] if isinstance(answer, str) else [str(v) for v in answer]  # type: ignore[union-attr]
        has = {_norm(v) for v in profile.values(q.matches)}
        met = [v for v in chosen if _norm(v) in has]
        if q.must_match and not met:
            return None
        weight = getattr(settings.weights, q.matches)
        if q.matches == "specialty":
            # topics are needs: each one the specialist covers adds its share
            score += weight * len(met) / len(chosen)
        elif met:
            # languages and modalities are alternatives the patient accepts: any one is enough
            score += weight
        labels = {c.value: c.label for c in q.choices}
        reasons += [Reason(q.matches, v, labels.get(v, v)) for v in met]
    return score, reasons


def rank(profiles: Iterable[Matchable], answers: Answers,
         settings: MatchingSettings) -> list[Match]:
    """The shortlist: at most ``settings.shortlist_size`` profiles that match, best first.

    The score sums the specialty, language and modality weights of the answers a profile meets.
    The availability, price and capacity weights are not applied yet: they need the booking
    module's calendars and prices. Profiles that meet nothing are left out. Ties are broken by
    name (ignoring case and accents), then by id, so the same answers always give the same list.
    """
    questions = visible_questions(settings, answers)
    matches: list[Match] = []
    for profile in profiles:
        result = _score(profile, answers, questions, settings)
        if result is not None and result[0] > 0:
            matches.append(Match(profile, round(result[0], 6), tuple(result[1])))
    matches.sort(key=lambda m: (-m.score, _sort_name(m.profile.display_name), m.profile.id))
    return matches[:settings.shortlist_size]


def shortlist(session: Session, brand: BrandConfig, answers: Answers,
              settings: MatchingSettings) -> list[Match]:
    """Rank the specialists listed on ``brand`` (the directory's rule) for these answers."""
    # every listed profile is scored in Python: a brand lists hundreds, not millions, and the
    # weights (and, with booking, availability) do not translate to one SQL ORDER BY
    return rank(directory.listed_profiles(session, brand), answers, settings)
