"""Specialist profiles. A profile belongs to the specialist (network-wide); visibility is per
brand."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine import clock
from engine.db import Base, BrandScoped

TAG_KINDS = ("specialty", "language", "modality")
MODALITIES = ("video", "in_person")


class Profile(Base):
    __tablename__ = "directory_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"),
                                         unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    headline: Mapped[str] = mapped_column(String(160), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    photo: Mapped[str | None] = mapped_column(String(80))  # random file name in the data dir
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    tags: Mapped[list[Tag]] = relationship(back_populates="profile", cascade="all, delete-orphan",
                                           order_by="Tag.value", lazy="selectin")

    def values(self, kind: str) -> list[str]:
        return [t.value for t in self.tags if t.kind == kind]


class Tag(Base):
    """A specialty, language or modality of a profile (a table, so filters are indexed)."""

    __tablename__ = "directory_tag"
    __table_args__ = (
        UniqueConstraint("profile_id", "kind", "value"),
        CheckConstraint("kind IN ('specialty','language','modality')", name="kind"),
        Index("ix_directory_tag_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("directory_profile.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(60))

    profile: Mapped[Profile] = relationship(back_populates="tags")


class Listing(BrandScoped, Base):
    """Whether a profile shows on a brand's directory. No row: shown."""

    __tablename__ = "directory_listing"
    __table_args__ = (UniqueConstraint("brand_id", "profile_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("directory_profile.id", ondelete="CASCADE"))
    visible: Mapped[bool] = mapped_column(default=True)


class DirectoryVersion(Base):
    """One row: a token that changes in the same transaction as every write that can change a
    directory page (profiles, tags, listings, memberships, a specialist's account).

    Web processes key their page caches on it (:mod:`modules.directory.versioning`). A random
    token rather than a counter: a rolled-back change must never be confused with a later one,
    and a counter would hand the rolled-back number out again.
    """

    __tablename__ = "directory_version"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(default=clock.now)
