"""The audit log's HMAC keyring: several keys, each with an id, the newest signing new events.

Rotation never rewrites history (PostgreSQL refuses UPDATE on ``audit_event``): every event
stores the id of the key that signed it (``key_id``; NULL on rows written before keys had ids,
meaning :data:`LEGACY_KEY_ID`), and the first event of a chain after a rotation is signed with
the new key over the previous event's MAC, so the chain stays continuous and verification
checks each row with the key its id names.

Where the keys come from, first match wins:

1. ``DARAPORT_AUDIT_KEYS``: ``id:base64`` entries separated by commas or spaces, newest last.
   ``DARAPORT_AUDIT_KEY`` (the single key of earlier releases, used as is) may stand beside it:
   it is key ``1``, the oldest.
2. ``DARAPORT_AUDIT_KEY`` alone: key ``1``.
3. The key file ``<data_dir>/audit.key`` (0600): one ``id:base64`` line per key, newest last,
   ``#`` comments allowed. A file holding one bare line (the format of earlier releases, and of
   the file generated on first use) is key ``1``. ``cli.py audit keys rotate`` appends a key to
   it, rewriting it atomically in the line format (key ``1`` keeps its bytes).

Keys are at least 32 bytes (a bare key: 32 characters). The file is looked at (one ``stat``)
on every use and re-read when it changed, *after* the chain's head row is locked (see
:func:`engine.audit.record`): an event appended after a rotation's first event is therefore
never signed with the superseded key, which lets verification treat a superseded key signing
after a newer one as a forgery (a leaked old key is the usual reason to rotate). With keys in
the environment, give every process the new variables (restart them all): a process still on
the old ones that appends after one on the new signs with the superseded key, and verification
names that event (``key_order``).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit_models import AuditCheckpoint, AuditEvent
from engine.files import write_private

LEGACY_KEY_ID = "1"  # the key of rows without a key id, and of the single-key formats
KEY_ENV = "DARAPORT_AUDIT_KEY"
KEYS_ENV = "DARAPORT_AUDIT_KEYS"
FILE_NAME = "audit.key"
MIN_KEY_BYTES = 32
KEY_ID_MAX = 16  # audit_event.key_id is String(16)
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$")
_ENV_SPLIT = re.compile(r"[,\s]+")


class AuditKeyError(RuntimeError):
    """The audit keyring is missing, malformed, or cannot be changed as asked."""


@dataclass(frozen=True)
class AuditKeyring:
    """Keys by id, oldest first: the last one signs new events."""

    keys: dict[str, bytes]
    source: str  # the key file's path, or the environment variable(s)
    from_env: bool

    @property
    def current(self) -> str:
        return next(reversed(self.keys))

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current]

    def get(self, kid: str | None) -> bytes | None:
        return self.keys.get(kid or LEGACY_KEY_ID)

    def position(self, kid: str | None) -> int | None:
        """0 for the oldest key; None for an id the keyring does not hold."""
        try:
            return list(self.keys).index(kid or LEGACY_KEY_ID)
        except ValueError:
            return None


# --- parsing ------------------------------------------------------------------------------------


def _entry(text: str, where: str) -> tuple[str, bytes]:
    kid, sep, b64 = text.partition(":")
    if not sep:
        raise AuditKeyError(f"{where}: expected 'id:base64', got a value without ':'")
    if not _KEY_ID.match(kid):
        raise AuditKeyError(f"{where}: key id {kid[:20]!r} must be 1 to {KEY_ID_MAX} letters, "
                            f"digits, '.', '_' or '-'")
    try:
        key = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise AuditKeyError(f"{where}: key {kid} is not valid base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise AuditKeyError(f"{where}: key {kid} is {len(key)} bytes; audit keys are at least "
                            f"{MIN_KEY_BYTES}")
    return kid, key


def _add(keys: dict[str, bytes], kid: str, key: bytes, where: str) -> None:
    if kid in keys:
        raise AuditKeyError(f"{where}: key id {kid} is listed twice")
    keys[kid] = key


def _bare(value: str, where: str) -> bytes:
    if len(value) < 32:
        raise AuditKeyError(f"{where} must be at least 32 characters")
    return value.encode()


def parse_file(text: str, source: str) -> dict[str, bytes]:
    """Keys of a key file, oldest first (see the module docstring for the format)."""
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if not lines:
        raise AuditKeyError(f"the audit key file {source} is empty")
    if len(lines) == 1 and ":" not in lines[0][1]:
        return {LEGACY_KEY_ID: _bare(lines[0][1], f"the audit key in {source}")}
    keys: dict[str, bytes] = {}
    for n, line in lines:
        kid, key = _entry(line, f"{source} line {n}")
        _add(keys, kid, key, f"{source} line {n}")
    return keys


def parse_env(keys_value: str | None, key_value: str | None) -> dict[str, bytes]:
    """Keys of ``DARAPORT_AUDIT_KEY`` (key 1) and ``DARAPORT_AUDIT_KEYS``, oldest first."""
    keys: dict[str, bytes] = {}
    if key_value:
        keys[LEGACY_KEY_ID] = _bare(key_value, KEY_ENV)
    for item in _ENV_SPLIT.split((keys_value or "").strip()):
        if item:
            kid, key = _entry(item, KEYS_ENV)
            if kid in keys and key_value and kid == LEGACY_KEY_ID:
                raise AuditKeyError(f"key 1 is given twice: by {KEY_ENV} and in {KEYS_ENV}; "
                                    f"keep one")
            _add(keys, kid, key, KEYS_ENV)
    if not keys:
        raise AuditKeyError(f"{KEYS_ENV} is set but holds no key")
    return keys


def format_file(keys: dict[str, bytes]) -> str:
    body = "".join(f"{kid}:{base64.b64encode(key).decode()}\n" for kid, key in keys.items())
    return ("# Daraport audit log HMAC keys, one 'id:base64' per line, newest last (it signs new\n"
            "# events). Never delete a key that events still use: `cli.py audit keys status`.\n"
            + body)


# --- loading ------------------------------------------------------------------------------------

_lock = threading.Lock()
_cache: dict[str, tuple[object, AuditKeyring]] = {}
_override_path: Path | None = None


def use_key_file(path: Path | None) -> None:
    """Use the key file at ``path`` in this process (tests); None returns to the data dir."""
    global _override_path
    _override_path = None if path is None else Path(path)
    _cache.clear()


def key_file_path(data_dir: Path | None = None) -> Path:
    if _override_path is not None and data_dir is None:
        return _override_path
    if data_dir is None:
        from engine.runtime import current

        data_dir = current().settings.data_dir
    return Path(data_dir) / FILE_NAME


def keys_from_env() -> bool:
    return bool(os.environ.get(KEYS_ENV) or os.environ.get(KEY_ENV))


def _create_legacy_file(path: Path) -> None:
    """The first key, in the single-key format earlier releases read too: written whole under
    a temporary name, then linked into place, so a process starting at the same moment either
    wins the link or reads the winner's complete key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(os.urandom(32).hex())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def load(data_dir: Path | None = None) -> AuditKeyring:
    """The keyring of this process: environment, else the key file (created on first use)."""
    keys_value, key_value = os.environ.get(KEYS_ENV), os.environ.get(KEY_ENV)
    if keys_value or key_value:
        sig = ("env", keys_value, key_value)
        cached = _cache.get("env")
        if cached is not None and cached[0] == sig:
            return cached[1]
        names = " and ".join(n for n, v in ((KEY_ENV, key_value), (KEYS_ENV, keys_value)) if v)
        ring = AuditKeyring(parse_env(keys_value, key_value), names, True)
        _cache["env"] = (sig, ring)
        return ring
    path = key_file_path(data_dir)
    try:
        st = path.stat()
    except FileNotFoundError:
        _create_legacy_file(path)
        st = path.stat()
    sig = (st.st_ino, st.st_mtime_ns, st.st_size)
    cached = _cache.get(str(path))
    if cached is not None and cached[0] == sig:
        return cached[1]
    with _lock:
        ring = AuditKeyring(parse_file(path.read_text(), str(path)), str(path), False)
        _cache[str(path)] = (sig, ring)
    return ring


