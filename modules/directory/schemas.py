"""Input of the directory's views, parsed with pydantic (unknown parameters are errors)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from modules.directory.models import MODALITIES

LANGUAGES = ("es", "en", "ca", "eu", "gl", "pt", "fr", "de", "it", "ar", "ro", "zh")


class DirectoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    q: str = Field("", max_length=100)
    specialty: str = Field("", max_length=60)
    language: Literal["", *LANGUAGES] = ""  # type: ignore[valid-type]
    modality: Literal["", *MODALITIES] = ""  # type: ignore[valid-type]
    sort: Literal["", "name", "newest"] = ""
    page: int = Field(1, ge=1, le=10_000)


class ProfileInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    display_name: str = Field(min_length=2, max_length=120)
    headline: str = Field("", max_length=160)
    bio: str = Field("", max_length=4000)
    specialties: tuple[str, ...] = Field((), max_length=12)
    languages: tuple[Literal[*LANGUAGES], ...] = ()  # type: ignore[valid-type]
    modalities: tuple[Literal[*MODALITIES], ...] = ()  # type: ignore[valid-type]
    visible: bool = True

    @field_validator("specialties", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            v = [s for s in v.split(",")]
        if isinstance(v, list | tuple):
            out: list[str] = []
            for s in v:
                s = " ".join(str(s).split()).lower()
                if s and s not in out:
                    if len(s) > 60:
                        raise ValueError("each specialty is at most 60 characters")
                    out.append(s)
            return tuple(out)
        return v
