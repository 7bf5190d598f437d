"""Privacy records: published consent documents, consent records, legal holds, data exports and
deletion requests. None of these rows holds health data; the user's identity stays in
``identity_user`` (pseudonymized when an account is deleted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.db import Base, BrandScoped

CONSENT_METHODS = ("web", "signup", "api")
EXPORT_STATUSES = ("pending", "ready", "failed", "expired")
DELETION_SCOPES = ("all", "messages", "marketing")
DELETION_STATUSES = ("requested", "scheduled", "cancelled", "executed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({','.join(repr(v) for v in values)})"


class PublishedConsentDocument(BrandScoped, Base):
    """A consent document version as first published: its text's SHA-256 never changes."""

    __tablename__ = "privacy_consent_document"
    __table_args__ = (UniqueConstraint("brand_id", "key", "version", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(63))
    version: Mapped[int]
    locale: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return f"<PublishedConsentDocument {self.brand_id}/{self.key} v{self.version}>"


class ConsentRecord(BrandScoped, Base):
    """One act of giving or withdrawing consent. The latest record of a key is the state."""

    __tablename__ = "privacy_consent_record"
    __table_args__ = (
        CheckConstraint(_in("method", CONSENT_METHODS), name="method"),
        Index("ix_privacy_consent_record_user_key", "user_id", "document_key", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"))
    document_key: Mapped[str] = mapped_column(String(63))
    version: Mapped[int]
    granted: Mapped[bool]
    method: Mapped[str] = mapped_column(String(10))
    recorded_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        state = "granted" if self.granted else "withdrawn"
        return f"<ConsentRecord {self.id} user={self.user_id} {self.document_key} " \
               f"v{self.version} {state}>"


class LegalHold(BrandScoped, Base):
    """An operator's hold on one user's data (``user_id``) or a whole brand's (no user):
    while active, neither deletion nor retention removes anything it covers."""

    __tablename__ = "privacy_legal_hold"
    __table_args__ = (CheckConstraint("length(reason) > 0", name="reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_user.id", ondelete="RESTRICT"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    placed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_user.id", ondelete="SET NULL"))
    placed_at: Mapped[datetime] = mapped_column(default=clock.now)
    released_at: Mapped[datetime | None]
    released_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_user.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        target = f"user={self.user_id}" if self.user_id else "brand"
        return f"<LegalHold {self.id} {self.brand_id} {target} active={self.released_at is None}>"


class DataExport(BrandScoped, Base):
    """A patient's data export: built by a job into a ZIP outside the web root, downloaded
    through a short-lived link issued after the patient re-enters their password."""

    __tablename__ = "privacy_export"
    __table_args__ = (CheckConstraint(_in("status", EXPORT_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"),
                                         index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    file_name: Mapped[str | None] = mapped_column(String(80))  # random name in the data dir
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None]
    # the current download link (hash only) and when it stops working
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    link_expires_at: Mapped[datetime | None]
    requested_at: Mapped[datetime] = mapped_column(default=clock.now)
    ready_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # the file is removed then
    downloaded_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"<DataExport {self.id} user={self.user_id} {self.status}>"


class DeletionRequest(BrandScoped, Base):
    """requested -> scheduled (confirmed by the user; runs after the grace period) ->
    executed, or cancelled before it runs."""

    __tablename__ = "privacy_deletion_request"
    __table_args__ = (
        CheckConstraint(_in("scope", DELETION_SCOPES), name="scope"),
        CheckConstraint(_in("status", DELETION_STATUSES), name="status"),
        Index("ix_privacy_deletion_request_due", "status", "execute_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"),
                                         index=True)
    scope: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10), default="requested")
    confirm_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    requested_at: Mapped[datetime] = mapped_column(default=clock.now)
    confirmed_at: Mapped[datetime | None]
    execute_after: Mapped[datetime | None]
    executed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # counts per data type from the modules' erase hooks (no personal data)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<DeletionRequest {self.id} user={self.user_id} {self.scope} {self.status}>"
