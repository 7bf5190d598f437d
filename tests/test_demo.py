"""`cli.py demo`: migrates, seeds both example brands idempotently, prints logins.

The command commits, so it runs against a database of its own beside the test database (a
sibling SQLite file, or a sibling PostgreSQL database when DATABASE_URL names one): demo rows in
the shared test database would show up in other tests' directory pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from werkzeug.test import Client

from engine.cli import main
from engine.db import make_engine
from engine.demo import DEMO_PASSWORD, DEMO_PEOPLE
from engine.identity.models import SpecialistMembership, User
from engine.platform import Platform
from engine.runtime import Runtime, set_current
from engine.settings import PlatformSettings
from modules.directory.models import Listing, Profile, Tag
from tests.conftest import BRAND_HOSTS

SHARED = [p for p in DEMO_PEOPLE if p.role == "specialist" and len(p.brands) == 2]


@pytest.fixture
def demo_db_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database beside the test database, dropped afterwards."""
    if not db_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'demo.db'}"
        return
    url = make_url(db_url)
    name = f"{url.database}_demo"
    admin = make_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def demo_env(demo_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             platform: Platform) -> Iterator[PlatformSettings]:
    """The environment `cli.py demo` reads; the test platform is current again afterwards."""
    monkeypatch.setenv("DATABASE_URL", demo_db_url)
    monkeypatch.setenv("DARAPORT_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("DARAPORT_ARGON2_FAST", "1")
    monkeypatch.setenv("DARAPORT_RELOAD", "0")
    yield PlatformSettings.from_env()
    set_current(platform.runtime)


@pytest.fixture
def demo_platform(demo_env: PlatformSettings) -> Iterator[Any]:
    """Factory: a platform serving the demo database (built after the command ran)."""
    built: list[Platform] = []

    def make() -> Platform:
        p = Platform(Runtime.create(replace(demo_env, reload=False)))
        built.append(p)
        return p

    yield make
    for p in built:
        p.runtime.engine.dispose()


def run_demo(*args: str) -> Result:
    result = CliRunner().invoke(main, ["demo", "--no-serve", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def counts(platform: Platform) -> dict[str, int]:
    with platform.runtime.sessions() as s:
        return {model.__name__: s.scalar(select(func.count()).select_from(model)) or 0
                for model in (User, SpecialistMembership, Profile, Tag, Listing)}


def directory_names(platform: Platform, brand: str) -> list[str]:
    client = Client(platform)
    resp = client.get("/specialists/", base_url=f"http://{BRAND_HOSTS[brand]}")
    assert resp.status_code == 200
    return re.findall(r'<h2><a href="/specialists/\d+">([^<]+)</a></h2>',
                      resp.get_data(as_text=True))


def test_demo_seeds_people_of_both_brands_and_prints_their_logins(demo_env, demo_platform):
    result = run_demo()
    assert "14 created" in result.output
    for url in ("http://acme.localhost:8000/", "http://wellness.localhost:8000/",
                "http://admin.localhost:8000/"):
        assert url in result.output
    for person in DEMO_PEOPLE:
        assert person.email in result.output
    assert DEMO_PASSWORD in result.output

    platform = demo_platform()
    with platform.runtime.sessions() as s:
        roles = dict(s.execute(select(User.role, func.count()).group_by(User.role)).all())
        assert roles == {"operator": 1, "specialist": 7, "patient": 5, "org_admin": 1}
        admin = s.scalar(select(User).where(User.role == "org_admin"))
        assert (admin.brand_id, admin.organization) == ("wellness-corp", "globex")
        assert s.scalar(select(func.count()).select_from(User).where(
            User.organization == "globex", User.role == "patient")) == 2
        specialists = s.scalars(select(User).where(User.role == "specialist")).all()
        assert {u.network for u in specialists} == {"care-collective"}
        profiles = {p.user_id: p for p in s.scalars(select(Profile))}
        assert set(profiles) == {u.id for u in specialists}
        for p in profiles.values():
            assert p.bio and p.values("specialty") and p.values("modality")
            assert set(p.values("language")) <= {"es", "en", "ca"}
        on_both = s.scalars(select(SpecialistMembership.user_id).group_by(
            SpecialistMembership.user_id).having(func.count() == 2)).all()
        assert len(on_both) >= 2


def test_shared_specialists_appear_on_both_brands_and_others_on_one(demo_env, demo_platform):
    run_demo()
    platform = demo_platform()
    acme, wellness = directory_names(platform, "acme-clinic"), \
        directory_names(platform, "wellness-corp")
    for person in SHARED:
        assert person.name in acme and person.name in wellness
    for person in DEMO_PEOPLE:
        if person.role == "specialist" and len(person.brands) == 1:
            listed, other = (acme, wellness) if person.brands == ("acme-clinic",) \
                else (wellness, acme)
            assert person.name in listed and person.name not in other


@pytest.mark.parametrize(("brand", "email"), [
    ("acme-clinic", "maria.lopez@example.com"),
    ("wellness-corp", "jordan.lee@globex.example"),
    ("wellness-corp", "lucia.moreno@care-collective.example"),
    ("acme-clinic", "lucia.moreno@care-collective.example"),
])
def test_demo_accounts_sign_in_with_the_demo_password(demo_env, demo_platform, brand, email):
    run_demo()
    client = Client(demo_platform())
    base = f"http://{BRAND_HOSTS[brand]}"
    page = client.get("/account/signin", base_url=base).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token
    resp = client.post("/account/signin", base_url=base, data={
        "email": email, "password": DEMO_PASSWORD, "csrf_token": token.group(1)})
    assert resp.status_code == 302


def test_second_run_creates_nothing_twice(demo_env, demo_platform):
    run_demo()
    before = counts(demo_platform())
    again = run_demo()
    assert "0 created, 14 already there" in again.output
    assert counts(demo_platform()) == before


def test_reset_restores_the_demo_content(demo_env, demo_platform):
    run_demo()
    platform = demo_platform()
    before = counts(platform)
    with platform.runtime.sessions() as s:
        lucia = s.scalar(select(User).where(User.email == SHARED[0].email))
        profile = s.scalar(select(Profile).where(Profile.user_id == lucia.id))
        profile.headline = "edited during the demo"
        s.commit()
    assert "0 created" in run_demo().output  # without --reset, edits are kept
    with platform.runtime.sessions() as s:
        assert s.scalar(select(Profile.headline).where(Profile.user_id == lucia.id)) == \
            "edited during the demo"
    assert "14 created" in run_demo("--reset").output
    with platform.runtime.sessions() as s:
        headlines = s.scalars(select(Profile.headline)).all()
    assert "edited during the demo" not in headlines
    assert counts(platform) == before
