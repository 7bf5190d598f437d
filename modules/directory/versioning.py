"""The directory's data version: a token that changes with every write that can change a
directory page, in the same transaction as the write, whichever code writes (the directory's
own services, the engine's membership services, the CLI, a job, a test's session).

The module listens on every SQLAlchemy session instead of asking writers to call it: flushes
that insert, change or delete a profile, tag, listing or specialist membership, or rename or
delete a specialist's account, set a new random token; ORM bulk UPDATE/DELETE statements on
those models do too. Core statements on raw tables are not seen: write through the models.

One row for the whole platform, not one per brand: every bump locks that one row until commit,
so writers queue instead of deadlocking over two rows taken in opposite orders, and directory
writes are rare next to reads. The price is that a change on one brand also refreshes the
other brands' cached pages.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session

from engine import clock
from engine.identity.models import SpecialistMembership, User
from modules.directory.models import DirectoryVersion, Listing, Profile, Tag

ROW_ID = 1
_WATCHED = (Profile, Tag, Listing, SpecialistMembership)
_TABLE = DirectoryVersion.__table__
# built once: every cached page reads it, and building the statement cost as much as running it
_READ = select(_TABLE.c.token).where(_TABLE.c.id == ROW_ID)


def current_version(session: Session) -> str | None:
    """The data version as the session's transaction sees it (None before the first change).

    Read it before the data it keys, inside the same transaction: a page rendered from data
    older than its version is then impossible (newer data under an older version is harmless).
    """
    return session.connection().execute(_READ).scalar()


def bump(connection: Connection) -> None:
    """Set a new version (creating the row if the database has none yet)."""
    token, now = secrets.token_hex(16), clock.now()
    dialect = connection.dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(_TABLE).values(id=ROW_ID, token=token, changed_at=now)
        connection.execute(stmt.on_conflict_do_update(
            index_elements=[_TABLE.c.id], set_={"token": token, "changed_at": now}))
        return
    updated = connection.execute(_TABLE.update().where(_TABLE.c.id == ROW_ID)
                                 .values(token=token, changed_at=now))
    if not updated.rowcount:
        connection.execute(_TABLE.insert().values(id=ROW_ID, token=token, changed_at=now))


def _is_specialist(obj: object) -> bool:
    # an unloaded role counts as a specialist: a needless bump costs less than a stale page
    return isinstance(obj, User) and inspect(obj).dict.get("role", "specialist") == "specialist"


def _changes_pages(session: Session) -> bool:
    """Whether the flush about to be written can change what a directory page shows."""
    for obj in session.new:
        if isinstance(obj, _WATCHED):
            return True
    for obj in session.deleted:
        if isinstance(obj, _WATCHED) or _is_specialist(obj):
            return True  # a deleted account takes its profile along (ON DELETE CASCADE)
    for obj in session.dirty:
        if isinstance(obj, _WATCHED) and session.is_modified(obj):
            return True
        if _is_specialist(obj) and inspect(obj).attrs.name.history.has_changes():
            return True
    return False


@event.listens_for(Session, "after_flush")
def _bump_after_flush(session: Session, flush_context: Any) -> None:
    # after_flush still sees the flush's new/dirty/deleted objects and their history; the
    # bump runs on the flush's own connection, so it commits or rolls back with the data.
    if _changes_pages(session):
        bump(session.connection())


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk_write(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    if any(m.class_ in (*_WATCHED, User) for m in state.all_mappers):
        bump(state.session.connection())
