"""The matching module's section of brand YAML: the intake questionnaire and the weights.

Every rule a brand file can break is checked here, at load time, so a questionnaire that
cannot work (a condition on a later question, a language choice no profile can have, weights
that rank nobody) never reaches a patient.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.modules import ModuleSettings
from modules.booking import questions as shared
from modules.booking.questions import Choice, Condition, Text
from modules.directory.models import MODALITIES
from modules.directory.schemas import LANGUAGES

__all__ = ["Choice", "Condition", "MatchingSettings", "Question", "Text", "Weights"]

# answer values a profile can have, per profile field a question is matched against
PROFILE_VALUES: dict[str, tuple[str, ...]] = {"language": LANGUAGES, "modality": MODALITIES}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Question(shared.Question):
    """A question of the booking module's kind, which can also be matched against profiles."""

    # which profile field the answer is matched against (None: kept for the specialist only)
    matches: Literal["specialty", "language", "modality"] | None = None
    # leave out specialists who match none of the chosen values (e.g. a language they lack)
    must_match: bool = False

    @model_validator(mode="after")
    def _matching(self) -> Question:
        if self.matches and self.type not in ("single", "multiple"):
            raise ValueError(f"question '{self.key}': only choice questions can be matched "
                             f"against profiles")
        if self.must_match and not self.matches:
            raise ValueError(f"question '{self.key}': must_match needs `matches`")
        known = PROFILE_VALUES.get(self.matches or "")
        if known is not None:
            unknown = [c.value for c in self.choices if c.value not in known]
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
        shared.check_conditions(self.questions)
        return self
