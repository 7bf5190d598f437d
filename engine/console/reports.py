"""Who is signed up where, and the development outbox: read-only reports for operators.

Account fields only (name, email, role, organization, dates), never health data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.identity.models import SpecialistMembership, User
from engine.notify import Email

T = TypeVar("T")

USERS_PAGE_SIZE = 25
OUTBOX_PAGE_SIZE = 25
LISTED_ROLES = ("patient", "specialist", "org_admin", "coordinator", "affiliate")


# --- users -----------------------------------------------------------------------------------


def user_counts(session: Session, slugs: list[str]) -> dict[str, dict[str, int]]:
    """brand -> role -> number of accounts. Specialists count on each brand where they hold an
    active membership."""
    counts: dict[str, dict[str, int]] = {s: dict.fromkeys(LISTED_ROLES, 0) for s in slugs}
    rows = session.execute(
        select(User.brand_id, User.role, func.count(User.id))
        .where(User.brand_id.in_(slugs)).group_by(User.brand_id, User.role))
    for brand_id, role, n in rows:
        counts[brand_id][role] = n
    rows = session.execute(
        select(SpecialistMembership.brand_id, func.count(SpecialistMembership.id))
        .join(User, User.id == SpecialistMembership.user_id)
        .where(SpecialistMembership.brand_id.in_(slugs), SpecialistMembership.active.is_(True),
               User.role == "specialist")
        .group_by(SpecialistMembership.brand_id)
        .execution_options(all_brands=True))
    for brand_id, n in rows:
        counts[brand_id]["specialist"] = n
    return counts


def operator_count(session: Session) -> int:
    """How many platform operators there are."""
    return session.scalar(select(func.count(User.id)).where(User.role == "operator")) or 0


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing: its items, the page number, the total count and the page size."""

    items: list[T]
    page: int
    total: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def brand_users(session: Session, slug: str, *, search: str = "", role: str | None = None,
                page: int = 1) -> Page[User]:
    """Accounts of brand ``slug`` (its own, plus specialists with an active membership there),
    newest first, filtered by a name/email search. Account fields only, never health data."""
    members = select(SpecialistMembership.user_id).where(
        SpecialistMembership.brand_id == slug, SpecialistMembership.active.is_(True))
    query = select(User).where(or_(User.brand_id == slug,
                                   (User.role == "specialist") & User.id.in_(members)))
    if search.strip():
        pattern = _like(search.strip().lower())
        query = query.where(or_(func.lower(User.name).like(pattern, escape="\\"),
                                func.lower(User.email).like(pattern, escape="\\")))
    if role:
        query = query.where(User.role == role)
    query = query.execution_options(all_brands=True)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(session.scalars(query.order_by(User.created_at.desc(), User.id.desc())
                                 .limit(USERS_PAGE_SIZE).offset((page - 1) * USERS_PAGE_SIZE)))
    return Page(items, page, total, USERS_PAGE_SIZE)


# --- outbox ----------------------------------------------------------------------------------


def outbox(session: Session, *, brand: str | None = None, page: int = 1) -> Page[Email]:
    """Emails newest first, optionally of one brand."""
    query = select(Email)
    if brand:
        query = query.where(Email.brand_id == brand)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(session.scalars(query.order_by(Email.created_at.desc(), Email.id.desc())
                                 .limit(OUTBOX_PAGE_SIZE).offset((page - 1) * OUTBOX_PAGE_SIZE)))
    return Page(items, page, total, OUTBOX_PAGE_SIZE)


def outbox_email(session: Session, email_id: int) -> Email | None:
    """One email of the outbox (any brand), or None."""
    return session.get(Email, email_id)
