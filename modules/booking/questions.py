"""Questions and answers of intake forms: the models brand YAML writes them in, which questions
apply (conditions), server-side validation, and the snapshot stored with an appointment.

Booking owns these so that any journey can attach an intake form to an appointment type; the
matching module reads answers with the same rules (its questions add matching fields on top).
Functions here read question-like objects (``key``, ``type``, ``label``, ``choices``,
``required``, ``show_if``, ``scale_min``/``scale_max``, ``max_length``), so they serve both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    create_model,
    model_validator,
)

from engine.config.models import Slug

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
# a label: one string for every locale, or one per locale ({es: ..., en: ...})
Text = NonEmpty | Annotated[dict[Literal["es", "en"], NonEmpty], Field(min_length=1)]
MAX_SCALE_STEPS = 11

AnswerValue = str | int | tuple[str, ...]
ErrorCode = Literal["required", "not_a_choice", "out_of_range", "too_long", "invalid",
                    "unknown_question"]
# form keys that are never answers: the CSRF token and buttons
RESERVED_KEYS = frozenset({"csrf_token", "_edit", "intake_token"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    value: str = Field(min_length=1, max_length=60)
    label: Text


class Condition(_Strict):
    """Show a question only when an earlier answer has one of these values."""

    question: Slug
    any_of: tuple[str, ...] = Field(min_length=1)


class Question(_Strict):
    """One question of an intake form."""

    key: Slug
    type: Literal["single", "multiple", "scale", "text"]
    label: Text
    help: Text | None = None
    required: bool = False
    choices: tuple[Choice, ...] = ()
    scale_min: int = Field(1, ge=-100, le=100)
    scale_max: int = Field(5, ge=-100, le=100)
    scale_min_label: Text | None = None
    scale_max_label: Text | None = None
    max_length: int = Field(1000, ge=1, le=5000, description="longest text answer")
    show_if: Condition | None = None

    @model_validator(mode="after")
    def _shape(self) -> Question:
        if self.type in ("single", "multiple") and len(self.choices) < 2:
            raise ValueError(f"question '{self.key}' of type {self.type} needs at least 2 "
                             f"choices")
        if self.type in ("scale", "text") and self.choices:
            raise ValueError(f"question '{self.key}' of type {self.type} takes no choices")
        given = self.model_fields_set
        scale_only = {"scale_min", "scale_max", "scale_min_label", "scale_max_label"} & given
        if self.type != "scale" and scale_only:
            raise ValueError(f"question '{self.key}': {', '.join(sorted(scale_only))} only "
                             f"apply to scale questions")
        if self.type != "text" and "max_length" in given:
            raise ValueError(f"question '{self.key}': max_length only applies to text questions")
        if self.type == "scale":
            if not self.scale_min < self.scale_max:
                raise ValueError(f"question '{self.key}': scale_min must be below scale_max")
            if self.scale_max - self.scale_min + 1 > MAX_SCALE_STEPS:
                raise ValueError(f"question '{self.key}': a scale has at most "
                                 f"{MAX_SCALE_STEPS} steps")
        values = [c.value for c in self.choices]
        if len(values) != len(set(values)):
            raise ValueError(f"question '{self.key}': choice values must be unique")
        return self


def check_conditions(questions: Sequence[Any]) -> None:
    """Raise ValueError unless keys are unique and every ``show_if`` names an earlier choice
    or scale question and values it can have."""
    seen: dict[str, Any] = {}
    for q in questions:
        if q.key in seen:
            raise ValueError(f"question key '{q.key}' is used twice")
        if q.show_if is not None:
            target = seen.get(q.show_if.question)
            if target is None:
                raise ValueError(f"question '{q.key}': show_if names '{q.show_if.question}', "
                                 f"which is not an earlier question")
            if target.type == "text":
                raise ValueError(f"question '{q.key}': show_if cannot depend on the text "
                                 f"question '{target.key}'")
            if target.type == "scale":
                allowed = {str(n) for n in range(target.scale_min, target.scale_max + 1)}
            else:
                allowed = {c.value for c in target.choices}
            unknown = [v for v in q.show_if.any_of if v not in allowed]
            if unknown:
                raise ValueError(f"question '{q.key}': show_if values {unknown} are not "
                                 f"answers of '{target.key}'")
        seen[q.key] = q


class IntakeForm(_Strict):
    """An intake form a brand attaches to appointment types (``modules.booking.intake_forms``)."""

    title: Text
    intro: Text | None = None
    questions: tuple[Question, ...] = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _conditions(self) -> IntakeForm:
        check_conditions(self.questions)
        return self


def label_for(text: Text | None, locale: str, brand_locale: str) -> str:
    """A label in ``locale``, else in the brand's locale, else in any locale it has."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    found = text.get(locale) or text.get(brand_locale)  # type: ignore[call-overload]
    return found or next(iter(text.values()))


