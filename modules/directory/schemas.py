"""Input of the directory's views, parsed with pydantic (unknown parameters are errors), and
the messages a person sees when their input is refused."""

from __future__ import annotations

from typing import Any, Literal

from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from modules.directory.models import MODALITIES

LANGUAGES = ("es", "en", "ca", "eu", "gl", "pt", "fr", "de", "it", "ar", "ro", "zh")
MAX_SPECIALTIES = 12
QUERY_FIELDS = ("q", "specialty", "language", "modality", "sort", "page")


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
    specialties: tuple[str, ...] = Field((), max_length=MAX_SPECIALTIES)
    languages: tuple[Literal[*LANGUAGES], ...] = ()  # type: ignore[valid-type]
    modalities: tuple[Literal[*MODALITIES], ...] = ()  # type: ignore[valid-type]
    visible: bool = True

    @field_validator("bio", mode="before")
    @classmethod
    def _newlines(cls, v: object) -> object:
        # browsers send CRLF; the profile page splits paragraphs on blank lines
        return v.replace("\r\n", "\n").replace("\r", "\n") if isinstance(v, str) else v

    @field_validator("specialties", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.split(",")
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


def query_error_message(exc: ValidationError) -> tuple[str, str]:
    """(field, message naming it) for the first problem of a directory query."""
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    messages: dict[str, Any] = {
        "page": _l("The parameter “page” must be a whole number from 1 to 10000."),
        "language": _l("The parameter “language” must be one of: %(choices)s.",
                       choices=", ".join(LANGUAGES)),
        "modality": _l("The parameter “modality” must be one of: %(choices)s.",
                       choices=", ".join(MODALITIES)),
        "sort": _l("The parameter “sort” must be “name” or “newest”."),
        "q": _l("The search text is too long (at most 100 characters)."),
        "specialty": _l("The parameter “specialty” is too long (at most 60 characters)."),
    }
    if kind == "extra_forbidden":
        return field, str(_l("Unknown parameter “%(name)s”. The directory understands: "
                             "%(known)s.", name=field, known=", ".join(QUERY_FIELDS)))
    return field, str(messages.get(field, _l("The parameter “%(name)s” is not valid.",
                                             name=field)))


def profile_error_messages(exc: ValidationError) -> dict[str, str]:
    """field -> a message a specialist can act on, for every refused field of the editor."""
    messages: dict[str, Any] = {
        "display_name": _l("Enter the name patients will see (2 to 120 characters)."),
        "headline": _l("Keep the headline to 160 characters."),
        "bio": _l("Keep the text about you to 4000 characters."),
        "specialties": _l("List at most %(n)d specialties of up to 60 characters each, "
                          "separated by commas.", n=MAX_SPECIALTIES),
        "languages": _l("Choose languages from the list."),
        "modalities": _l("Choose appointment types from the list."),
    }
    out: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        field = str(err["loc"][0]) if err["loc"] else "form"
        out.setdefault(field, str(messages.get(field, _l("This value is not valid."))))
    return out
