"""Platform settings, read from the environment when the platform is built (never at import)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _instance_dir() -> Path:
    return Path(os.environ.get("DARAPORT_INSTANCE_DIR", ROOT / "instance"))


def _secret_key(instance: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the instance dir."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class PlatformSettings:
    brands_dir: Path
    themes_dir: Path
    data_dir: Path
    database_url: str
    secret_key: str
    redis_url: str | None = None
    smtp_url: str | None = None
    sms_url: str | None = None
    admin_hosts: tuple[str, ...] = ("admin.localhost",)
    reload_interval: float = 0.5
    reload: bool = True
    argon2_fast: bool = False

    @classmethod
    def from_env(cls, **overrides: object) -> PlatformSettings:
        instance = _instance_dir()
        env = os.environ
        values: dict[str, object] = {
            "brands_dir": Path(env.get("DARAPORT_BRANDS_DIR", ROOT / "brands")),
            "themes_dir": Path(env.get("DARAPORT_THEMES_DIR", ROOT / "themes")),
            "data_dir": Path(env.get("DARAPORT_DATA_DIR", instance / "data")),
            "database_url": env.get("DATABASE_URL") or f"sqlite:///{instance / 'daraport.db'}",
            "secret_key": overrides["secret_key"] if "secret_key" in overrides
            else _secret_key(instance),
            "redis_url": env.get("REDIS_URL") or None,
            "smtp_url": env.get("SMTP_URL") or None,
            "sms_url": env.get("SMS_URL") or None,
            "admin_hosts": tuple(
                h.strip().lower()
                for h in env.get("DARAPORT_ADMIN_HOSTS", "admin.localhost").split(",")
                if h.strip()
            ),
            "reload": env.get("DARAPORT_RELOAD", "1") != "0",
            "argon2_fast": env.get("DARAPORT_ARGON2_FAST") == "1",
        }
        values.update(overrides)
        if str(values["database_url"]).startswith("sqlite:///"):
            Path(str(values["database_url"])[len("sqlite:///"):]).parent.mkdir(
                parents=True, exist_ok=True
            )
        return cls(**values)  # type: ignore[arg-type]
