"""Attachments: what a file is (by its content only), a safe name for it, and its encrypted
copy in the platform's data directory under a random name (never under a web root).

A file is accepted only when its bytes are one of the brand's allowed types: the name the sender
gave and the type their browser declared are never trusted. The stored name is random; the
sender's name is kept (made safe, with the extension of the detected type) for the download.

``keys rotate`` re-seals the files under the new primary key (:func:`reseal_files`, registered
with :func:`engine.crypto.register_blob_store`): each to a new name, so that the row, which names
the file and its key, always points at a complete file sealed under the key it records.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filetype
from flask_babel import gettext as _
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, SessionTransaction

from engine.crypto import (
    CryptoError,
    blob_key_id,
    keyring,
    open_bytes,
    register_blob_store,
    reseal_bytes,
    seal_bytes,
)
from engine.files import write_private
from engine.web import UserError

# kind -> (content type served, extension of the download name)
KINDS: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "pdf"),
    "png": ("image/png", "png"),
    "jpeg": ("image/jpeg", "jpg"),
    "webp": ("image/webp", "webp"),
    "gif": ("image/gif", "gif"),
    "txt": ("text/plain; charset=utf-8", "txt"),
}
# filetype's extension of a recognized file -> our kind
_GUESSED = {"pdf": "pdf", "png": "png", "jpg": "jpeg", "webp": "webp", "gif": "gif"}
_TEXT_CONTROLS = {"\t", "\n", "\r", "\f"}
MAX_NAME = 120
_ODD_CHARACTERS = re.compile(r'["<>:|?*;%\x00-\x1f]')
FOLDER = "messaging-attachments"
log = logging.getLogger(__name__)
_PENDING = "messaging_new_files"
_DOOMED = "messaging_doomed_files"


@dataclass(frozen=True)
class Upload:
    """A file as received: the sender's name for it and its bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedFile:
    """An accepted upload: its kind (by content), safe name and bytes."""

    kind: str
    filename: str
    data: bytes

    @property
    def content_type(self) -> str:
        return KINDS[self.kind][0]


def detect_kind(data: bytes) -> str | None:
    """The kind of ``data`` by its content (magic numbers; UTF-8 text without control
    characters counts as "txt"), or None when it is none of :data:`KINDS`."""
    guess = filetype.guess(data[:8192])
    if guess is not None:
        return _GUESSED.get(guess.extension)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(c) == "Cc" and c not in _TEXT_CONTROLS for c in text):
        return None
    return "txt"


def safe_filename(name: str, kind: str) -> str:
    """The sender's ``name`` for a file, refused when it tries to name a path (``/``, ``\\``,
    ``..``, control characters) and given the extension of its detected ``kind``."""
    name = unicodedata.normalize("NFC", name or "").strip()
    if ("/" in name or "\\" in name or ".." in name
            or any(unicodedata.category(c) in ("Cc", "Cf") for c in name)):
        raise UserError(_("The file name %(name)s is not allowed: use a plain name without "
                          "folders.", name=repr(name[:60])), code="unsafe_filename",
                        field="files")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    # characters that mean something in a header or to a desktop's file system
    stem = _ODD_CHARACTERS.sub("_", stem).strip(" ._")[:MAX_NAME] or "attachment"
    return f"{stem}.{KINDS[kind][1]}"


def check_upload(upload: Upload, *, allowed: tuple[str, ...], max_bytes: int) -> CheckedFile:
    """Accept ``upload`` or raise a :class:`UserError` saying what is wrong with it."""
    if len(upload.data) > max_bytes:
        raise UserError(_("%(name)s is too large: attachments may be at most %(size)s.",
                          name=upload.filename[:60], size=human_size(max_bytes)),
                        code="too_large", field="files")
    if not upload.data:
        raise UserError(_("%(name)s is empty.", name=upload.filename[:60]), code="empty_file",
                        field="files")
    kind = detect_kind(upload.data)
    if kind is None or kind not in allowed:
        names = ", ".join(KINDS[k][1].upper() for k in allowed)
        raise UserError(_("%(name)s is not a file type you can send. Allowed: %(types)s.",
                          name=upload.filename[:60], types=names),
                        code="type_not_allowed", field="files")
    return CheckedFile(kind, safe_filename(upload.filename, kind), upload.data)


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MB"
    return f"{size / 1024:.0f} KB"


