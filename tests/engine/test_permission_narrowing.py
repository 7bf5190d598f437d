"""A brand may narrow the default role permissions in YAML (never widen them)."""

from pathlib import Path

from engine.db import brand_session
from engine.identity.services import add_membership
from tests.conftest import BrandClient


def _deny_profile_editing(brands_dir: Path) -> None:
    path = brands_dir / "acme-clinic.yaml"
    text = path.read_text()
    path.write_text(text + "\npermissions:\n  deny:\n    specialist: [directory.profile.edit]\n")


def test_denied_permission_refuses_the_view_and_hides_its_link(
        brands_dir, platform_on, create_user, signin):
    _deny_profile_editing(brands_dir)
    narrowed = platform_on(brands_dir)
    specialist = create_user("specialist", brand="acme-clinic")
    client = BrandClient(narrowed, "acme.localhost")
    signin(client, specialist.email)

    assert client.get("/specialist/profile/").status_code == 403
    overview = client.get("/specialist/").get_data(as_text=True)
    assert "/specialist/profile/" not in overview


def test_without_the_deny_the_same_specialist_edits_the_profile(
        brands_dir, platform_on, create_user, signin):
    plain = platform_on(brands_dir)
    specialist = create_user("specialist", brand="acme-clinic")
    client = BrandClient(plain, "acme.localhost")
    signin(client, specialist.email)

    assert client.get("/specialist/profile/").status_code == 200
    assert "/specialist/profile/" in client.get("/specialist/").get_data(as_text=True)


def test_narrowing_one_brand_leaves_the_other_untouched(brands_dir, platform_on, create_user,
                                                       signin):
    _deny_profile_editing(brands_dir)
    narrowed = platform_on(brands_dir)
    specialist = create_user("specialist", brand="acme-clinic")
    session = brand_session(narrowed.runtime.sessions, None)
    add_membership(session, narrowed.brands["wellness-corp"].loaded.config, specialist)
    session.commit()
    client = BrandClient(narrowed, "wellness.localhost")
    signin(client, specialist.email)
    assert client.get("/specialist/profile/").status_code == 200


def test_unknown_permission_in_deny_is_a_config_error(brands_dir, platform_on):
    path = brands_dir / "acme-clinic.yaml"
    path.write_text(path.read_text()
                    + "\npermissions:\n  deny:\n    specialist: [directory.profile.edt]\n")
    broken = platform_on(brands_dir, allow_errors=True)
    errors = broken.errors[path]
    assert any("permissions.deny.specialist.0" in e and "did you mean 'directory.profile.edit'" in e
               for e in errors), errors
