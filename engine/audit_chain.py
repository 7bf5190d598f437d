"""Audit chain: verification, listing and retention (the read and purge side of engine.audit).

Verification walks each chain in ``seq`` order in batches (keyset pagination: constant memory
over any number of events) and recomputes every MAC. It names the *first* event that breaks:

- **altered**: the row's MAC does not match its own content and stored ``prev_mac``, and the
  next row chains from this row's stored MAC (so this row sat there, but was edited);
- **inserted**: the row does not verify and the next row chains from the row *before* it
  (nothing expected it there);
- **removed**: the row verifies on its own but its ``seq`` skips (a hole) or its ``prev_mac``
  is not the MAC of the event before it; a head row ahead of the last event says events were
  removed from the end;
- **key_order**: the row verifies, but with a key older than the one that signed the row
  before it (after a rotation, only someone holding the superseded key writes that);
- **key_missing**: rows (or the checkpoint) signed with a key the keyring no longer holds:
  they are counted and their links followed, but their MACs cannot be checked.

Each row (and checkpoint) is checked with the key its ``key_id`` names (NULL: key 1), so a
rotated chain (:mod:`engine.audit_keys`) verifies across the switch: the first row a new key
signs covers the previous row's MAC like any other.

Retention (:func:`purge_expired`) deletes a *prefix* of one brand's chain, never less than six
years old (the floor; the brand may keep longer), records an HMAC'd checkpoint holding the last
purged event's seq and MAC and the id of its own key (verification then starts from it: the
first kept event must chain from that anchor), and records the run itself as an audit event. On
PostgreSQL the deletion is the only one the append-only trigger lets through: the routine sets
the transaction-local ``daraport.audit_retention = 'on'`` and the trigger still refuses any row
younger than six years. A forged checkpoint fails its MAC; a deleted checkpoint makes
verification expect the chain from seq 1 and report the purged events as removed (a false alarm,
never a silent gap).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.audit_keys import LEGACY_KEY_ID
from engine.audit_models import AuditChainHead, AuditCheckpoint, AuditEvent

RETENTION_FLOOR = timedelta(days=6 * 365 + 2)  # six years, leap days included
BATCH = 5000

_COLUMNS = (AuditEvent.id, AuditEvent.chain, AuditEvent.seq, AuditEvent.occurred_at,
            AuditEvent.brand_id, AuditEvent.actor_id, AuditEvent.actor_role, AuditEvent.ip,
            AuditEvent.action, AuditEvent.outcome, AuditEvent.target_type,
            AuditEvent.target_id, AuditEvent.patient_id, AuditEvent.request_id,
            AuditEvent.details, AuditEvent.prev_mac, AuditEvent.mac, AuditEvent.key_id)


@dataclass(frozen=True)
class Problem:
    chain: str
    # "altered", "inserted", "removed", "checkpoint", "key_order", "key_missing"
    kind: str
    seq: int | None
    event_id: int | None
    message: str


@dataclass
class ChainReport:
    chain: str
    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    problem: Problem | None = None
    # events whose key is not in the keyring, by key id (their MACs could not be checked)
    unchecked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Keys:
    """The key of each key id for verification: the keyring's, or one given key for every id
    (``key=``: a caller checking against one known key)."""

    def __init__(self, ring: audit.AuditKeyring | None, key: bytes | None) -> None:
        self.key = key
        self.by_id = {} if ring is None else dict(ring.keys)
        self.order = {} if ring is None else {kid: n for n, kid in enumerate(ring.keys)}

    def get(self, kid: str | None) -> bytes | None:
        return self.key if self.key is not None else self.by_id.get(kid or LEGACY_KEY_ID)

    def position(self, kid: str | None) -> int | None:
        return self.order.get(kid or LEGACY_KEY_ID)


def _keys(key: bytes | None, keyring: audit.AuditKeyring | None) -> _Keys:
    if key is not None:
        return _Keys(None, key)
    return _Keys(keyring or audit.audit_keyring(), None)


def _kid(kid: str | None) -> str:
    return kid or LEGACY_KEY_ID


def checkpoint_mac(key: bytes, chain: str, anchor_seq: int, anchor_mac: str, purged: int,
                   created_at: datetime) -> str:
    content = audit.canonical(chain, anchor_seq, created_at, None, None, None, None,
                              "audit.checkpoint", "success", None, None, purged, None, None)
    return audit.compute_mac(key, anchor_mac, content)


def chains(session: Session) -> list[str]:
    names = set(session.scalars(select(AuditChainHead.chain)))
    names |= set(session.scalars(select(AuditEvent.chain).distinct()))
    return sorted(names)


def _rows(session: Session, chain: str, after_seq: int, batch: int) -> Iterator[tuple]:
    """Rows of ``chain`` with seq > after_seq, in seq order, ``batch`` at a time."""
    last = after_seq
    while True:
        rows = session.execute(
            select(*_COLUMNS).where(AuditEvent.chain == chain, AuditEvent.seq > last)
            .order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][2]
        if len(rows) < batch:
            return


def _content(r: tuple, seq: int | None = None) -> bytes:
    return audit.canonical(r[1], r[2] if seq is None else seq, r[3], r[4], r[5], r[6], r[7],
                           r[8], r[9], r[10], r[11], r[12], r[13], r[14])


def _mac_ok(keys: _Keys, r: tuple, prev_mac: str, seq: int | None = None) -> bool:
    key = keys.get(r[17])
    return key is not None and audit.compute_mac(key, prev_mac, _content(r, seq)) == r[16]


def _start(session: Session, keys: _Keys, chain: str,
           ) -> tuple[int, str, Problem | None, str | None]:
    """(anchor seq, anchor MAC, problem, key id not in the keyring) verification starts from:
    genesis or the last checkpoint. A checkpoint whose key is missing is trusted as an anchor
    (it cannot be checked) and its key id returned, for the report."""
    cp = session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.chain == chain)
                        .order_by(AuditCheckpoint.anchor_seq.desc()).limit(1))
    if cp is None:
        return 0, audit.GENESIS_MAC, None, None
    key = keys.get(cp.key_id)
    if key is None:
        return cp.anchor_seq, cp.anchor_mac, None, _kid(cp.key_id)
    expected = checkpoint_mac(key, chain, cp.anchor_seq, cp.anchor_mac, cp.purged, cp.created_at)
    if expected != cp.mac:
        return 0, audit.GENESIS_MAC, Problem(
            chain, "checkpoint", cp.anchor_seq, None,
            f"retention checkpoint at seq {cp.anchor_seq} is forged or altered"), None
    return cp.anchor_seq, cp.anchor_mac, None, None


def _missing_problem(chain: str, report: ChainReport, checkpoint_kid: str | None,
                     first: tuple[int, int] | None) -> Problem:
    """The report of events (and a checkpoint) signed with keys the keyring no longer holds."""
    parts = [f"{n} event(s) signed with key {kid}" for kid, n in sorted(report.unchecked.items())]
    if checkpoint_kid is not None:
        parts.append(f"the retention checkpoint signed with key {checkpoint_kid}")
    missing = sorted(set(report.unchecked) | ({checkpoint_kid} if checkpoint_kid else set()))
    return Problem(chain, "key_missing", first[0] if first else None,
                   first[1] if first else None,
                   f"{' and '.join(parts)} could not be checked: key(s) "
                   f"{', '.join(missing)} are not in the audit keyring (put them back to "
                   f"verify; the rest of the chain links up)")


def verify_chain(session: Session, chain: str, *, key: bytes | None = None,
                 keyring: audit.AuditKeyring | None = None, batch: int = BATCH) -> ChainReport:
    """Walk ``chain`` and report the first break (see the module docstring), checking each
    event with the key its ``key_id`` names (``key``: one key for every event instead).

    An event whose key is missing from the keyring cannot be checked: the walk goes on through
    it trusting its stored MACs' links, counts it in ``unchecked`` and, when nothing else
    breaks, reports the chain as ``key_missing``. An event signed with a key *older* than the
    one that signed the event before it is a ``key_order`` break: the writer never goes back
    to a superseded key, so it is a forgery with an old (perhaps leaked) key.
    """
    keys = _keys(key, keyring)
    report = ChainReport(chain)
    seq, prev, problem, checkpoint_kid = _start(session, keys, chain)
    if problem is not None:
        report.problem = problem
        return report
    first_unchecked: tuple[int, int] | None = None
    prev_kid: str | None = None  # key id of the last event walked
    pending: tuple | None = None  # a row that did not verify, judged by the row after it
    pending_prev = prev
    for r in _rows(session, chain, seq, batch):
        report.events += 1
        if report.first_seq is None:
            report.first_seq = r[2]
        report.last_seq = r[2]
        if pending is not None:
            # the row after a bad one: does it chain from the bad row or from the one before?
            # (an insertion in the middle renumbers what follows: the next row then verifies
            # with its original seq, one less)
            if r[15] == pending_prev and any(_mac_ok(keys, r, pending_prev, n)
                                             for n in (r[2], r[2] - 1)):
                report.problem = Problem(chain, "inserted", pending[2], pending[0],
                                         f"event #{pending[2]} (id {pending[0]}) was inserted")
            else:
                report.problem = Problem(chain, "altered", pending[2], pending[0],
                                         f"event #{pending[2]} (id {pending[0]}) was altered")
            return report
        kid = r[17] or LEGACY_KEY_ID
        key = keys.get(kid)
        if key is None:
            # cannot check its MAC: check only that it links up, and go on from it
            report.unchecked[kid] = report.unchecked.get(kid, 0) + 1
            first_unchecked = first_unchecked or (r[2], r[0])
            if r[2] != seq + 1 or r[15] != prev:
                report.problem = Problem(
                    chain, "removed" if r[2] > seq + 1 else "altered", r[2], r[0],
                    f"event #{r[2]} (id {r[0]}) does not follow #{seq}, and its key {kid} is "
                    f"not in the audit keyring to tell whether it was altered or events "
                    f"were removed")
                return report
            seq, prev, prev_kid = r[2], r[16], kid
            continue
        content = _content(r)
        if r[2] == seq + 1 and r[15] == prev and audit.compute_mac(key, prev, content) == r[16]:
            if prev_kid is not None and kid != prev_kid and \
                    (before := keys.position(prev_kid)) is not None and \
                    (here := keys.position(kid)) is not None and here < before:
                report.problem = Problem(
                    chain, "key_order", r[2], r[0],
                    f"event #{r[2]} (id {r[0]}) is signed with key {kid}, older than key "
                    f"{prev_kid} that signed #{seq}: a superseded key signs no new events, "
                    f"so it was forged with the old key")
                return report
            seq, prev, prev_kid = r[2], r[16], kid
            continue
        if audit.compute_mac(key, r[15], content) == r[16]:
            # authentic on its own, but not the successor of the previous event
            first_missing = seq + 1
            report.problem = Problem(
                chain, "removed", r[2], r[0],
                f"event(s) before #{r[2]} (id {r[0]}) were removed: expected #{first_missing}"
                if r[2] > first_missing else
                f"event #{r[2]} (id {r[0]}) does not follow #{seq}: events were removed or "
                f"reordered")
            return report
        pending, pending_prev = r, prev
    if pending is not None:
        report.problem = Problem(chain, "altered", pending[2], pending[0],
                                 f"event #{pending[2]} (id {pending[0]}) was altered or inserted "
                                 f"(it is the last event)")
        return report
    head = session.get(AuditChainHead, chain)
    if head is not None and (head.seq > seq or (head.seq == seq and head.mac != prev)):
        report.problem = Problem(chain, "removed", seq + 1, None,
                                 f"event(s) after #{seq} were removed (the chain head is at "
                                 f"#{head.seq})")
    elif report.unchecked or checkpoint_kid is not None:
        report.problem = _missing_problem(chain, report, checkpoint_kid, first_unchecked)
    return report


def verify(session: Session, *, chain: str | None = None, key: bytes | None = None,
           keyring: audit.AuditKeyring | None = None, batch: int = BATCH) -> list[ChainReport]:
    ring = None if key is not None else (keyring or audit.audit_keyring())
    names = [chain] if chain else chains(session)
    return [verify_chain(session, name, key=key, keyring=ring, batch=batch) for name in names]


# --- listing ------------------------------------------------------------------------------------


def query(*, brand_id: str | None | type[Ellipsis] = ..., action: str | None = None,
          outcome: str | None = None, actor_id: int | None = None,
          patient_id: int | None = None, since: datetime | None = None,
          until: datetime | None = None, before_id: int | None = None, limit: int = 50):  # type: ignore[no-untyped-def]
    """A SELECT of events, newest first, filtered (``brand_id=...``: every brand)."""
    stmt = select(AuditEvent)
    if brand_id is not ...:
        stmt = stmt.where(AuditEvent.brand_id.is_(None) if brand_id is None
                          else AuditEvent.brand_id == brand_id)
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
    if outcome:
        stmt = stmt.where(AuditEvent.outcome == outcome)
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if patient_id is not None:
        stmt = stmt.where(AuditEvent.patient_id == patient_id)
    if since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    return stmt.order_by(AuditEvent.id.desc()).limit(limit)


# --- retention ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeResult:
    chain: str
    cutoff: datetime
    through_seq: int | None
    count: int
    dry_run: bool


def purge_expired(session: Session, brand_id: str | None, cutoff: datetime, *,
                  dry_run: bool) -> PurgeResult:
    """Delete the events of ``brand_id``'s chain older than ``cutoff`` (a prefix of the chain:
    up to the first event at or after the cutoff). Refuses a cutoff newer than the six-year
    floor. Records a checkpoint and an ``audit.retention_purge`` event; the caller commits.
    Idempotent: a second run with the same cutoff finds nothing and records nothing.
    """
    now = clock.now()
    if cutoff > now - RETENTION_FLOOR:
        raise ValueError("the audit log is kept at least six years: cutoff "
                         f"{cutoff:%Y-%m-%d} is after {(now - RETENTION_FLOOR):%Y-%m-%d}")
    chain = audit.chain_of(brand_id)
    start, _, problem, _ = _start(session, _keys(None, None), chain)
    if problem is not None:
        raise RuntimeError(problem.message)
    first_kept = session.scalar(select(func.min(AuditEvent.seq))
                                .where(AuditEvent.chain == chain, AuditEvent.seq > start,
                                       AuditEvent.occurred_at >= cutoff))
    bound = select(AuditEvent.seq).where(AuditEvent.chain == chain, AuditEvent.seq > start)
    if first_kept is not None:
        bound = bound.where(AuditEvent.seq < first_kept)
    through = session.scalar(select(func.max(bound.subquery().c.seq)))
    if through is None:
        return PurgeResult(chain, cutoff, None, 0, dry_run)
    count = session.scalar(select(func.count()).select_from(AuditEvent)
                           .where(AuditEvent.chain == chain, AuditEvent.seq > start,
                                  AuditEvent.seq <= through)) or 0
    if dry_run:
        return PurgeResult(chain, cutoff, through, count, dry_run)
    audit._lock_head(session, chain)  # no append races the purge
    anchor_mac = session.scalar(select(AuditEvent.mac).where(AuditEvent.chain == chain,
                                                             AuditEvent.seq == through))
    assert anchor_mac is not None
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL daraport.audit_retention = 'on'"))
    session.execute(delete(AuditEvent).where(AuditEvent.chain == chain,
                                             AuditEvent.seq <= through)
                    .execution_options(synchronize_session=False))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL daraport.audit_retention = 'off'"))
    created = clock.now()
    ring = audit.audit_keyring()  # read after the head's lock, as audit.record does
    session.add(AuditCheckpoint(
        chain=chain, anchor_seq=through, anchor_mac=anchor_mac, purged=count,
        created_at=created, key_id=ring.current,
        mac=checkpoint_mac(ring.current_key, chain, through, anchor_mac, count, created)))
    session.flush()
    audit.record(session, action="audit.retention_purge", brand_id=brand_id,
                 details={"through_seq": through, "purged": count,
                          "cutoff": cutoff.date().isoformat()})
    return PurgeResult(chain, cutoff, through, count, dry_run)
