"""What brand apps of one process share: settings, module registry, database, jobs, hasher."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine import crypto
from engine.db import make_engine, make_sessionmaker
from engine.modules import ModuleRegistry, registry
from engine.settings import PlatformSettings


@dataclass
class Runtime:
    settings: PlatformSettings
    registry: ModuleRegistry
    engine: Engine
    sessions: sessionmaker[Session]
    hasher: PasswordHasher
    # brand slug -> errors of its file on disk while the last good config keeps serving
    config_errors: dict[str, list[str]] = field(default_factory=dict)
    _db_status: tuple[float, str] = (float("-inf"), "unknown")

    def database_status(self, max_age: float = 1.0) -> str:
        """"ok" or "error: <kind>" from a ``SELECT 1``, at most ``max_age`` seconds old.

        Health probes arrive many times a second from load balancers; one real round trip per
        second per process tells them the same thing at a fraction of the cost.
        """
        checked_at, status = self._db_status
        now = time.monotonic()
        if now - checked_at < max_age:
            return status
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            status = "ok"
        except Exception as exc:  # reported, never raised: health must answer
            status = f"error: {type(exc).__name__}"
        self._db_status = (now, status)
        return status

    @classmethod
    def create(cls, settings: PlatformSettings | None = None, bind: Any = None) -> Runtime:
        """``bind`` (an Engine or Connection) overrides DATABASE_URL, e.g. for tests."""
        settings = settings or PlatformSettings.from_env()
        engine = bind if bind is not None else make_engine(settings.database_url)
        hasher = (PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
                  if settings.argon2_fast else PasswordHasher())
        reg = registry()
        reg.import_models()
        rt = cls(settings, reg, engine, make_sessionmaker(engine), hasher)
        crypto.configure(settings.data_dir)  # the development key file's directory
        set_current(rt)
        return rt


_current: Runtime | None = None


def set_current(rt: Runtime) -> None:
    global _current
    _current = rt


def current() -> Runtime:
    """The runtime of this process; a worker process builds one from the environment."""
    global _current
    if _current is None:
        _current = Runtime.create()
    return _current
