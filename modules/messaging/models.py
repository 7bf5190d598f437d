"""Messaging data: threads, messages, attachments, each participant's read state and their
notification preference.

A thread belongs to one brand and joins one patient with either one specialist
(``kind = 'specialist'``) or the brand's care team (``kind = 'care_team'``, every coordinator of
the brand). Message bodies and attachment contents are health data: bodies are encrypted fields
(:mod:`engine.crypto`), attachment files are sealed in the platform's data directory under random
names (see :mod:`modules.messaging.attachments`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.crypto import EncryptedText, Sealed, encrypted
from engine.db import Base, BrandScoped

THREAD_KINDS = ("specialist", "care_team")


class Thread(BrandScoped, Base):
    """A conversation between a patient and a specialist, or the brand's care team."""

    __tablename__ = "messaging_thread"
    __table_args__ = (
        CheckConstraint("kind IN ('specialist','care_team')", name="kind"),
        CheckConstraint("(kind = 'specialist' AND specialist_id IS NOT NULL) OR "
                        "(kind = 'care_team' AND specialist_id IS NULL)", name="counterpart"),
        # "specialist:<id>" or "care_team": one thread per patient and counterpart on a brand
        UniqueConstraint("brand_id", "patient_id", "counterpart"),
        Index("ix_messaging_thread_specialist", "specialist_id", "brand_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    patient_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"),
                                            index=True)
    specialist_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_user.id", ondelete="CASCADE"))
    counterpart: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_message_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return (f"<Thread {self.id} {self.kind} patient={self.patient_id} "
                f"specialist={self.specialist_id} brand={self.brand_id}>")


class Message(Sealed, BrandScoped, Base):
    """One message of a thread. ``body`` is encrypted at rest; never log or email it."""

    __tablename__ = "messaging_message"
    __table_args__ = (Index("ix_messaging_message_thread", "thread_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("messaging_thread.id", ondelete="CASCADE"))
    # None once the sender's account is erased: the other participant keeps the thread
    sender_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_user.id", ondelete="SET NULL"), index=True)
    body_sealed: Mapped[str] = mapped_column("body", EncryptedText("messaging_message.body"))
    body = encrypted("body_sealed")
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)

    def __repr__(self) -> str:
        return f"<Message {self.id} thread={self.thread_id} sender={self.sender_id}>"


class Attachment(Sealed, BrandScoped, Base):
    """A file sent with a message: its content is a sealed file named ``storage_name`` in the
    data directory (bound to this row's ``seal``); ``filename`` is the sender's name for it,
    made safe."""

    __tablename__ = "messaging_attachment"
    __table_args__ = (CheckConstraint("size_bytes >= 0", name="size_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messaging_message.id",
                                                       ondelete="CASCADE"), index=True)
    uploader_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_user.id", ondelete="SET NULL"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # one of the allow-listed types
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str] = mapped_column(String(8), index=True)  # the key the file is sealed with
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return f"<Attachment {self.id} message={self.message_id} {self.kind}>"


class ReadState(BrandScoped, Base):
    """How far one participant has read a thread (the last message id they saw)."""

    __tablename__ = "messaging_read_state"
    __table_args__ = (UniqueConstraint("thread_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("messaging_thread.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"),
                                         index=True)
    last_read_message_id: Mapped[int] = mapped_column(default=0)
    read_at: Mapped[datetime] = mapped_column(default=clock.now)


class Preference(BrandScoped, Base):
    """A user's messaging choices on a brand (a shared specialist chooses per brand)."""

    __tablename__ = "messaging_preference"
    __table_args__ = (UniqueConstraint("brand_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("identity_user.id", ondelete="CASCADE"))
    email_notifications: Mapped[bool]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