def storage_dir(data_dir: Path, brand_id: str) -> Path:
    return data_dir / FOLDER / brand_id


def new_storage_name() -> str:
    return secrets.token_hex(16)


def _context(seal: str) -> str:
    return f"messaging_attachment:{seal}"


def write(session: Session, data_dir: Path, brand_id: str, storage_name: str, seal: str,
          data: bytes) -> str:
    """Write ``data`` sealed (bound to the attachment's ``seal``) as ``storage_name``; returns
    the key id used. If ``session`` rolls back, the file is removed: a refused or failed message
    leaves nothing behind."""
    sealed = seal_bytes(data, _context(seal))
    path = _write_durably(storage_dir(data_dir, brand_id), storage_name, sealed)
    session.info.setdefault(_PENDING, []).append(path)
    return blob_key_id(sealed)


def _write_durably(folder: Path, storage_name: str, sealed: bytes) -> Path:
    """Write ``sealed`` as ``folder/storage_name``, mode 0600 from the first byte, and make it
    (content and name) durable before returning: a row committed after this never names a file
    that a power cut could lose or leave half written."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / storage_name
    write_private(path, sealed)
    return path


def read(data_dir: Path, brand_id: str, storage_name: str, seal: str) -> bytes:
    """The decrypted content of a stored attachment (DecryptError if it was altered or moved)."""
    sealed = (storage_dir(data_dir, brand_id) / storage_name).read_bytes()
    return open_bytes(sealed, _context(seal))


def read_attachment(session: Session, data_dir: Path, row: Any) -> bytes:
    """The decrypted content of attachment ``row``. A row loaded just before ``keys rotate``
    moved its file to a new name is looked up again, once: a download racing a rotation still
    gets its file. FileNotFoundError when the file is gone for good."""
    try:
        return read(data_dir, row.brand_id, row.storage_name, row.seal)
    except FileNotFoundError:
        from modules.messaging.models import Attachment

        moved = session.scalar(select(Attachment.storage_name).where(Attachment.id == row.id)
                               .execution_options(all_brands=True))
        if moved is None or moved == row.storage_name:
            raise
        return read(data_dir, row.brand_id, moved, row.seal)


def remove_after_commit(session: Session, data_dir: Path, brand_id: str,
                        storage_name: str) -> None:
    """Delete a stored file once ``session`` commits (kept if it rolls back: its row stays)."""
    session.info.setdefault(_DOOMED, []).append(storage_dir(data_dir, brand_id) / storage_name)


@event.listens_for(Session, "after_soft_rollback")
def _drop_files_of_rollback(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:  # the session's own transaction, not a nested savepoint
        for path in session.info.pop(_PENDING, []):
            Path(path).unlink(missing_ok=True)
        session.info.pop(_DOOMED, None)


@event.listens_for(Session, "after_commit")
def _settle_files_of_commit(session: Session, *args: Any) -> None:
    session.info.pop(_PENDING, None)
    for path in session.info.pop(_DOOMED, []):
        Path(path).unlink(missing_ok=True)


def _blobs_by_key(session: Session) -> dict[str, int]:
    from modules.messaging.models import Attachment

    return {kid: n for kid, n in session.execute(
        select(Attachment.key_id, func.count(Attachment.id))
        .group_by(Attachment.key_id).execution_options(all_brands=True))}


def reseal_files(session: Session, batch_size: int) -> int:
    """Re-seal every attachment file not under the keyring's primary key; the number re-sealed.

    Per batch of ``batch_size`` rows: each file is opened, sealed again under the primary key
    and written durably (fsync) under a NEW random name, then each row is switched to its new
    name and key id (only if it still names the old file: a row deleted or re-sealed meanwhile
    is left alone) and the batch commits; the old files are deleted after the commit. So at any
    crash every row names a complete file sealed under the key it records: before the commit the
    old one, after it the new one. What a crash can leave is an unreferenced file (a new one
    before the commit, an old one after), never a row without its file. Rows already under the
    primary key are never selected, so a second run does nothing. Only one batch's rows (ids and
    names) and one file are held in memory at a time.
    """
    from engine.runtime import current
    from modules.messaging.models import Attachment

    ring = keyring()
    data_dir = current().settings.data_dir
    done, last_id = 0, 0
    while True:
        rows = session.execute(
            select(Attachment.id, Attachment.brand_id, Attachment.storage_name, Attachment.seal)
            .where(Attachment.key_id != ring.primary, Attachment.id > last_id)
            .order_by(Attachment.id).limit(batch_size)
            .execution_options(all_brands=True)).all()
        if not rows:
            return done
        last_id = rows[-1].id
        written: list[tuple[Any, str, Path]] = []
        try:
            # the files first, outside any write lock of the database (SQLite locks it whole)
            for row in rows:
                folder = storage_dir(data_dir, row.brand_id)
                try:
                    old = (folder / row.storage_name).read_bytes()
                except FileNotFoundError:
                    if _still_names(session, row.id, row.storage_name):
                        raise CryptoError(
                            f"messaging attachment {row.id} (brand {row.brand_id}): its file "
                            f"{folder / row.storage_name} is missing; restore it from a backup "
                            f"and run `keys rotate` again") from None
                    continue  # deleted meanwhile (erasure, retention)
                try:
                    fresh = reseal_bytes(old, _context(row.seal), ring)
                except CryptoError as exc:  # altered, or sealed with a key no longer held
                    raise CryptoError(f"messaging attachment {row.id} (brand {row.brand_id}): "
                                      f"{exc}") from None
                new_name = new_storage_name()
                written.append((row, new_name, folder / new_name))  # before: clean-up sees it
                _write_durably(folder, new_name, fresh)
            for row, new_name, path in written:
                switched = session.execute(
                    update(Attachment)
                    .where(Attachment.id == row.id, Attachment.storage_name == row.storage_name)
                    .values(storage_name=new_name, key_id=ring.primary)
                    .execution_options(all_brands=True, synchronize_session=False))
                if switched.rowcount == 1:  # type: ignore[attr-defined]
                    remove_after_commit(session, data_dir, row.brand_id, row.storage_name)
                    done += 1
                else:
                    path.unlink(missing_ok=True)  # no row names it
        except BaseException:
            # nothing was committed: the rows still name their old files, so the new ones go
            session.rollback()
            for _row, _name, path in written:
                path.unlink(missing_ok=True)
            raise
        # If the commit itself fails, its outcome is unknown: both files stay (one unreferenced)
        # rather than risk deleting the one a committed row names.
        session.commit()


def _still_names(session: Session, attachment_id: int, storage_name: str) -> bool:
    from modules.messaging.models import Attachment

    return session.scalar(select(Attachment.id).where(
        Attachment.id == attachment_id, Attachment.storage_name == storage_name)
        .execution_options(all_brands=True)) is not None


# key status and retirement must see the keys attachment files are sealed with, and key
# rotation moves them to the new primary key
register_blob_store("messaging_attachment", _blobs_by_key, reseal_files)


# --- files no row names ------------------------------------------------------------------------

# What this store writes: a storage name, or write_private's temporary beside it
_STORED = re.compile(r"[0-9a-f]{32}")
_TEMPORARY = re.compile(r"\.[0-9a-f]{32}\..+\.tmp")
# older than any transaction: a file this young may belong to a message still being sent, or to
# a re-seal whose row has not switched to it yet
ORPHAN_AGE = 24 * 3600


def sweep_orphans(session: Session, data_dir: Path, *, now: float | None = None) -> int:
    """Delete the attachment files no row names (and temporaries left behind) that are older
    than :data:`ORPHAN_AGE`: what a crash between writing a file and committing its row (a
    message, a re-seal) leaves. Files of other shapes are never touched. Returns how many went.
    """
    from modules.messaging.models import Attachment

    root = data_dir / FOLDER
    if not root.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - ORPHAN_AGE
    removed = 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        named = set(session.scalars(select(Attachment.storage_name).where(
            Attachment.brand_id == folder.name).execution_options(all_brands=True)))
        for path in folder.iterdir():
            name = path.name
            ours = _TEMPORARY.fullmatch(name) or (_STORED.fullmatch(name) and name not in named)
            if ours and path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
    if removed:
        log.info("removed %d attachment file(s) no message names", removed)
    return removed


def sweep_orphan_files() -> int:
    """Job (daily, ``messaging.orphan-files``): :func:`sweep_orphans` of this platform."""
    from engine.db import brand_session
    from engine.runtime import current

    runtime = current()
    with brand_session(runtime.sessions, None) as session:
        return sweep_orphans(session, runtime.settings.data_dir)
