"""API token rules: make (shown once), list, revoke, and authenticate a bearer token.

Tokens are brand-scoped: every query names the brand, and the token's owner must still be a
member of the brand when the token is used.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.identity.services import is_member
from engine.web import UserError
from modules.api.models import ApiToken

TOKEN_PREFIX = "dp_"
EXPIRY_DAYS = (30, 90, 365)
MAX_ACTIVE_TOKENS = 10
# a token's last use is written at most this often: a busy client does not write on every call
LAST_USED_RESOLUTION = timedelta(minutes=5)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def user_tokens(session: Session, actor: User, brand: BrandConfig) -> list[ApiToken]:
    """The actor's tokens on ``brand`` (active and past), newest first."""
    return list(session.scalars(select(ApiToken).where(
        ApiToken.brand_id == brand.slug, ApiToken.user_id == actor.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def create_token(session: Session, actor: User, brand: BrandConfig, name: str,
                 expires_in_days: int) -> tuple[ApiToken, str]:
    """Make a token for the actor on ``brand``; returns the row and the token, which is never
    stored and cannot be shown again."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 80:
        raise UserError(str(_l("Give the token a name of 1 to 80 characters.")),
                        code="invalid", field="name")
    if expires_in_days not in EXPIRY_DAYS:
        raise UserError(str(_l("Choose one of the offered lifetimes.")), code="invalid",
                        field="expires_in_days")
    now = clock.now()
    active = session.scalar(select(func.count(ApiToken.id)).where(
        ApiToken.brand_id == brand.slug, ApiToken.user_id == actor.id,
        ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)) or 0
    if active >= MAX_ACTIVE_TOKENS:
        raise UserError(ngettext("You have %(num)d active token, the most allowed. Revoke it "
                                 "first.",
                                 "You have %(num)d active tokens, the most allowed. Revoke one "
                                 "first.", active), code="too_many", field="name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(brand_id=brand.slug, user_id=actor.id, name=name, token_hash=_digest(raw),
                   prefix=raw[:10], created_at=now,
                   expires_at=now + timedelta(days=expires_in_days))
    session.add(row)
    session.flush()
    return row, raw


def revoke_token(session: Session, actor: User, brand: BrandConfig, token_id: int) -> ApiToken:
    """Revoke one of the actor's tokens (idempotent); another user's token answers 404."""
    row = session.scalar(select(ApiToken).where(
        ApiToken.id == token_id, ApiToken.brand_id == brand.slug, ApiToken.user_id == actor.id))
    if row is None:
        raise UserError(str(_l("This token does not exist.")), code="not_found", status=404)
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        session.flush()
    return row


def authenticate_token(session: Session, brand: BrandConfig, raw: str) -> User | None:
    """The user a bearer token stands for on ``brand``, or None (unknown, of another brand,
    revoked, expired, or its owner no longer a member here)."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(raw),
                                                ApiToken.brand_id == brand.slug))
    now = clock.now()
    if row is None or not row.active(now):
        return None
    user = session.get(User, row.user_id)
    if user is None or not is_member(session, brand, user):
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return user
