"""A per-process cache of each specialist's next free slots: what a directory page shows on
every card, read far more often than any calendar changes.

An entry is keyed by the brand (and its config revision), the number of slots and the
specialist, and is used only while it is provably the answer :func:`batch.next_slots_many`
would give now:

- the specialist's calendar ``slots_token`` and the platform's slots epoch are those the entry
  was computed under. Every write that can change the specialist's slots (appointments, types,
  weekly rules, overrides, waitlist holds, the calendar's zone) sets a new random token in the
  write's own transaction, whichever code writes (a session hook, as the directory's version
  does); ORM bulk UPDATE/DELETE of those rows, whose specialists the hook cannot name, set a
  new epoch instead. Both are read in the request's transaction *before* the slots, so a
  cached answer can only be older than its key never newer;
- the clock has not reached the moment the first cached slot stops being bookable (its start
  minus the type's minimum notice): as time passes slots only disappear, earliest first;
- and at most :data:`TTL` has passed, which bounds what time alone adds (a waitlist hold
  expiring, the booking horizon moving on).

Which specialists are listed on the brand is read on every request, never cached.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import chain
from typing import Any, NamedTuple

from sqlalchemy import event, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session

from engine import clock
from engine.config import BrandConfig
from modules.booking import batch
from modules.booking.availability import Slot
from modules.booking.models import (
    Appointment,
    AppointmentType,
    Calendar,
    DateOverride,
    SlotsEpoch,
    WeeklyRule,
)
from modules.booking.models_waitlist import FreedSlot, WaitlistOffer

TTL = timedelta(minutes=5)
MAX_ENTRIES = 50_000

_BY_SPECIALIST = (Appointment, AppointmentType, FreedSlot, WaitlistOffer)
_BY_CALENDAR = (WeeklyRule, DateOverride)
_EPOCH = SlotsEpoch.__table__
_CALENDAR = Calendar.__table__
_READ_EPOCH = select(_EPOCH.c.token).where(_EPOCH.c.id == 1)


class CachedSlot(NamedTuple):
    """A free slot and the id and name of the appointment type it is offered for."""

    appointment_type_id: int
    appointment_type_name: str
    slot: Slot


class _Entry(NamedTuple):
    key: tuple[str | None, str]  # (epoch, calendar slots token)
    valid_until: datetime
    slots: tuple[CachedSlot, ...]


class SlotCache:
    """A thread-safe LRU of at most ``max_entries`` specialists' next slots."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple[Any, ...]) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put_many(self, items: Iterable[tuple[tuple[Any, ...], _Entry]]) -> None:
        with self._lock:
            for key, entry in items:
                self._entries[key] = entry
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


slots = SlotCache()


def next_slots(session: Session, brand: BrandConfig, specialist_ids: Sequence[int],
               count: int) -> dict[int, list[CachedSlot]]:
    """For each of ``specialist_ids``, the first ``count`` free slots on ``brand`` (as
    :func:`batch.next_slots_many`), from the cache where its entry is still exact and in one
    batched computation for the rest."""
    ids = list(dict.fromkeys(specialist_ids))
    result: dict[int, list[CachedSlot]] = {i: [] for i in ids}
    if count <= 0 or not ids:
        return result
    # the keys first, in this transaction: the data read after them is at least as new
    connection = session.connection()
    epoch = connection.execute(_READ_EPOCH).scalar()
    calendars = batch.listed_calendars(session, brand, ids)  # with their slots tokens
    now = clock.now()
    scope = (brand.slug, brand_revision(brand), count)
    missing = []
    for i, (_, _, token) in calendars.items():
        entry = slots.get((*scope, i))
        if entry is not None and entry.key == (epoch, token) and now < entry.valid_until:
            result[i] = list(entry.slots)
            slots.hits += 1
        else:
            missing.append(i)
    if not missing:
        return result
    slots.misses += len(missing)
    found = batch.next_slots_many(session, brand, missing, count, listed=set(missing),
                                  calendars=[(calendars[i][0], i, calendars[i][1])
                                             for i in missing])
    fresh = []
    until = now + TTL
    for i in missing:
        cached = tuple([CachedSlot(kind.id, kind.name, slot) for kind, slot in found[i]])
        # exact until the TTL, or until a slot stops being bookable (its start minus its
        # type's minimum notice), whichever comes first
        valid_until = min([until, *[slot.start_at - kind.rules.notice
                                    for kind, slot in found[i]]])
        fresh.append(((*scope, i), _Entry((epoch, calendars[i][2]), valid_until, cached)))
        result[i] = list(cached)
    slots.put_many(fresh)
    return result