def _holds(q: Any, target: Any, answers: Mapping[str, Any]) -> bool:
    given = answers.get(target.key)
    if isinstance(given, list | tuple):
        values = {str(v) for v in given} if target.type == "multiple" else set()
    else:
        values = set() if given is None else {str(given)}
    return bool(values & set(q.show_if.any_of))


def visible_questions(questions: Sequence[Any], answers: Mapping[str, Any]) -> list[Any]:
    """The questions that apply to these answers, in order (a chain of conditions collapses
    when its first link does not hold)."""
    shown: dict[str, Any] = {}
    for q in questions:
        if q.show_if is None:
            shown[q.key] = q
            continue
        target = shown.get(q.show_if.question)
        if target is not None and _holds(q, target, answers):
            shown[q.key] = q
    return list(shown.values())


class InvalidAnswers(Exception):
    """Answers that do not fit the form: question key -> error code (``""``: the form)."""

    def __init__(self, errors: Mapping[str, ErrorCode]):
        super().__init__(", ".join(f"{k or 'form'}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def _field(q: Any) -> tuple[Any, Any]:
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
    # field names are positional: keys may have dashes or shadow BaseModel attributes
    return f"q{index}"


def answers_model(questions: Sequence[Any]) -> type[BaseModel]:
    """A pydantic model of the answers to ``questions`` by key (unknown keys are errors)."""
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


def _raw(questions: Sequence[Any], form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Form values shaped for the answers model: lists for multiple choice, blanks dropped."""
    kinds = {q.key: q.type for q in questions}
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


def parse_answers(questions: Sequence[Any], form: Mapping[str, Sequence[str]]) -> dict[
        str, AnswerValue]:
    """Validate submitted answers against ``questions``.

    ``form`` maps a field name to its submitted values (a multidict's ``lists()``). Answers to
    questions whose ``show_if`` does not hold are dropped. Returns the answers to the applicable
    questions that were answered; raises :class:`InvalidAnswers` otherwise.
    """
    raw = _raw(questions, form)
    known = {q.key for q in questions}
    shown = visible_questions(questions, raw)
    shown_keys = {q.key for q in shown}
    data = {k: v for k, v in raw.items() if k in shown_keys or k not in known}
    try:
        parsed = answers_model(shown).model_validate(data)
    except ValidationError as exc:
        errors: dict[str, ErrorCode] = {}
        for err in exc.errors(include_url=False):
            loc = str(err["loc"][0]) if err["loc"] else ""
            code = _CODES.get(err["type"], "invalid")
            errors.setdefault("" if code == "unknown_question" else loc, code)
        raise InvalidAnswers(errors) from None
    out: dict[str, AnswerValue] = {}
    for i, q in enumerate(shown):
        value = getattr(parsed, _name(i))
        if value not in (None, ()):
            out[q.key] = value
    return out


class AnsweredQuestion(_Strict):
    """One answered question as stored with an appointment: the labels as they were asked,
    so a later change of the brand's form does not change what the patient answered."""

    key: str
    label: Text
    type: Literal["single", "multiple", "scale", "text"]
    values: tuple[str, ...]
    value_labels: tuple[Text, ...]


def snapshot(questions: Sequence[Any], answers: Mapping[str, AnswerValue],
             ) -> tuple[AnsweredQuestion, ...]:
    """The answered questions, in form order, with their labels."""
    out: list[AnsweredQuestion] = []
    for q in questions:
        if q.key not in answers:
            continue
        given = answers[q.key]
        values = tuple(str(v) for v in given) if isinstance(given, tuple) else (str(given),)
        names = {c.value: c.label for c in q.choices}
        out.append(AnsweredQuestion(key=q.key, label=q.label, type=q.type, values=values,
                                    value_labels=tuple(names.get(v, v) for v in values)))
    return tuple(out)
