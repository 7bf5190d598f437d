"""Directory fixtures: specialists with profiles on chosen brands, and a per-test tag that keeps
a test's specialists apart from any other rows in the shared test database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pytest

from engine.identity import services as identity
from engine.identity.models import User
from engine.platform import Platform
from modules.directory import services
from modules.directory.models import Profile
from modules.directory.schemas import ProfileInput


@pytest.fixture
def tag() -> str:
    """A specialty only this test's specialists have (filter on it to see only them)."""
    return f"tag{uuid.uuid4().hex[:10]}"


MakeSpecialist = Callable[..., tuple[User, Profile]]


@pytest.fixture
def make_specialist(platform: Platform, db: Any, create_user: Callable[..., User],
                    tag: str) -> MakeSpecialist:
    """Factory: a specialist of the care-collective network, member of ``brands``, with a
    profile tagged with the test's ``tag`` and hidden on ``hidden_on``."""

    def make(name: str, brands: Sequence[str] = ("acme-clinic",), *, headline: str = "",
             specialties: Sequence[str] = (), languages: Sequence[str] = ("es",),
             modalities: Sequence[str] = ("video",), hidden_on: Sequence[str] = (),
             created_at: datetime | None = None) -> tuple[User, Profile]:
        cfgs = {slug: platform.brands[slug].loaded.config for slug in brands}
        user = create_user(role="specialist", brand=brands[0], name=name)
        for slug in brands[1:]:
            identity.add_membership(db, cfgs[slug], user)
        data = ProfileInput(display_name=name, headline=headline,
                            specialties=(*specialties, tag), languages=tuple(languages),
                            modalities=tuple(modalities))
        profile = services.save_profile(db, user, cfgs[brands[0]], data)
        for slug in brands:
            services.set_visible(db, profile, slug, slug not in hidden_on)
        if created_at is not None:
            profile.created_at = created_at
        db.flush()
        return user, profile

    return make
