"""Datetimes are stored in UTC and come back aware, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from engine.db import brand_session, epoch_ceil, epoch_floor
from engine.identity.models import User
from engine.platform import Platform

MOMENTS = [
    datetime(2025, 3, 30, 1, 30, tzinfo=UTC),  # the hour Madrid skips to summer time
    datetime(2025, 11, 2, 1, 30, tzinfo=ZoneInfo("America/New_York")),  # ambiguous local hour
    datetime(2024, 12, 31, 23, 59, 59, 123456, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2025, 6, 1, 9, 0, tzinfo=ZoneInfo("Europe/Madrid")),
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_utc_datetimes_round_trip_aware(db: Session, platform: Platform,
                                        create_user: Callable[..., User],
                                        moment: datetime) -> None:
    user = create_user("patient")
    user.email_verified_at = moment
    db.flush()
    other = brand_session(platform.runtime.sessions, None)
    try:
        loaded = other.scalars(select(User).where(User.id == user.id)).one()
        assert loaded.email_verified_at is not None
        assert loaded.email_verified_at.utcoffset() == timedelta(0)
        # compare instants: Python never equates an ambiguous local time across zones (PEP 495)
        assert loaded.email_verified_at == moment.astimezone(UTC)
        assert loaded.created_at.tzinfo is not None
    finally:
        other.close()


def test_stored_value_is_the_utc_wall_time(db: Session, create_user: Callable[..., User]) -> None:
    user = create_user("patient")
    user.email_verified_at = datetime(2025, 6, 1, 9, 0, tzinfo=ZoneInfo("Europe/Madrid"))
    db.flush()
    raw = db.execute(text("SELECT email_verified_at FROM identity_user WHERE id = :id"),
                     {"id": user.id}).scalar_one()
    if isinstance(raw, str):  # SQLite keeps text
        assert raw.startswith("2025-06-01 07:00:00")
    else:  # PostgreSQL timestamptz: an aware instant
        assert raw == datetime(2025, 6, 1, 7, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused(db: Session, create_user: Callable[..., User]) -> None:
    user = create_user("patient")
    user.email_verified_at = datetime(2025, 1, 1, 12, 0)  # naive: the point of the test
    with pytest.raises(StatementError, match="naive datetime"):
        db.flush()


@pytest.mark.parametrize("moment", MOMENTS + [
    datetime(2026, 3, 2, 7, 30, 0, 1, tzinfo=UTC),  # one microsecond past a whole second
    datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),  # before the epoch
], ids=str)
def test_the_database_rounds_instants_to_whole_posix_seconds_outwards(
        db: Session, create_user: Callable[..., User], moment: datetime) -> None:
    """epoch_floor / epoch_ceil: what the batched availability reads instead of datetimes."""
    user = create_user("patient")
    user.email_verified_at = moment
    db.flush()
    floor, ceil = db.execute(select(epoch_floor(User.email_verified_at),
                                    epoch_ceil(User.email_verified_at))
                             .where(User.id == user.id)).one()
    exact = moment.timestamp()
    assert (floor, ceil) == (math.floor(exact), math.ceil(exact))
