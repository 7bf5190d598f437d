"""Privacy emails (export ready, deletion steps) through the one notification service, in the
brand's themed, localized templates (``privacy/mail/<name>``)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from engine.notify import send_email

TEMPLATES = ("export_ready", "deletion_confirm", "deletion_scheduled", "deletion_cancelled")


def notify(session: Session, brand: BrandConfig, user: User, template: str,
           **context: Any) -> None:
    """Email ``user`` the privacy notice ``template``; needs the brand's app context."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown privacy mail {template!r}")
    context.setdefault("privacy_url", url_for("privacy.index", _external=True))
    send_email(session, brand_id=brand.slug, sender=brand.communications.sender, to=user.email,
               template=f"privacy/mail/{template}", locale=user.locale or brand.locale,
               user=user, brand=brand, **context)
