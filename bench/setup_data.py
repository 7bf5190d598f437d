"""Benchmark data: brand files in a temp dir and a seeded database (through the services)."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import ROOT

ACME = "acme-clinic"
TOGGLE_SLUG = "bench-toggle"
TOGGLE_HOST = "toggle.localhost"
SPECIALISTS = 50
PAGE_SIZE = 50  # modules.directory.page_size on the temp acme copy: all 50 on one page
MEMORY_BRANDS = 50
SPECIALTIES = ("ansiedad", "depresión", "pareja", "duelo", "trauma", "adicciones", "infancia",
               "adolescencia", "estrés laboral", "trastornos alimentarios", "sueño", "autoestima")
LANGUAGE_SETS = (("es",), ("es", "en"), ("es", "ca"), ("en",), ("es", "fr"))
MODALITY_SETS = (("video",), ("in_person",), ("video", "in_person"))


# --- brands and data --------------------------------------------------------------------------


def _yaml() -> Any:
    from engine.config.loader import yaml_rt

    return yaml_rt()


def write_brand_copy(source: Path, target: Path, slug: str, host: str,
                     edit: Callable[[Any], None] | None = None) -> None:
    """A copy of an example brand under a new slug and host (no aliases)."""
    yaml = _yaml()
    doc = yaml.load(source.read_text(encoding="utf-8"))
    doc["slug"] = slug
    doc["name"] = f"{doc['name']} {slug}"
    doc["domains"] = [host]
    doc.pop("aliases", None)
    if edit is not None:
        edit(doc)
    with target.open("w", encoding="utf-8") as fh:
        yaml.dump(doc, fh)


def set_page_size(path: Path, page_size: int) -> None:
    yaml = _yaml()
    doc = yaml.load(path.read_text(encoding="utf-8"))
    doc["modules"]["directory"]["page_size"] = page_size
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(doc, fh)


def prepare_brands(brands: Path) -> None:
    """The two examples (acme with page_size 50) plus the toggle brand (acme + matching)."""
    from engine.config.editor import set_module_enabled
    from engine.modules import registry

    shutil.copytree(ROOT / "brands", brands)
    set_page_size(brands / f"{ACME}.yaml", PAGE_SIZE)
    toggle = brands / f"{TOGGLE_SLUG}.yaml"
    write_brand_copy(brands / f"{ACME}.yaml", toggle, TOGGLE_SLUG, TOGGLE_HOST)
    set_module_enabled(toggle, "matching", True, registry(), ROOT / "themes")
    check_brands(brands, 3)


def prepare_memory_brands(brands: Path) -> None:
    """The two examples plus 48 copies with distinct slugs and hosts."""
    shutil.copytree(ROOT / "brands", brands)
    examples = [brands / f"{ACME}.yaml", brands / "wellness-corp.yaml"]
    for i in range(MEMORY_BRANDS - len(examples)):
        slug = f"bench-brand-{i:02d}"
        write_brand_copy(examples[i % 2], brands / f"{slug}.yaml", slug, f"{slug}.localhost")
    check_brands(brands, MEMORY_BRANDS)


def check_brands(brands: Path, expected: int) -> None:
    from engine.config import load_brand_set
    from engine.modules import registry

    result = load_brand_set(brands, registry(), ROOT / "themes")
    errors = result.all_errors()
    if errors or len(result.brands) != expected:
        raise SystemExit("generated brands are invalid:\n" + "\n".join(map(str, errors)))


def seed(database_url: str, brands: Path) -> int:
    """Migrate a fresh database and list SPECIALISTS specialists with profiles on acme."""
    from sqlalchemy import func, select

    from engine.db import brand_session
    from engine.identity import services as identity
    from engine.migrate import upgrade
    from engine.platform import create_platform
    from engine.runtime import Runtime
    from engine.settings import PlatformSettings
    from modules.directory import services as directory
    from modules.directory.models import Profile
    from modules.directory.schemas import ProfileInput

    upgrade(database_url)
    rt = Runtime.create(PlatformSettings.from_env(reload=False, argon2_fast=True))
    platform = create_platform(rt)
    cfg = platform.brands[ACME].loaded.config
    session = brand_session(rt.sessions, ACME)
    try:
        for i in range(SPECIALISTS):
            name = f"Especialista {i:02d} Bench"
            user = identity.create_user(session, cfg, role="specialist",
                                        email=f"specialist{i:02d}@bench.example", name=name,
                                        password=secrets.token_urlsafe(12))
            directory.save_profile(session, user, cfg, ProfileInput(
                display_name=name, headline="Psicología clínica y psicoterapia",
                bio="Acompaño a adultos y adolescentes.\n\nConsulta en Madrid y por vídeo.",
                specialties=(SPECIALTIES[i % len(SPECIALTIES)],
                             SPECIALTIES[(i * 5 + 3) % len(SPECIALTIES)]),
                languages=LANGUAGE_SETS[i % len(LANGUAGE_SETS)],
                modalities=MODALITY_SETS[i % len(MODALITY_SETS)]))
        session.commit()
        return int(session.scalar(select(func.count()).select_from(Profile)) or 0)
    finally:
        session.close()
        rt.engine.dispose()
