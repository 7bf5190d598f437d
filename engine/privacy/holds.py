"""Legal holds: an operator freezes one user's data, or a whole brand's, with a reason. While a
hold is active, deletion requests wait and retention skips what it covers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.identity.models import User
from engine.privacy.models import LegalHold
from engine.web import UserError


def _active(session: Session, brand_id: str):  # type: ignore[no-untyped-def]
    return select(LegalHold).where(LegalHold.brand_id == brand_id,
                                   LegalHold.released_at.is_(None)) \
        .execution_options(all_brands=True)


def place(session: Session, operator: User | None, brand_id: str, reason: str, *,
          user_id: int | None = None) -> LegalHold:
    """Hold ``user_id``'s data on ``brand_id`` (or the whole brand's when None)."""
    reason = reason.strip()
    if not reason:
        raise UserError("a legal hold needs a reason", code="invalid", field="reason")
    if len(reason) > 500:
        raise UserError("the reason is at most 500 characters", code="invalid", field="reason")
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or user.brand_id != brand_id:
            raise UserError(f"no user {user_id} on brand {brand_id}", code="not_found",
                            status=404, field="user")
    hold = LegalHold(brand_id=brand_id, user_id=user_id, reason=reason,
                     placed_by_id=operator.id if operator else None, placed_at=clock.now())
    session.add(hold)
    session.flush()
    return hold


def release(session: Session, operator: User | None, hold_id: int) -> LegalHold:
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise UserError(f"no legal hold {hold_id}", code="not_found", status=404)
    if hold.released_at is None:
        hold.released_at = clock.now()
        hold.released_by_id = operator.id if operator else None
    return hold


def active_holds(session: Session, brand_id: str | None = None) -> list[LegalHold]:
    stmt = select(LegalHold).where(LegalHold.released_at.is_(None)).order_by(LegalHold.id) \
        .execution_options(all_brands=True)
    if brand_id is not None:
        stmt = stmt.where(LegalHold.brand_id == brand_id)
    return list(session.scalars(stmt))


def brand_held(session: Session, brand_id: str) -> bool:
    return session.scalar(_active(session, brand_id).where(LegalHold.user_id.is_(None))
                          .limit(1)) is not None


def held_user_ids(session: Session, brand_id: str) -> frozenset[int]:
    """Users of ``brand_id`` under an active hold of their own."""
    return frozenset(h.user_id for h in session.scalars(
        _active(session, brand_id).where(LegalHold.user_id.is_not(None)))
        if h.user_id is not None)


def is_held(session: Session, brand_id: str, user_id: int) -> bool:
    """Whether the user's data on the brand is under a hold (theirs or the brand's)."""
    return brand_held(session, brand_id) or user_id in held_user_ids(session, brand_id)