def brand_revision(brand: BrandConfig) -> int:
    """A key for the brand's config as it shapes slots (types' rules are rows, not config)."""
    return hash(brand.model_dump_json(include={"slug", "timezone", "modules"}))


# --- keeping the keys true --------------------------------------------------------------------


def _value(obj: object, name: str) -> set[int]:
    """The current and (when changed in this flush) previous value of ``obj.name``, read
    without loading anything (a deleted row's attributes may be expired)."""
    state = inspect(obj)
    values = set()
    if name in state.dict:
        values.add(state.dict[name])
    history = state.attrs[name].history
    values.update(v for v in chain(history.added or (), history.deleted or ()))
    return {v for v in values if v is not None}


def _touched(session: Session) -> tuple[set[int], set[int], bool]:
    """(specialist ids, calendar ids, unknown) whose slots the flush being written changes."""
    specialists: set[int] = set()
    calendars: set[int] = set()
    unknown = False
    for obj in chain(session.new, session.deleted, session.dirty):
        if obj in session.dirty and not session.is_modified(obj):
            continue
        if isinstance(obj, _BY_SPECIALIST):
            found = _value(obj, "specialist_id")
            specialists |= found
            unknown |= not found
        elif isinstance(obj, _BY_CALENDAR):
            found = _value(obj, "calendar_id")
            calendars |= found
            unknown |= not found
        elif isinstance(obj, Calendar) and obj not in session.new:
            calendars |= _value(obj, "id")
    return specialists, calendars, unknown


def bump_calendars(connection: Connection, specialist_ids: Iterable[int] = (),
                   calendar_ids: Iterable[int] = ()) -> None:
    """Give the named calendars a new slots token (in the caller's transaction)."""
    specialist_ids, calendar_ids = sorted(set(specialist_ids)), sorted(set(calendar_ids))
    if not (specialist_ids or calendar_ids):
        return
    token = secrets.token_hex(8)
    connection.execute(update(_CALENDAR).where(
        _CALENDAR.c.specialist_id.in_(specialist_ids) | _CALENDAR.c.id.in_(calendar_ids))
        .values(slots_token=token))


def bump_epoch(connection: Connection) -> None:
    """Make every cached next-slots entry of every process stale."""
    token = secrets.token_hex(16)
    dialect = connection.dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        connection.execute(insert(_EPOCH).values(id=1, token=token).on_conflict_do_update(
            index_elements=[_EPOCH.c.id], set_={"token": token}))
        return
    if not connection.execute(update(_EPOCH).where(_EPOCH.c.id == 1)
                              .values(token=token)).rowcount:
        connection.execute(_EPOCH.insert().values(id=1, token=token))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: Any) -> None:
    # after_flush still sees the flush's objects and their history; the bump runs on the
    # flush's own connection, so it commits or rolls back with the change
    specialists, calendars, unknown = _touched(session)
    if unknown:
        bump_epoch(session.connection())
    bump_calendars(session.connection(), specialists, calendars)


@event.listens_for(Session, "do_orm_execute")
def _on_bulk_write(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    if any(m.class_ in (*_BY_SPECIALIST, *_BY_CALENDAR) for m in state.all_mappers):
        bump_epoch(state.session.connection())
