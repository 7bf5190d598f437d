"""Field encryption of health data at rest: AES-GCM with a keyring, bound to table, column, row.

Declaring an encrypted field (a model)
--------------------------------------
A model with encrypted fields mixes in :class:`Sealed` (a per-row random ``seal`` column, set
when the object is constructed, so the row binding works before the INSERT gives it an id) and
declares each field as two lines: the stored column, whose type names ``"table.column"``
(this registers the column for ``cli.py keys rotate/status/retire``), and the plaintext
attribute callers use::

    from engine.crypto import EncryptedText, Sealed, encrypted

    class Message(Sealed, BrandScoped, Base):
        __tablename__ = "messaging_message"
        id: Mapped[int] = mapped_column(primary_key=True)
        body_sealed: Mapped[str] = mapped_column("body", EncryptedText("messaging_message.body"))
        body = encrypted("body_sealed")          # str in, str out

``EncryptedText`` holds a ``str``, ``EncryptedJSON`` any JSON value, ``EncryptedBytes`` ``bytes``
(small binary values; files go through :func:`seal_bytes`). Nullable: add ``nullable=True`` to
``mapped_column`` and assign ``None``. The database column is TEXT in every case (a migration
declares ``sa.Column("body", sa.Text())`` plus ``sa.Column("seal", sa.String(32),
nullable=False)``); the stored value is ``dp1:<key id>:<base64url(nonce | ciphertext | tag)>``.
The associated data is ``dp1|<key id>|<table>.<column>|<seal>``: the seal stands for the row
(a token moved together with its seal is the same row, moved). Rotation needs the table's
integer primary key to be ``id``. Converting an existing plaintext column: a migration that
encrypts its rows with :class:`EncryptedColumn` (``engine/migrations/versions/0016_crypto.py``).

Reading and writing (services)
------------------------------
Services use the plaintext attribute like any other: ``Message(body="...")``, ``msg.body =
"..."``, ``msg.body``. A write encrypts at once under the primary key; a read decrypts (once per
value, cached on the object). JSON values: assign a new value, do not mutate the one returned.
Encrypted fields cannot be filtered in SQL; for lookups store a blind index beside them::

    email_index: Mapped[str] = mapped_column(String(64), index=True)
    row.email_index = blind_index(email.strip().lower(), "identity.email")
    select(User).where(User.email_index == blind_index(wanted, "identity.email"))

The column type refuses plaintext: binding anything but a ``dp1:`` token raises
:class:`CryptoError`, so a bypass (``row.body_sealed = "hi"``) fails loudly instead of storing
health data in clear. Copying a token into another row, column or table, flipping a byte, or
using a keyring without its key raises :class:`DecryptError`; never garbage.

Files (e.g. message attachments on disk)
----------------------------------------
::

    blob = seal_bytes(data, f"messaging_attachment:{attachment.seal}")
    path.write_bytes(blob)
    data = open_bytes(path.read_bytes(), f"messaging_attachment:{attachment.seal}")

The context is the associated data: use the owning row's table and seal, so a file moved to
another attachment's path fails to open. Blobs carry their key id (``DPF1`` header); the key
retire check cannot see files, so an owner of blobs registers a counter with
:func:`register_blob_store` (key id -> number of blobs) to keep keys they use from retirement,
and a ``reseal`` callable (see :func:`reseal_bytes`) so ``keys rotate`` moves them too.

Keyring
-------
Loaded (and cached; a key file is re-read when it changes) from, in order:
``DARAPORT_KEYRING`` (the JSON itself), ``DARAPORT_KEY_FILE`` (a path), else
``<settings.data_dir>/keyring.json``, created with mode 0600 on first use (development and
tests) unless ``DARAPORT_REQUIRE_KEYRING=1`` (production: a missing keyring is an error, never
a fresh key that cannot read the existing data). Never in brand YAML or the database. Format::

    {"version": 1, "primary": "3f9a0c1d",
     "keys": {"3f9a0c1d": {"key": "<base64 of 32 bytes>", "created": "2026-11-25T23:00:00Z"}},
     "index_key": "<base64 of 32 bytes>"}

New writes use ``primary``; every key still listed decrypts. ``index_key`` feeds the blind
indexes (HKDF per purpose) and never rotates with the data keys (indexes would break).
The keyring code lives in :mod:`engine.crypto_keyring` (re-exported here). Rotation, status
and retirement: :mod:`engine.crypto_keys` and ``python cli.py keys``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from engine.crypto_keyring import (  # noqa: F401 (the keyring API is part of this one)
    KID_LEN,
    CryptoError,
    DecryptError,
    Keyring,
    KeyringError,
    _utcnow,
    configure,
    key_file_path,
    keyring,
    new_key_id,
    use_keyring,
    write_key_file,
)

FORMAT = "dp1"
FILE_MAGIC = b"DPF1"
NONCE_LEN = 12
__all__ = ["AESGCM", "CryptoError", "DecryptError", "EncryptedBytes", "EncryptedColumn",
           "EncryptedJSON", "EncryptedText", "Keyring", "KeyringError", "Sealed", "blind_index",
           "configure", "decrypt_value", "encrypt_value", "encrypted", "key_file_path",
           "keyring", "new_key_id", "new_seal", "open_bytes", "register_blob_store",
           "reseal_bytes", "seal_bytes", "use_keyring", "write_key_file"]


# --- values ----------------------------------------------------------------------------------


def _aad(context: str, kid: str) -> bytes:
    return f"{FORMAT}|{kid}|{context}".encode()


def encrypt_value(plaintext: bytes, context: str, ring: Keyring | None = None) -> str:
    """A ``dp1:<kid>:<b64>`` token of ``plaintext`` under the primary key, bound to
    ``context`` (``"table.column|seal"`` for fields)."""
    ring = ring or keyring()
    nonce = secrets.token_bytes(NONCE_LEN)
    ct = ring.aead(ring.primary).encrypt(nonce, plaintext, _aad(context, ring.primary))
    return f"{FORMAT}:{ring.primary}:{base64.urlsafe_b64encode(nonce + ct).decode()}"


def token_key_id(token: str) -> str:
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != FORMAT or len(parts[1]) != KID_LEN:
        raise DecryptError("not an encrypted value (expected dp1:<key id>:<data>)")
    return parts[1]


def decrypt_value(token: str, context: str, ring: Keyring | None = None) -> bytes:
    kid = token_key_id(token)
    ring = ring or keyring()
    try:
        raw = base64.urlsafe_b64decode(token.split(":", 2)[2].encode())
    except (ValueError, binascii.Error):
        raise DecryptError(f"encrypted value for {context.split('|')[0]} is corrupt") from None
    try:
        return ring.aead(kid).decrypt(raw[:NONCE_LEN], raw[NONCE_LEN:], _aad(context, kid))
    except (InvalidTag, ValueError):
        raise DecryptError(f"encrypted value for {context.split('|')[0]} failed authentication "
                           f"(altered, copied from another row, or wrong key {kid})") from None


def seal_bytes(data: bytes, context: str, ring: Keyring | None = None) -> bytes:
    """File contents sealed under the primary key: ``DPF1 | kid | nonce | ciphertext+tag``."""
    ring = ring or keyring()
    nonce = secrets.token_bytes(NONCE_LEN)
    ct = ring.aead(ring.primary).encrypt(nonce, data, _aad(context, ring.primary))
    return FILE_MAGIC + ring.primary.encode() + nonce + ct


def blob_key_id(blob: bytes) -> str:
    if blob[:4] != FILE_MAGIC or len(blob) < 4 + KID_LEN + NONCE_LEN + 16:
        raise DecryptError("not a sealed file (no DPF1 header)")
    return blob[4:4 + KID_LEN].decode("ascii", "replace")


def open_bytes(blob: bytes, context: str, ring: Keyring | None = None) -> bytes:
    """The contents :func:`seal_bytes` sealed with the same ``context``; DecryptError else."""
    kid = blob_key_id(blob)
    ring = ring or keyring()
    body = blob[4 + KID_LEN:]
    try:
        return ring.aead(kid).decrypt(body[:NONCE_LEN], body[NONCE_LEN:], _aad(context, kid))
    except (InvalidTag, ValueError):
        raise DecryptError(f"sealed file ({context.split(':')[0]}) failed authentication "
                           f"(altered, moved from elsewhere, or wrong key {kid})") from None


def blind_index(value: str, purpose: str) -> str:
    """A keyed hash (HMAC-SHA256, hex) of ``value`` for equality lookups of an encrypted
    field; a separate key per ``purpose`` derived from the keyring's index key."""
    ring = keyring()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=f"daraport blind index|{purpose}".encode()).derive(ring.index_key)
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