# --- changing the key file ------------------------------------------------------------------------


@contextmanager
def _file_locked(path: Path) -> Iterator[None]:
    """Serialize the commands that rewrite the key file (two rotations at once lose no key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write(path: Path, keys: dict[str, bytes]) -> None:
    """Replace the key file atomically, 0600 from the first byte, flushed to disk first."""
    write_private(path, format_file(keys))
    _cache.pop(str(path), None)


def next_key_id(keys: dict[str, bytes]) -> str:
    numbers = [int(k) for k in keys if k.isdigit()]
    kid = str(max(numbers, default=0) + 1)
    while kid in keys:  # not reachable with numeric ids; defensive for hand-made ones
        kid = str(int(kid) + 1)
    return kid


def env_rotation_hint(ring: AuditKeyring) -> str:
    """What an operator whose keys come from the environment sets to rotate (with a freshly
    generated key to use), since the command cannot change another process's environment."""
    kid = next_key_id(ring.keys)
    entry = f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"
    if os.environ.get(KEYS_ENV):
        todo = f"append ,{entry} to {KEYS_ENV} (comma-separated, newest last)"
    else:
        todo = f"set {KEYS_ENV}={entry}"
    keep = f"; keep {KEY_ENV} as it is (it is key 1)" if os.environ.get(KEY_ENV) else ""
    return (f"the audit keys come from the environment ({ring.source}): nothing was changed. "
            f"To rotate, {todo}{keep}, on every process, and restart them; this new key is "
            f"freshly generated. Never remove a key that events still use")


