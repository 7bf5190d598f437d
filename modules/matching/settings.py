"""The matching module's section of brand YAML: the intake questionnaire and the weights.

Every rule a brand file can break is checked here, at load time, so a questionnaire that
cannot work (a condition on a later question, a language choice no profile can have, weights
that rank nobody) never reaches a patient.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from engine.config.models import Slug
from engine.modules import ModuleSettings
from modules.directory.models import MODALITIES
from modules.directory.schemas import LANGUAGES

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
# a label: one string for every locale, or one per locale ({es: ..., en: ...})
Text = NonEmpty | Annotated[dict[Literal["es", "en"], NonEmpty], Field(min_length=1)]

# answer values a profile can have, per profile field a question is matched against
PROFILE_VALUES: dict[str, tuple[str, ...]] = {"language": LANGUAGES, "modality": MODALITIES}
MAX_SCALE_STEPS = 11


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
    key: Slug
    type: Literal["single", "multiple", "scale", "text"]
    label: Text
    help: Text | None = None
    required: bool = False
    choices: tuple[Choice, ...] = ()
    scale_min: int = Field(1, ge=-100, le=100)
    scale_max: int = Field(5, ge=-100, le=100)
    # words at the ends of a scale ("Not at all" ... "Extremely")
    scale_min_label: Text | None = None
    scale_max_label: Text | None = None
    max_length: int = Field(1000, ge=1, le=5000, description="longest text answer")
    show_if: Condition | None = None
    # which profile field the answer is matched against (None: kept for the specialist only)
    matches: Literal["specialty", "language", "modality"] | None = None
    # leave out specialists who match none of the chosen values (e.g. a language they lack)
    must_match: bool = False

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
        if self.matches and self.type not in ("single", "multiple"):
            raise ValueError(f"question '{self.key}': only choice questions can be matched "
                             f"against profiles")
        if self.must_match and not self.matches:
            raise ValueError(f"question '{self.key}': must_match needs `matches`")
        values = [c.value for c in self.choices]
        if len(values) != len(set(values)):
            raise ValueError(f"question '{self.key}': choice values must be unique")
        known = PROFILE_VALUES.get(self.matches or "")
        if known is not None:
            unknown = [v for v in values if v not in known]
            if unknown:
                raise ValueError(f"question '{self.key}': choices {unknown} can never match a "
                                 f"profile's {self.matches} (known: {', '.join(known)})")
        return self


class Weights(_Strict):
    specialty: float = Field(3.0, ge=0, le=100)
    language: float = Field(2.0, ge=0, le=100)
    modality: float = Field(1.0, ge=0, le=100)
    # Validated now, read once the booking module exists (a free slot within
    # `availability_within_days`, price under `price_ceiling`, room for new patients). Until
    # then they do not change any ranking.
    availability: float = Field(1.0, ge=0, le=100)
    price: float = Field(1.0, ge=0, le=100)
    capacity: float = Field(1.0, ge=0, le=100)

    @model_validator(mode="after")
    def _ranks_someone(self) -> Weights:
        if not (self.specialty or self.language or self.modality):
            raise ValueError("at least one of the specialty, language and modality weights "
                             "must be above 0, or every specialist scores the same")
        return self


class MatchingSettings(ModuleSettings):
    shortlist_size: int = Field(3, ge=1, le=20)
    availability_within_days: int = Field(14, ge=1, le=120)
    price_ceiling: str | None = Field(None, pattern=r"^\d+(\.\d{1,2})?$",
                                      description="highest price shown, e.g. '90.00'")
    weights: Weights = Weights()
    questions: tuple[Question, ...] = Field((
        Question(key="topic", type="single", matches="specialty", required=True,
                 label={"en": "What would you like help with?",
                        "es": "¿Con qué te gustaría recibir ayuda?"},
                 choices=(Choice(value="anxiety", label={"en": "Anxiety", "es": "Ansiedad"}),
                          Choice(value="depression",
                                 label={"en": "Low mood", "es": "Estado de ánimo bajo"}),
                          Choice(value="stress", label={"en": "Stress", "es": "Estrés"}),
                          Choice(value="relationships",
                                 label={"en": "Relationships", "es": "Relaciones"}))),
        Question(key="language", type="single", matches="language", required=True,
                 label={"en": "Which language do you prefer?",
                        "es": "¿En qué idioma prefieres?"},
                 choices=(Choice(value="en", label={"en": "English", "es": "Inglés"}),
                          Choice(value="es", label={"en": "Spanish", "es": "Español"}))),
        Question(key="modality", type="multiple", matches="modality",
                 label={"en": "How would you like to meet?", "es": "¿Cómo prefieres verte?"},
                 choices=(Choice(value="video", label={"en": "Video", "es": "Vídeo"}),
                          Choice(value="in_person",
                                 label={"en": "In person", "es": "En persona"}))),
    ), min_length=1, max_length=40)

    @model_validator(mode="after")
    def _questions(self) -> MatchingSettings:
        seen: dict[str, Question] = {}
        for q in self.questions:
            if q.key in seen:
                raise ValueError(f"question key '{q.key}' is used twice")
            if q.show_if is not None:
                target = seen.get(q.show_if.question)
                if target is None:
                    raise ValueError(f"question '{q.key}': show_if names '{q.show_if.question}',"
                                     f" which is not an earlier question")
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
        return self