# --- columns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str
    kind: str  # "text" | "json" | "bytes"
    seal_column: str = "seal"
    id_column: str = "id"

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"

    def context(self, seal: str) -> str:
        return f"{self.table}.{self.column}|{seal}"

    def encode(self, value: Any) -> bytes:
        if self.kind == "text":
            if not isinstance(value, str):
                raise TypeError(f"{self.name} holds text, not {type(value).__name__}")
            return value.encode()
        if self.kind == "bytes":
            if not isinstance(value, bytes | bytearray):
                raise TypeError(f"{self.name} holds bytes, not {type(value).__name__}")
            return bytes(value)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    def decode(self, raw: bytes) -> Any:
        if self.kind == "text":
            return raw.decode()
        if self.kind == "bytes":
            return raw
        return json.loads(raw)

    def seal(self, value: Any, seal: str, ring: Keyring | None = None) -> str:
        return encrypt_value(self.encode(value), self.context(seal), ring)

    def open(self, token: str, seal: str, ring: Keyring | None = None) -> Any:
        return self.decode(decrypt_value(token, self.context(seal), ring))


# every encrypted column of every imported model, by "table.column" (rotation walks these)
REGISTRY: dict[str, EncryptedColumn] = {}


class _EncryptedType(TypeDecorator[str]):
    """TEXT holding a ``dp1:`` token; refuses anything else on the way in."""

    impl = Text
    cache_ok = True
    kind = "text"

    def __init__(self, name: str, seal_column: str = "seal") -> None:
        super().__init__()
        self.name, self.seal_column = name, seal_column  # (the type's cache key)
        table, _, column = name.partition(".")
        if not table or not column:
            raise ValueError(f"encrypted column name {name!r} must be 'table.column'")
        self.spec = EncryptedColumn(table, column, self.kind, seal_column)
        known = REGISTRY.setdefault(self.spec.name, self.spec)
        if known != self.spec:
            raise ValueError(f"{name} declared twice with different kinds")

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.startswith(FORMAT + ":"):
            raise CryptoError(f"{self.spec.name} accepts only encrypted values; assign the "
                              f"plaintext attribute (see engine.crypto), never the column")
        return value


