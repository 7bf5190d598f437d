"""The keyring of field encryption: where it comes from, its file format, and its errors.

Part of :mod:`engine.crypto` (which re-exports everything here): read that docstring.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.files import write_private

KID_LEN = 8  # key ids are 8 lowercase hex characters (status groups on substr(value, 5, 8))


class CryptoError(Exception):
    """Base of every encryption error (a keyring problem, plaintext given to an encrypted
    column)."""


class KeyringError(CryptoError):
    """The keyring is missing, unreadable or lacks a key that is needed."""


class DecryptError(CryptoError):
    """A value or blob failed authentication: altered, copied from elsewhere, or wrong key."""


# --- keyring ---------------------------------------------------------------------------------


def new_key_id(existing: set[str] | frozenset[str] = frozenset()) -> str:
    while (kid := secrets.token_hex(KID_LEN // 2)) in existing:
        pass
    return kid


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Keyring:
    primary: str
    keys: dict[str, bytes]
    index_key: bytes
    created: dict[str, str] = field(default_factory=dict)
    source: str = "memory"
    _aead: dict[str, AESGCM] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def generate(cls, source: str = "memory") -> Keyring:
        kid = new_key_id()
        return cls(primary=kid, keys={kid: AESGCM.generate_key(256)},
                   index_key=secrets.token_bytes(32), created={kid: _utcnow()}, source=source)

    @classmethod
    def from_json(cls, text: str, source: str) -> Keyring:
        try:
            data = json.loads(text)
            keys = {str(kid): base64.b64decode(v["key"], validate=True)
                    for kid, v in data["keys"].items()}
            ring = cls(primary=str(data["primary"]), keys=keys,
                       index_key=base64.b64decode(data["index_key"], validate=True),
                       created={str(k): str(v.get("created", "")) for k, v in
                                data["keys"].items()}, source=source)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise KeyringError(f"keyring {source} is not valid keyring JSON "
                               f"({type(exc).__name__}: {exc})") from None
        bad = [k for k, v in ring.keys.items()
               if len(v) != 32 or len(k) != KID_LEN or not _is_hex(k)]
        if bad or len(ring.index_key) != 32:
            raise KeyringError(f"keyring {source}: keys must be 32 bytes with 8-hex-digit ids "
                               f"(bad: {', '.join(bad) or 'index_key'})")
        if ring.primary not in ring.keys:
            raise KeyringError(f"keyring {source}: primary key {ring.primary!r} is not listed")
        return ring

    def to_json(self) -> str:
        return json.dumps({
            "version": 1, "primary": self.primary,
            "keys": {k: {"key": _b64(v), "created": self.created.get(k, "")}
                     for k, v in self.keys.items()},
            "index_key": _b64(self.index_key),
        }, indent=2) + "\n"

    def aead(self, kid: str) -> AESGCM:
        if (a := self._aead.get(kid)) is None:
            key = self.keys.get(kid)
            if key is None:
                raise KeyringError(f"key {kid!r} is not in the keyring ({self.source}); "
                                   f"it holds {', '.join(sorted(self.keys))}")
            a = self._aead[kid] = AESGCM(key)
        return a


def _is_hex(s: str) -> bool:
    return all(c in "0123456789abcdef" for c in s)


def _utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_lock = threading.Lock()
_override: Keyring | None = None
_cached: tuple[str, float, Keyring] | None = None  # (path, mtime, ring)
_checked_at = 0.0
_checked_source: tuple[str | None, Path | None] = (None, None)
_data_dir: Path | None = None


def configure(data_dir: Path) -> None:
    """Where the development key file lives (the runtime calls this with settings.data_dir)."""
    global _data_dir, _cached
    _data_dir = Path(data_dir)
    _cached = None


def use_keyring(ring: Keyring | None) -> None:
    """Use ``ring`` for this process (tests, benchmarks); None returns to the environment."""
    global _override, _cached
    _override, _cached = ring, None


def key_file_path() -> Path:
    if path := os.environ.get("DARAPORT_KEY_FILE"):
        return Path(path)
    global _data_dir
    if _data_dir is None:
        from engine.settings import PlatformSettings
        _data_dir = PlatformSettings.from_env(secret_key="").data_dir
    return _data_dir / "keyring.json"


def write_key_file(path: Path, ring: Keyring) -> None:
    """Atomically replace the key file, 0600 from the first byte, flushed to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, ring.to_json())
    global _cached
    _cached = None


def keyring() -> Keyring:
    """The keyring of this process (see the module docstring for where it comes from)."""
    global _cached, _checked_at, _checked_source
    if _override is not None:
        return _override
    if env := os.environ.get("DARAPORT_KEYRING"):
        if _cached is None or _cached[0] != "env:" + env:
            _cached = ("env:" + env, 0.0, Keyring.from_json(env, "DARAPORT_KEYRING"))
        return _cached[2]
    now = time.monotonic()
    source = (os.environ.get("DARAPORT_KEY_FILE"), _data_dir)
    if (_cached is not None and _checked_source == source and now - _checked_at < 1.0
            and not _cached[0].startswith("env:")):
        return _cached[2]  # the key file is looked at (stat) at most once a second
    with _lock:
        path = key_file_path()
        _checked_at, _checked_source = now, (os.environ.get("DARAPORT_KEY_FILE"), _data_dir)
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            if os.environ.get("DARAPORT_KEY_FILE") or \
                    os.environ.get("DARAPORT_REQUIRE_KEYRING") == "1":
                raise KeyringError(f"no keyring: key file {path} does not exist (set "
                                   f"DARAPORT_KEYRING or DARAPORT_KEY_FILE)") from None
            write_key_file(path, Keyring.generate(str(path)))
            mtime = path.stat().st_mtime
        if _cached is not None and _cached[0] == str(path) and _cached[1] == mtime:
            return _cached[2]
        if path.stat().st_mode & 0o077:
            raise KeyringError(f"key file {path} is readable by others; chmod 600 it")
        ring = Keyring.from_json(path.read_text(), str(path))
        _cached = (str(path), mtime, ring)
        return ring
