"""The matching module's section of brand YAML: the intake questionnaire and the weights."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.config.models import Slug
from engine.modules import ModuleSettings

Text = str | dict[Literal["es", "en"], str]


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
    scale_min: int = 1
    scale_max: int = 5
    show_if: Condition | None = None
    # which profile field the answer is matched against (None: kept for the specialist only)
    matches: Literal["specialty", "language", "modality"] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Question:
        if self.type in ("single", "multiple") and len(self.choices) < 2:
            raise ValueError(f"question '{self.key}' of type {self.type} needs at least 2 "
                             f"choices")
        if self.type in ("scale", "text") and self.choices:
            raise ValueError(f"question '{self.key}' of type {self.type} takes no choices")
        if self.type == "scale" and not self.scale_min < self.scale_max:
            raise ValueError(f"question '{self.key}': scale_min must be below scale_max")
        if self.matches and self.type not in ("single", "multiple"):
            raise ValueError(f"question '{self.key}': only choice questions can be matched "
                             f"against profiles")
        values = [c.value for c in self.choices]
        if len(values) != len(set(values)):
            raise ValueError(f"question '{self.key}': choice values must be unique")
        return self


class Weights(_Strict):
    specialty: float = Field(3.0, ge=0, le=100)
    language: float = Field(2.0, ge=0, le=100)
    modality: float = Field(1.0, ge=0, le=100)
    # read once booking exists: a free slot within `availability_within_days`, price, capacity
    availability: float = Field(1.0, ge=0, le=100)
    price: float = Field(1.0, ge=0, le=100)
    capacity: float = Field(1.0, ge=0, le=100)


class MatchingSettings(ModuleSettings):
    shortlist_size: int = Field(3, ge=1, le=20)
    availability_within_days: int = Field(14, ge=1, le=120)
    price_ceiling: str | None = Field(None, pattern=r"^\d+(\.\d{1,2})?$",
                                      description="highest price shown, e.g. '90.00'")
    weights: Weights = Weights()
    questions: tuple[Question, ...] = (
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
    )

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
                allowed = {c.value for c in target.choices}
                unknown = [v for v in q.show_if.any_of if v not in allowed]
                if allowed and unknown:
                    raise ValueError(f"question '{q.key}': show_if values {unknown} are not "
                                     f"choices of '{target.key}'")
            seen[q.key] = q
        return self
