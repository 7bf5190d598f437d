"""Per-user API tokens. Only a SHA-256 hash of a token is stored; the token itself is shown once,
when it is made. A token belongs to the brand it was made on and works nowhere else."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.db import Base, BrandScoped


class ApiToken(BrandScoped, Base):
    """A bearer token of one user on one brand, until it expires or is revoked."""

    __tablename__ = "api_token"
    __table_args__ = (
        CheckConstraint("length(token_hash) = 64", name="token_hash"),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        Index("ix_api_token_user_brand", "user_id", "brand_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # the token's first characters, so its owner can tell tokens apart (not a secret)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    def active(self, now: datetime) -> bool:
        """Whether the token still authenticates at ``now``."""
        return self.revoked_at is None and now < self.expires_at

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.prefix}… user={self.user_id} brand={self.brand_id}>"
