"""Consent on the sign-up form: the brand's documents required for ``signup`` are shown with a
checkbox each (``consent-<key>``); the account is created only when all are ticked, and each is
recorded with method ``signup``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.config.models import ConsentDocument
from engine.identity.models import User
from engine.privacy import consent


def field_name(doc: ConsentDocument) -> str:
    return f"consent-{doc.key}"


def documents(brand: BrandConfig, brands_dir: Any) -> list[dict[str, Any]]:
    """The sign-up documents with their text, for the form."""
    return [{"doc": d, "field": field_name(d), "text": consent.document_text(brands_dir, d)}
            for d in consent.required_for(brand, "signup")]


def refusal(brand: BrandConfig, form: Mapping[str, str]) -> str | None:
    """The error to show when a required box is not ticked, else None."""
    if all(form.get(field_name(d)) for d in consent.required_for(brand, "signup")):
        return None
    return _("Please read and accept the documents below to create your account.")


def record(session: Session, user: User, brand: BrandConfig, brands_dir: Any) -> None:
    for doc in consent.required_for(brand, "signup"):
        consent.record(session, user, brand, doc.key, granted=True, method="signup",
                       brands_dir=brands_dir)
