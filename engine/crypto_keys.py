"""Key management over the encrypted columns: status, rotation (batched, resumable), retirement.

Rotation makes a key primary (new writes use it at once, in every process within a second of the
key file changing) and re-encrypts every row of every registered column
(:data:`engine.crypto.REGISTRY`) that is not yet under it, ``batch_size`` rows per transaction.
Each batch commits its rows together with the progress of its :class:`KeyRotation`, so an
interrupted run loses nothing and the next run (``keys rotate`` again) continues where it
stopped: rows already under the target key are never selected again. A row the application
rewrites meanwhile is left alone (the update is conditional on the token read). Then each file
store registered with a ``reseal`` callable (:func:`engine.crypto.register_blob_store`) re-seals
its files under the new key.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Table, bindparam, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from engine import clock, crypto
from engine.crypto import REGISTRY, EncryptedColumn, Keyring, KeyringError
from engine.db import Base


class KeyRotation(Base):
    """One run of ``keys rotate`` towards ``target_kid`` (resumed runs continue the same row)."""

    __tablename__ = "crypto_key_rotation"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_kid: Mapped[str] = mapped_column(String(8), index=True)
    started_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None]
    rows_done: Mapped[int] = mapped_column(default=0)
    batches: Mapped[int] = mapped_column(default=0)
    started_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_user.id", ondelete="SET NULL"))


class KeyInUse(Exception):
    """A key cannot be retired: it is primary, or rows or files still use it."""


PLAINTEXT = "plaintext"  # the status bucket of values that are not dp1 tokens


def _table(spec: EncryptedColumn) -> Table:
    from engine.migrate import all_metadata

    return all_metadata().tables[spec.table]


def registered() -> list[EncryptedColumn]:
    """Every encrypted column of every installed model, sorted by name."""
    from engine.migrate import all_metadata

    tables = all_metadata().tables  # imports every model: every declaration has registered
    specs = [REGISTRY[name] for name in sorted(REGISTRY) if REGISTRY[name].table in tables]
    for spec in specs:
        columns = tables[spec.table].c
        if spec.id_column not in columns or spec.seal_column not in columns:
            raise crypto.CryptoError(
                f"{spec.name}: an encrypted column needs its table's '{spec.id_column}' "
                f"primary key and '{spec.seal_column}' column (mix in engine.crypto.Sealed)")
    return specs


def status(session: Session) -> dict[str, dict[str, int]]:
    """{"table.column": {key id (or "plaintext"): rows}} for every registered column, plus the
    registered blob stores under their names."""
    out: dict[str, dict[str, int]] = {}
    for spec in registered():
        col = _table(spec).c[spec.column]
        head = func.substr(col, 1, 4 + crypto.KID_LEN)
        counts: dict[str, int] = {}
        for prefix, n in session.execute(
                select(head, func.count()).where(col.is_not(None)).group_by(head)):
            kid = prefix[4:] if prefix.startswith(crypto.FORMAT + ":") else PLAINTEXT
            counts[kid] = counts.get(kid, 0) + n
        out[spec.name] = counts
    for name, count_by_key in sorted(crypto.BLOB_STORES.items()):
        out[f"files:{name}"] = dict(count_by_key(session))
    return out


def rows_using(session: Session, kid: str) -> dict[str, int]:
    """Where key ``kid`` is still used: {column or file store: rows}, nonzero entries only."""
    return {name: counts[kid] for name, counts in status(session).items()
            if counts.get(kid)}


@dataclass
class RotationResult:
    target_kid: str
    rows: int
    batches: int
    seconds: float
    resumed: bool
    files: int = 0


def rotate(factory: sessionmaker[Session], *, batch_size: int = 500, actor: Any = None,
           after_batch: Callable[[int], None] | None = None) -> RotationResult:
    """Re-encrypt every registered column's rows under the keyring's primary key.

    ``after_batch(rows_so_far)`` runs after each committed batch (progress output; tests use it
    to interrupt a run). Raises :class:`engine.crypto.DecryptError` on a value that does not
    decrypt (its batch rolls back; earlier batches stay done).
    """
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    ring = crypto.keyring()
    target = ring.primary
    t0 = time.perf_counter()
    session = factory(info={"brand_id": None})
    try:
        run = session.scalar(select(KeyRotation).where(
            KeyRotation.target_kid == target, KeyRotation.finished_at.is_(None))
            .order_by(KeyRotation.id.desc()).limit(1))
        resumed = run is not None
        if run is None:
            run = KeyRotation(target_kid=target, started_by_id=getattr(actor, "id", None))
            session.add(run)
            session.commit()
        rows_this_run, batches = 0, 0
        for spec in registered():
            table = _table(spec)
            col, ident, seal = (table.c[spec.column], table.c[spec.id_column],
                                table.c[spec.seal_column])
            last_id: Any = None
            while True:
                query = (select(ident, seal, col)
                         .where(col.is_not(None), col.not_like(f"{crypto.FORMAT}:{target}:%"))
                         .order_by(ident).limit(batch_size))
                if last_id is not None:
                    query = query.where(ident > last_id)
                rows = session.execute(query).all()
                if not rows:
                    break
                params = []
                for row_id, row_seal, token in rows:
                    ctx = spec.context(row_seal)
                    params.append({"b_id": row_id, "b_old": token, "b_new": crypto.encrypt_value(
                        crypto.decrypt_value(token, ctx, ring), ctx, ring)})
                # one executemany per batch; conditional on the token read (a row the
                # application rewrote meanwhile is already under the primary key)
                result = session.execute(
                    update(table).where(ident == bindparam("b_id"), col == bindparam("b_old"))
                    .values({spec.column: bindparam("b_new")}), params)
                changed = result.rowcount  # type: ignore[attr-defined]
                if changed is None or changed < 0 or \
                        not session.get_bind().dialect.supports_sane_multi_rowcount:
                    changed = len(params)
                run.rows_done += changed
                run.batches += 1
                session.commit()
                rows_this_run += changed
                batches += 1
                last_id = rows[-1][0]
                if after_batch is not None:
                    after_batch(rows_this_run)
        files = 0
        for _name, reseal in sorted(crypto.BLOB_RESEALERS.items()):
            files += reseal(session, batch_size)
            session.commit()
        run.finished_at = clock.now()
        _audit(session, target, run.rows_done, actor, resumed, files)
        session.commit()
    finally:
        session.close()
    return RotationResult(target, rows_this_run, batches, time.perf_counter() - t0, resumed,
                          files)


def _audit(session: Session, kid: str, rows: int, actor: Any, resumed: bool,
           files: int) -> None:
    record_key_event(session, "keys.rotate", kid, actor,
                     {"key_id": kid, "rows": rows, "files": files, "resumed": resumed})


def record_key_event(session: Session, action: str, kid: str, actor: Any = None,
                     details: dict[str, Any] | None = None) -> None:
    """An audit event about key ``kid`` (ids and counts only, never key material)."""
    from engine import audit

    audit.record(session, action=action, brand_id=None, actor=actor, target_type="key",
                 target_id=kid, details=details or {"key_id": kid})


# --- the key file ------------------------------------------------------------------------------


def _writable_ring() -> Keyring:
    if os.environ.get("DARAPORT_KEYRING"):
        raise KeyringError("the keyring comes from DARAPORT_KEYRING: change it where that "
                           "variable is set (the key file commands edit a key file)")
    return crypto.keyring()


def generate_key() -> str:
    """Add a new random key to the key file (not primary). Returns its id."""
    ring = _writable_ring()
    kid = crypto.new_key_id(set(ring.keys))
    new = dataclasses.replace(ring, keys={**ring.keys, kid: crypto.AESGCM.generate_key(256)},
                              created={**ring.created, kid: crypto._utcnow()}, _aead={})
    crypto.write_key_file(crypto.key_file_path(), new)
    return kid


def make_primary(kid: str) -> None:
    ring = _writable_ring()
    if kid not in ring.keys:
        raise KeyringError(f"key {kid!r} is not in the keyring; it holds "
                           f"{', '.join(sorted(ring.keys))}")
    if ring.primary != kid:
        crypto.write_key_file(crypto.key_file_path(),
                              dataclasses.replace(ring, primary=kid, _aead={}))


def retire_key(session: Session, kid: str) -> None:
    """Remove ``kid`` from the key file; refused while it is primary or anything uses it."""
    ring = _writable_ring()
    if kid not in ring.keys:
        raise KeyringError(f"key {kid!r} is not in the keyring")
    if kid == ring.primary:
        raise KeyInUse(f"key {kid} is the primary key; rotate to another key first")
    using = rows_using(session, kid)
    if using:
        raise KeyInUse(f"key {kid} is still used by "
                       + ", ".join(f"{n} in {name}" for name, n in sorted(using.items()))
                       + "; run `keys rotate` first")
    keys = {k: v for k, v in ring.keys.items() if k != kid}
    created = {k: v for k, v in ring.created.items() if k != kid}
    crypto.write_key_file(crypto.key_file_path(),
                          dataclasses.replace(ring, keys=keys, created=created, _aead={}))
    record_key_event(session, "keys.retire", kid)