class EncryptedText(_EncryptedType):
    kind = "text"
    cache_ok = True


class EncryptedJSON(_EncryptedType):
    kind = "json"
    cache_ok = True


class EncryptedBytes(_EncryptedType):
    kind = "bytes"
    cache_ok = True


def new_seal() -> str:
    return secrets.token_hex(16)


class Sealed:
    """Mixin: ``seal``, a random per-row value in the associated data of every encrypted field
    of the row (known at construction, unlike the id). Never changes."""

    seal: Mapped[str] = mapped_column(String(32), default=new_seal)


class encrypted:  # noqa: N801 (used like a property)
    """The plaintext attribute over an encrypted column attribute of a :class:`Sealed` model."""

    def __init__(self, column_attr: str) -> None:
        self.column_attr = column_attr
        self._specs: dict[type, EncryptedColumn] = {}

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _spec(self, owner: type) -> EncryptedColumn:
        spec = self._specs.get(owner)
        if spec is None:
            col = getattr(owner, self.column_attr).property.columns[0]
            spec = getattr(col.type, "spec", None)
            if spec is None:
                raise TypeError(f"{owner.__name__}.{self.column_attr} is not an encrypted "
                                f"column")
            self._specs[owner] = spec
        return spec

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        token = getattr(obj, self.column_attr)
        if token is None:
            return None
        cache = obj.__dict__.setdefault("_crypto_plain", {})
        hit = cache.get(self.name)
        if hit is not None and hit[0] == token:
            return hit[1]
        value = self._spec(owner).open(token, obj.seal)
        cache[self.name] = (token, value)
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        if obj.seal is None:
            obj.seal = new_seal()
        if value is None:
            setattr(obj, self.column_attr, None)
            return
        token = self._spec(type(obj)).seal(value, obj.seal)
        setattr(obj, self.column_attr, token)
        obj.__dict__.setdefault("_crypto_plain", {})[self.name] = (token, value)


# --- blob stores -----------------------------------------------------------------------------

# name -> callable(session) returning {key id: number of blobs} (see register_blob_store)
BLOB_STORES: dict[str, Any] = {}
# name -> callable(session, batch_size) re-sealing that store's blobs under the primary key
BLOB_RESEALERS: dict[str, Any] = {}


def register_blob_store(name: str, count_by_key: Any, reseal: Any = None) -> None:
    """Declare files sealed with :func:`seal_bytes`: ``count_by_key(session) -> {kid: n}``
    lets ``keys status`` show them and ``keys retire`` refuse a key they still use.

    ``reseal(session, batch_size) -> int`` (optional) lets ``keys rotate`` move them to the
    primary key too: it rewrites every blob not under ``keyring().primary``, committing
    ``session`` per batch, and returns the number of blobs rewritten. Write each blob to a NEW
    file (temp name, fsync, ``os.replace``), switch the row that names it in the batch's
    transaction and delete the old file only after the commit: then a crash at any point leaves
    every row naming a complete file under the key it records (rewriting a file in place is safe
    only where no row records its key). ``modules.messaging.attachments.reseal_files`` is the
    example. Without it, files keep their key and that key cannot be retired.
    """
    BLOB_STORES[name] = count_by_key
    if reseal is not None:
        BLOB_RESEALERS[name] = reseal


def reseal_bytes(blob: bytes, context: str, ring: Keyring | None = None) -> bytes:
    """``blob`` opened (with whatever key sealed it) and sealed again under the primary key;
    the same blob when it already is under the primary."""
    ring = ring or keyring()
    if blob_key_id(blob) == ring.primary:
        return blob
    return seal_bytes(open_bytes(blob, context, ring), context, ring)
