"""Attachments: what a file is (by its content only), a safe name for it, and its encrypted
copy in the platform's data directory under a random name (never under a web root).

A file is accepted only when its bytes are one of the brand's allowed types: the name the sender
gave and the type their browser declared are never trusted. The stored name is random; the
sender's name is kept (made safe, with the extension of the detected type) for the download.
"""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filetype
from flask_babel import gettext as _
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, SessionTransaction

from engine.crypto import blob_key_id, open_bytes, register_blob_store, seal_bytes
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
    folder = storage_dir(data_dir, brand_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / storage_name
    tmp = folder / f".{storage_name}.tmp"
    sealed = seal_bytes(data, _context(seal))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(sealed)
    os.replace(tmp, path)
    session.info.setdefault(_PENDING, []).append(path)
    return blob_key_id(sealed)


def read(data_dir: Path, brand_id: str, storage_name: str, seal: str) -> bytes:
    """The decrypted content of a stored attachment (DecryptError if it was altered or moved)."""
    sealed = (storage_dir(data_dir, brand_id) / storage_name).read_bytes()
    return open_bytes(sealed, _context(seal))


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


# key retirement must see the keys attachment files are sealed with
register_blob_store("messaging_attachment", _blobs_by_key)
