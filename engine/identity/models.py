"""Accounts. Patients, organization staff and affiliates belong to one brand; specialists to a
network (and are members of the brands they work on); operators to the platform."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.crypto import EncryptedText, Sealed, encrypted
from engine.db import Base, BrandScoped

ROLES = ("patient", "specialist", "org_admin", "coordinator", "affiliate", "operator")
BRAND_ROLES = ("patient", "org_admin", "coordinator", "affiliate")


class User(Base):
    __tablename__ = "identity_user"
    __table_args__ = (
        UniqueConstraint("realm", "email"),
        CheckConstraint("role IN ('patient','specialist','org_admin','coordinator','affiliate',"
                        "'operator')", name="role"),
        CheckConstraint(
            "(role IN ('patient','org_admin','coordinator','affiliate') "
            "AND brand_id IS NOT NULL) OR "
            "(role = 'specialist' AND network IS NOT NULL AND brand_id IS NULL) OR "
            "(role = 'operator' AND brand_id IS NULL AND network IS NULL)",
            name="realm_matches_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "brand:<slug>", "network:<name>" or "platform": the space in which an email is unique
    realm: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(20))
    brand_id: Mapped[str | None] = mapped_column(String(63), index=True)
    network: Mapped[str | None] = mapped_column(String(80), index=True)
    organization: Mapped[str | None] = mapped_column(String(63))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # mobile number for SMS reminders, E.164 ("+" and 8-15 digits; the settings form checks it)
    phone: Mapped[str | None] = mapped_column(String(32))
    email_verified_at: Mapped[datetime | None]
    # bumped on password change: every other signed-in session of this user ends
    session_epoch: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_sign_in_at: Mapped[datetime | None]

    # flask-login protocol
    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role} {self.realm}>"


class SpecialistMembership(BrandScoped, Base):
    """A specialist of the brand's network who works on this brand."""

    __tablename__ = "identity_specialist_membership"
    __table_args__ = (UniqueConstraint("brand_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Token(Base):
    """A single-use emailed token (password reset, email verification). Only its hash is kept."""

    __tablename__ = "identity_token"
    __table_args__ = (
        CheckConstraint("purpose IN ('reset','verify')", name="purpose"),
        Index("ix_identity_token_user_purpose", "user_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class SignInThrottle(Base):
    """Failed sign-in attempts of one key (an account on a brand, or a client address).

    Kept in the database so every web process sees the same counters. Keys are hashed: the
    table holds no email address or IP in clear.
    """

    __tablename__ = "identity_sign_in_throttle"
    __table_args__ = (
        CheckConstraint("scope IN ('account','ip')", name="scope"),
        CheckConstraint("failures >= 0", name="failures_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    # lockouts in a row: each one lasts twice as long as the last (progressive lockout)
    lockouts: Mapped[int] = mapped_column(default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<SignInThrottle {self.scope} failures={self.failures} until={self.locked_until}>"


class SecondFactor(Sealed, Base):
    """A user's TOTP authenticator. Active once confirmed with a code from the app.

    The shared secret is encrypted at rest (engine.crypto); ``last_step`` is the 30-second time
    step of the last accepted code, so the same code (or an older one) never works twice.
    """

    __tablename__ = "identity_second_factor"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"),
                                         unique=True)
    secret_sealed: Mapped[str] = mapped_column(
        "secret", EncryptedText("identity_second_factor.secret"))
    secret = encrypted("secret_sealed")
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return f"<SecondFactor user={self.user_id} confirmed={self.confirmed_at is not None}>"


class RecoveryCode(Base):
    """A single-use recovery code for a lost authenticator; only its argon2 hash is kept."""

    __tablename__ = "identity_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"),
                                         index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return f"<RecoveryCode {self.id} user={self.user_id} used={self.used_at is not None}>"


def brand_realm(brand_id: str) -> str:
    return f"brand:{brand_id}"


def network_realm(network: str) -> str:
    return f"network:{network}"


PLATFORM_REALM = "platform"
