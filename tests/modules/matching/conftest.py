"""Matching fixtures: specialists with directory profiles on chosen brands, and platforms built
from an edited copy of brands/ (a custom questionnaire, the module switched off)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from engine.db import brand_session
from engine.identity import services as identity
from engine.platform import Platform
from engine.runtime import Runtime, set_current
from engine.settings import PlatformSettings
from modules.directory import services as directory
from modules.directory.models import Profile
from modules.directory.schemas import ProfileInput

WELLNESS_MATCHING = "  matching:\n    shortlist_size: 3\n"


@pytest.fixture
def add_specialist(platform: Platform, db: Any, create_user: Callable[..., Any],
                   ) -> Callable[..., Profile]:
    """Factory: a specialist of the care-collective network with a directory profile.

    ``members_of``: brands the specialist works on (a membership each); ``hidden_on``: brands
    among those where the specialist unticked "list my profile".
    """

    def make(name: str, *, specialties: Sequence[str] = (), languages: Sequence[str] = (),
             modalities: Sequence[str] = (), members_of: Sequence[str] = ("wellness-corp",),
             hidden_on: Sequence[str] = ()) -> Profile:
        user = create_user(role="specialist", brand=members_of[0], name=name)
        for slug in members_of[1:]:
            identity.add_membership(db, platform.brands[slug].loaded.config, user)
        db.flush()
        profile: Profile | None = None
        for slug in members_of:
            # listings are per brand: save through a session of that brand, as the editor does
            session = brand_session(platform.runtime.sessions, slug)
            try:
                data = ProfileInput(display_name=name, specialties=tuple(specialties),
                                    languages=tuple(languages), modalities=tuple(modalities),
                                    visible=slug not in hidden_on)
                user_here = session.get(type(user), user.id)
                profile = directory.save_profile(session, user_here,
                                                 platform.brands[slug].loaded.config, data)
                session.commit()  # releases the savepoint; the test's transaction rolls back
            finally:
                session.close()
        assert profile is not None
        return profile

    return make


@pytest.fixture
def platform_from(settings: PlatformSettings, db_engine: Engine, platform: Platform, db: Any,
                  brands_dir: Path) -> Callable[[str, str], Platform]:
    """Factory: a platform serving a copy of brands/ where wellness-corp's ``matching:``
    section is replaced by ``section`` (YAML indented under ``modules:``) and ``mode`` is its
    journey. Requests join the test's rolled-back transaction."""

    def make(section: str, mode: str = "matching") -> Platform:
        path = brands_dir / "wellness-corp.yaml"
        text = path.read_text()
        assert WELLNESS_MATCHING in text and "  mode: matching" in text
        text = text.replace(WELLNESS_MATCHING, section).replace("  mode: matching",
                                                                f"  mode: {mode}")
        path.write_text(text)
        built = Platform(Runtime.create(replace(settings, brands_dir=brands_dir),
                                        bind=db_engine))
        assert not built.errors, built.errors
        built.runtime.sessions = platform.runtime.sessions
        set_current(platform.runtime)
        return built

    return make
