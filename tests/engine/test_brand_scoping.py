"""Brand scoping is enforced by the session: rows of another brand are invisible and unwritable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import ForeignKey, String, delete, func, select, update
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    selectinload,
)

from engine.db import BrandScoped, CrossBrandWrite, brand_session
from engine.identity.models import SpecialistMembership, User
from engine.identity.services import add_membership
from engine.platform import Platform
from modules.directory.models import Listing, Profile

A, B = "acme-clinic", "wellness-corp"


@dataclass
class Rows:
    profile: Profile
    listing_a: Listing
    listing_b: Listing


@pytest.fixture
def rows(db: Session, create_user: Callable[..., User], platform: Platform) -> Rows:
    """One specialist of the shared network working on both brands, listed on both."""
    user = create_user("specialist", brand=A)
    add_membership(db, platform.brands[B].loaded.config, user)
    profile = Profile(user_id=user.id, display_name="Dr. Shared")
    db.add(profile)
    db.flush()
    listing_a = Listing(brand_id=A, profile_id=profile.id, visible=True)
    listing_b = Listing(brand_id=B, profile_id=profile.id, visible=False)
    db.add_all([listing_a, listing_b])
    db.flush()
    return Rows(profile, listing_a, listing_b)


@pytest.fixture
def session_for(platform: Platform, db: Session) -> Iterator[Callable[[str], Session]]:
    opened: list[Session] = []

    def make(brand_id: str) -> Session:
        session = brand_session(platform.runtime.sessions, brand_id)
        opened.append(session)
        return session

    yield make
    for session in opened:
        session.close()


@pytest.mark.parametrize(("brand", "other"), [(A, B), (B, A)])
def test_select_sees_only_the_sessions_brand(rows: Rows, session_for: Callable[[str], Session],
                                             brand: str, other: str) -> None:
    session = session_for(brand)
    listings = session.scalars(select(Listing)).all()
    assert [listing.brand_id for listing in listings] == [brand]
    assert session.scalar(select(func.count()).select_from(Listing)) == 1
    assert session.scalar(select(func.count(Listing.id))) == 1
    assert session.scalars(select(Listing).where(Listing.brand_id == other)).all() == []
    memberships = session.scalars(select(SpecialistMembership)).all()
    assert {m.brand_id for m in memberships} == {brand}


def test_get_of_another_brands_id_answers_none(rows: Rows,
                                               session_for: Callable[[str], Session]) -> None:
    session = session_for(B)
    assert session.get(Listing, rows.listing_a.id) is None
    assert session.get(Listing, rows.listing_b.id) is not None


def test_joins_apply_the_brand_criterion(rows: Rows,
                                         session_for: Callable[[str], Session]) -> None:
    session = session_for(B)
    inner = session.execute(
        select(Profile.id, Listing.brand_id).join(Listing, Listing.profile_id == Profile.id)
    ).all()
    assert [brand for _, brand in inner] == [B]
    outer = session.execute(
        select(Profile.id, Listing.brand_id)
        .outerjoin(Listing, Listing.profile_id == Profile.id)
        .where(Profile.id == rows.profile.id)
    ).all()
    assert [brand for _, brand in outer] == [B]
    subquery = select(Listing.profile_id).scalar_subquery()
    assert session.scalars(select(Profile.id).where(Profile.id.in_(subquery))).all() \
        == [rows.profile.id]


def test_bulk_update_and_delete_touch_only_the_sessions_brand(
        rows: Rows, session_for: Callable[[str], Session], db: Session) -> None:
    session = session_for(B)
    session.execute(update(Listing).values(visible=True))
    session.execute(delete(SpecialistMembership))
    session.flush()
    everything = select(Listing).execution_options(all_brands=True, populate_existing=True)
    assert {listing.brand_id: listing.visible for listing in db.scalars(everything)} \
        == {A: True, B: True}
    memberships = db.scalars(select(SpecialistMembership)
                             .execution_options(all_brands=True)).all()
    assert {m.brand_id for m in memberships} == {A}


def test_new_rows_get_the_sessions_brand_stamped(db: Session, create_user: Callable[..., User],
                                                 session_for: Callable[[str], Session]) -> None:
    user = create_user("specialist", brand=A)
    profile = Profile(user_id=user.id, display_name="Dr. New")
    db.add(profile)
    db.flush()
    session = session_for(B)
    listing = Listing(profile_id=profile.id)
    session.add(listing)
    session.flush()
    assert listing.brand_id == B


def test_writing_a_row_of_another_brand_raises(rows: Rows, db: Session,
                                               session_for: Callable[[str], Session]) -> None:
    session = session_for(B)
    session.add(Listing(brand_id=A, profile_id=rows.profile.id))
    with pytest.raises(CrossBrandWrite):
        session.flush()


def test_moving_a_row_to_another_brand_raises(rows: Rows,
                                              session_for: Callable[[str], Session]) -> None:
    session = session_for(B)
    listing = session.scalars(select(Listing)).one()
    listing.brand_id = A
    with pytest.raises(CrossBrandWrite):
        session.flush()


@pytest.mark.parametrize("change", ["update", "delete"])
def test_changing_another_brands_row_loaded_across_brands_raises(
        rows: Rows, session_for: Callable[[str], Session], change: str) -> None:
    session = session_for(B)
    foreign = session.scalars(select(Listing).where(Listing.brand_id == A)
                              .execution_options(all_brands=True)).one()
    if change == "update":
        foreign.visible = False
    else:
        session.delete(foreign)
    with pytest.raises(CrossBrandWrite):
        session.flush()


def test_all_brands_option_opts_out_of_scoping(rows: Rows,
                                               session_for: Callable[[str], Session]) -> None:
    session = session_for(B)
    statement = select(Listing).order_by(Listing.brand_id)
    assert [x.brand_id for x in session.scalars(statement.execution_options(all_brands=True))] \
        == [A, B]
    assert [x.brand_id for x in session.scalars(statement,
                                                execution_options={"all_brands": True})] == [A, B]
    assert [x.brand_id for x in session.scalars(statement)] == [B]


def test_platform_wide_session_sees_every_brand(rows: Rows, db: Session) -> None:
    assert {x.brand_id for x in db.scalars(select(Listing))} == {A, B}


# --- relationship loads: brand-scoped children of an unscoped parent -------------------------


class _Base(DeclarativeBase):
    pass


class Clinic(_Base):
    """An unscoped parent (like a network-wide profile) with brand-scoped children."""

    __tablename__ = "scopetest_clinic"
    id: Mapped[int] = mapped_column(primary_key=True)
    rooms: Mapped[list[Room]] = relationship(back_populates="clinic", order_by="Room.id")


class Room(BrandScoped, _Base):
    __tablename__ = "scopetest_room"
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("scopetest_clinic.id"))
    label: Mapped[str] = mapped_column(String(20))
    booked_at: Mapped[datetime | None]
    clinic: Mapped[Clinic] = relationship(back_populates="rooms")


@pytest.fixture
def clinic(db: Session) -> int:
    """Tables of this module's own metadata, created inside the test's rolled-back transaction."""
    _Base.metadata.create_all(db.connection())
    parent = Clinic(rooms=[Room(brand_id=A, label="a1"), Room(brand_id=B, label="b1"),
                           Room(brand_id=A, label="a2")])
    db.add(parent)
    db.flush()
    db.expunge_all()
    return parent.id


@pytest.mark.parametrize(("brand", "labels"), [(A, ["a1", "a2"]), (B, ["b1"])])
def test_lazy_relationship_loads_are_scoped(clinic: int, session_for: Callable[[str], Session],
                                            brand: str, labels: list[str]) -> None:
    session = session_for(brand)
    parent = session.get(Clinic, clinic)
    assert parent is not None
    assert [room.label for room in parent.rooms] == labels


@pytest.mark.parametrize(("brand", "labels"), [(A, ["a1", "a2"]), (B, ["b1"])])
def test_eager_relationship_loads_are_scoped(clinic: int, session_for: Callable[[str], Session],
                                             brand: str, labels: list[str]) -> None:
    session = session_for(brand)
    parent = session.scalars(select(Clinic).options(selectinload(Clinic.rooms))).one()
    assert [room.label for room in parent.rooms] == labels
    joined = session.scalars(select(Room).join(Room.clinic).where(Clinic.id == clinic)).all()
    assert [room.label for room in joined] == labels
