"""Matching rules: which questions apply, parsing the answers, and ranking specialists.

Answers are health data. Nothing here stores, caches or logs them: they arrive as arguments and
leave as return values (see the module docstring in ``modules/matching/__init__.py``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy.orm import Session

from engine.config import BrandConfig
from modules.booking import questions as shared
from modules.booking.questions import AnswerValue
from modules.directory import services as directory
from modules.matching.settings import MatchingSettings, Question, Text

Answers = Mapping[str, AnswerValue]
# form keys that are not answers: the CSRF token and the "change my answers" button
RESERVED_KEYS = frozenset({"csrf_token", "_edit"})

# the rules of questions and answers are the booking module's (intake forms share them)
label_for = shared.label_for
InvalidAnswers = shared.InvalidAnswers
answers_model = shared.answers_model


def visible_questions(settings: MatchingSettings, answers: Mapping[str, Any]) -> list[Question]:
    """The questions that apply to these answers, in order.

    A question with ``show_if`` applies when its condition holds on an earlier question that
    itself applies, so a chain of conditions collapses when its first link does not hold.
    """
    return shared.visible_questions(settings.questions, answers)


def parse_answers(settings: MatchingSettings, form: Mapping[str, Sequence[str]]) -> dict[
        str, AnswerValue]:
    """Validate submitted answers against the brand's questionnaire.

    ``form`` maps a field name to its submitted values (a multidict's ``lists()``). Questions
    whose ``show_if`` does not hold are ignored, answered or not. Returns the answers to the
    applicable questions that were answered; raises :class:`InvalidAnswers` otherwise.
    """
    return shared.parse_answers(settings.questions, form)


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
