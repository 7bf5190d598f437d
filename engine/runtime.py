"""What brand apps of one process share: settings, module registry, database, jobs, hasher."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

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