def rotate(data_dir: Path | None = None) -> tuple[str, str]:
    """Append a new random key to the key file; it signs every event from now on. Returns
    (previous key id, new key id). Refused when the keys come from the environment."""
    ring = load(data_dir)
    if ring.from_env:
        raise AuditKeyError(env_rotation_hint(ring))
    path = key_file_path(data_dir)
    with _file_locked(path):
        keys = parse_file(path.read_text(), str(path))  # the file as it is now, under lock
        previous, kid = next(reversed(keys)), next_key_id(keys)
        _write(path, {**keys, kid: os.urandom(32)})
    return previous, kid


def remove(kid: str, data_dir: Path | None = None) -> None:
    """Remove key ``kid`` from the key file (callers check first that nothing uses it)."""
    path = key_file_path(data_dir)
    with _file_locked(path):
        keys = parse_file(path.read_text(), str(path))
        if kid not in keys:
            raise AuditKeyError(f"key {kid} is not in the audit keyring ({path})")
        if kid == next(reversed(keys)):
            raise AuditKeyError(f"key {kid} is the current audit key; rotate first")
        _write(path, {k: v for k, v in keys.items() if k != kid})


# --- services: status, rotation and retirement with their audit events ------------------------


@dataclass(frozen=True)
class KeyUsage:
    """How many events and retention checkpoints each key id signed (NULL counted as key 1)."""

    events: dict[str, int]
    checkpoints: dict[str, int]

    def of(self, kid: str) -> tuple[int, int]:
        return self.events.get(kid, 0), self.checkpoints.get(kid, 0)


def usage(session: Session) -> KeyUsage:
    """Events and checkpoints per key id, over every chain (one grouped scan of each table)."""
    out: list[dict[str, int]] = []
    for column in (AuditEvent.key_id, AuditCheckpoint.key_id):
        counts: dict[str, int] = {}
        for kid, n in session.execute(select(column, func.count()).group_by(column)):
            counts[kid or LEGACY_KEY_ID] = counts.get(kid or LEGACY_KEY_ID, 0) + n
        out.append(counts)
    return KeyUsage(*out)


def rotate_key(session: Session, *, actor: Any = None,
               data_dir: Path | None = None) -> tuple[str, str]:
    """Rotate (see :func:`rotate`) and record ``audit.key_rotate`` on the platform chain, the
    first event the new key signs; the caller commits. Returns (previous id, new id)."""
    from engine import audit

    previous, kid = rotate(data_dir)
    audit.record(session, action="audit.key_rotate", brand_id=None, actor=actor,
                 target_type="audit_key", target_id=kid,
                 details={"key_id": kid, "previous_key_id": previous})
    return previous, kid


def retire_key(session: Session, kid: str, *, actor: Any = None,
               data_dir: Path | None = None) -> None:
    """Remove ``kid`` from the key file and record ``audit.key_retire``; the caller commits.

    Refused while it is the current key, while any event or checkpoint is signed with it
    (verification needs it), and when the keys come from the environment (then the message
    says the key may be removed from the variable)."""
    from engine import audit

    ring = load(data_dir)
    if kid not in ring.keys:
        raise AuditKeyError(f"key {kid!r} is not in the audit keyring ({ring.source}); it holds "
                            f"{', '.join(ring.keys)}")
    if kid == ring.current:
        raise AuditKeyError(f"key {kid} is the current audit key (it signs new events); run "
                            f"`audit keys rotate` first")
    events, checkpoints = usage(session).of(kid)
    if events or checkpoints:
        raise AuditKeyError(f"key {kid} still signs {events} event(s) and {checkpoints} "
                            f"retention checkpoint(s); verification needs it, so it stays "
                            f"until retention has purged them")
    if ring.from_env:
        where = (f"unset {KEY_ENV}" if kid == LEGACY_KEY_ID and os.environ.get(KEY_ENV)
                 else f"remove its entry from {KEYS_ENV}")
        raise AuditKeyError(f"key {kid} is unused, but the audit keys come from the environment "
                            f"({ring.source}): {where} and restart the processes")
    # recorded first: if the key file cannot be rewritten, the caller's rollback drops it
    audit.record(session, action="audit.key_retire", brand_id=None, actor=actor,
                 target_type="audit_key", target_id=kid, details={"key_id": kid})
    remove(kid, data_dir)
