"""Data layer: declarative base, naming convention, engine/session factory and brand scoping.

Brand scoping lives here and only here: a session created for a brand (``info["brand_id"]``)
adds ``brand_id = :brand`` to every SELECT of a :class:`BrandScoped` model and stamps new rows
with that brand. Platform-wide reports opt out with ``execution_options(all_brands=True)``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    MetaData,
    String,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from engine import clock

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # SQLite keeps these as ISO text in UTC ("2026-03-02 09:00:00.000000", written by the
        # bind side above). One C-level parse per value instead of SQLAlchemy's string parser
        # plus the decorator's second pass: pages that read thousands of rows (a directory
        # page's next free slots) spend a third of their time here otherwise.
        def parse(value: str | None) -> datetime | None:
            if value is None:
                return None
            parsed = datetime.fromisoformat(value)
            return (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None
                    else parsed.astimezone(UTC))

        return parse


class _EpochFloor(FunctionElement[int]):
    """Whole POSIX seconds of a UTC datetime column, rounded down, computed by the database:
    pages that compare thousands of instants read small integers instead of parsing a datetime
    per value (see :mod:`modules.booking.availability` for why whole seconds rounded outwards
    give exact answers)."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_floor"


class _EpochCeil(_EpochFloor):
    """As :class:`_EpochFloor`, rounded up."""

    inherit_cache = True
    name = "epoch_ceil"


def epoch_floor(column: Any) -> FunctionElement[int]:
    """``floor`` of the column's POSIX time, in SQL."""
    return _EpochFloor(column)


def epoch_ceil(column: Any) -> FunctionElement[int]:
    """``ceil`` of the column's POSIX time, in SQL."""
    return _EpochCeil(column)


@compiles(_EpochFloor)
def _epoch_default(element: _EpochFloor, compiler: Any, **kw: Any) -> str:
    rounding = "ceil" if isinstance(element, _EpochCeil) else "floor"
    return f"CAST({rounding}(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}))" \
        " AS BIGINT)"


@compiles(_EpochFloor, "sqlite")
def _epoch_sqlite(element: _EpochFloor, compiler: Any, **kw: Any) -> str:
    # the values are UTC text "YYYY-MM-DD HH:MM:SS.ffffff" (the bind side above): unixepoch
    # (strftime before SQLite 3.38) gives the whole seconds, and non-zero microseconds (from
    # the 21st character on) add one second when rounding up
    column = compiler.process(element.clauses, **kw)
    if compiler.dialect.dbapi.sqlite_version_info >= (3, 38):
        seconds = f"unixepoch({column})"
    else:
        seconds = f"CAST(strftime('%s', {column}) AS INTEGER)"
    if not isinstance(element, _EpochCeil):
        return seconds
    return f"({seconds} + (substr({column}, 21) > '000000'))"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}

    def __repr__(self) -> str:
        pk = ", ".join(f"{c.key}={getattr(self, c.key, None)!r}"
                       for c in self.__table__.primary_key.columns)  # type: ignore[attr-defined]
        return f"<{type(self).__name__} {pk}>"


class BrandScoped:
    """Mixin for rows that belong to one brand. ``brand_id`` is set by the server."""

    brand_id: Mapped[str] = mapped_column(String(63), index=True)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class CrossBrandWrite(Exception):
    """A session of one brand tried to write a row of another brand."""


@event.listens_for(Session, "do_orm_execute")
def _scope_to_brand(state: ORMExecuteState) -> None:
    # SELECTs (with their joins, relationship and eager loads) and ORM-enabled bulk UPDATE /
    # DELETE statements; a refresh of an already loaded row (column load) needs no criterion.
    brand_id = state.session.info.get("brand_id")
    if (brand_id is None or state.is_column_load
            or not (state.is_select or state.is_update or state.is_delete)
            or state.execution_options.get("all_brands", False)):
        return
    state.statement = state.statement.options(
        with_loader_criteria(BrandScoped, lambda cls: cls.brand_id == brand_id,
                             include_aliases=True, track_closure_variables=True)
    )


@event.listens_for(Session, "before_flush")
def _stamp_brand(session: Session, flush_context: Any, instances: Any) -> None:
    brand_id = session.info.get("brand_id")
    if brand_id is None:
        return
    for obj in [*session.new, *session.dirty, *session.deleted]:
        if not isinstance(obj, BrandScoped):
            continue
        if obj.brand_id is None and obj in session.new:
            obj.brand_id = brand_id
        # A dirty row compares its loaded brand too: moving a row between brands is a write
        # to the brand it came from.
        history = inspect(obj).attrs.brand_id.history
        brands = {obj.brand_id, *(history.deleted or ())}
        if brands != {brand_id}:
            raise CrossBrandWrite(f"{obj!r} belongs to brand "
                                  f"{', '.join(sorted(map(str, brands - {brand_id})))}, "
                                  f"not {brand_id!r}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        eng = create_engine(url, **kwargs)

        @event.listens_for(eng, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
            # pysqlite's own transaction handling starts a transaction only before DML, so a
            # SAVEPOINT or a read-then-write would run outside it (and a savepoint release would
            # commit). SQLAlchemy emits BEGIN itself instead (the documented pysqlite recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(eng, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        return eng
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_sessionmaker(bind: Any) -> sessionmaker[Session]:
    return sessionmaker(bind=bind, expire_on_commit=False,
                        join_transaction_mode="create_savepoint")


def brand_session(factory: sessionmaker[Session], brand_id: str | None) -> Session:
    """A session scoped to ``brand_id`` (None: platform-wide, for operators and jobs)."""
    return factory(info={"brand_id": brand_id})


def ping(session: Session) -> str:
    try:
        session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # reported on /healthz; the request itself must not fail
        session.rollback()
        return f"error: {type(exc).__name__}"
