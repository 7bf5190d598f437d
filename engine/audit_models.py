"""Audit log tables: the HMAC-chained events, the chain head and the retention checkpoints.

``audit_event`` is deliberately *not* :class:`~engine.db.BrandScoped`: a brand session must not
stamp or filter it behind the chain's back (the chain spans every brand and the platform).
Readers filter by ``brand_id`` themselves. No foreign keys either: deleting a user must never
UPDATE an audit row (the PostgreSQL trigger refuses it), so actor and patient are plain ids.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base

OUTCOMES = ("success", "failure", "denied")

# BIGINT on PostgreSQL, INTEGER (rowid alias, autoincrement) on SQLite
BigId = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(Base):
    """One append-only event. ``mac`` = HMAC-SHA256(key, prev_mac || canonical content), the
    key being the one ``key_id`` names."""

    __tablename__ = "audit_event"
    __table_args__ = (
        CheckConstraint("outcome IN ('success','failure','denied')", name="outcome"),
        CheckConstraint("seq > 0", name="seq_positive"),
        UniqueConstraint("chain", "seq"),
        Index("ix_audit_event_brand_time", "brand_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # one chain per brand ("brand:<slug>") and one for the platform ("platform"), so a brand's
    # retention purge cuts a prefix of its own chain and never a hole in another's
    chain: Mapped[str] = mapped_column(String(70))
    # position in its chain: 1, 2, 3 ... without gaps (a gap is a removed event)
    seq: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime]
    brand_id: Mapped[str | None] = mapped_column(String(63))
    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor_role: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(45))
    action: Mapped[str] = mapped_column(String(80), index=True)
    outcome: Mapped[str] = mapped_column(String(10))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    # canonical JSON of the details (sorted keys); never health data, passwords or tokens
    details: Mapped[str | None] = mapped_column(Text)
    # the previous event's MAC (hex), kept to tell an inserted event from an altered one
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))
    # the id of the audit key that made ``mac`` (engine.audit_keys); NULL on rows written
    # before keys had ids, which the original key (id "1") signed
    key_id: Mapped[str | None] = mapped_column(String(16))

    def __repr__(self) -> str:
        return f"<AuditEvent #{self.seq} {self.action} {self.outcome}>"


class AuditChainHead(Base):
    """One row per chain that serializes its appends (``SELECT ... FOR UPDATE``) and remembers
    the last event, so removing events from the end of the chain is noticed too."""

    __tablename__ = "audit_chain_head"

    chain: Mapped[str] = mapped_column(String(70), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    mac: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """Where verification starts after a retention purge removed the oldest events.

    ``anchor_seq``/``anchor_mac`` are the last purged event's; the first kept event must chain
    from them. ``mac`` is an HMAC over the checkpoint itself, so a forged checkpoint (one that
    would hide removed events) fails verification.
    """

    __tablename__ = "audit_checkpoint"
    __table_args__ = (UniqueConstraint("chain", "anchor_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(String(70))
    anchor_seq: Mapped[int] = mapped_column(BigInteger)
    anchor_mac: Mapped[str] = mapped_column(String(64))
    purged: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    mac: Mapped[str] = mapped_column(String(64))
    # the audit key that made ``mac`` (NULL: the original key, id "1")
    key_id: Mapped[str | None] = mapped_column(String(16))
