"""The API module's data-rights hooks: a user's API tokens (names and dates; the tokens
themselves are never stored). Erasure revokes and deletes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.identity.models import User
from modules.api.models import ApiToken


def export_data(session: Session, user: User) -> Mapping[str, Any]:
    tokens = session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.brand_id == user.brand_id)
        .order_by(ApiToken.id).execution_options(all_brands=True))
    return {"api_tokens": [{
        "name": t.name, "prefix": t.prefix, "created_at": t.created_at.isoformat(),
        "expires_at": t.expires_at.isoformat(),
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None} for t in tokens]}


def erase_data(session: Session, user: User, scope: str) -> Mapping[str, int]:
    if scope != "all":
        return {}
    removed = session.execute(delete(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.brand_id == user.brand_id)
        .execution_options(all_brands=True)).rowcount
    return {"api_tokens": removed}
