"""The navigation badge: the signed-in user's unread messages on this brand."""

from __future__ import annotations

from typing import Any

from engine.web import current_brand, db
from modules.messaging.services import unread_total


def unread_badge(user: Any) -> int | None:
    """Unread messages of ``user`` on the current brand (0 shows a hidden badge that a later
    count fills in), or None for a visitor who has no messages at all."""
    if not getattr(user, "is_authenticated", False):
        return None
    return unread_total(db(), user, current_brand.config)
