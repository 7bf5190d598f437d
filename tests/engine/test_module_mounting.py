"""Only a brand's enabled modules are mounted; the CLI lists what is mounted."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.platform import Platform
from engine.settings import PlatformSettings
from tests.conftest import BrandClient


def test_disabled_module_routes_answer_404(client_for: Callable[[str], BrandClient]) -> None:
    assert client_for("acme-clinic").get("/match/").status_code == 404
    assert client_for("wellness-corp").get("/match/").status_code == 200


@pytest.mark.parametrize("slug", ["acme-clinic", "wellness-corp"])
def test_brand_app_mounts_exactly_its_enabled_modules(platform: Platform, slug: str) -> None:
    app = platform.app_for(slug)
    enabled = set(platform.brands[slug].loaded.config.enabled_modules())
    mounted_blueprints = set(app.blueprints)
    for module in platform.runtime.registry:
        names = {mount.blueprint.name for mount in module.mounts}
        if module.name in enabled:
            assert names <= mounted_blueprints, module.name
        else:
            assert not names & mounted_blueprints, module.name


def test_routes_command_lists_the_mounted_rules(settings: PlatformSettings,
                                                platform: Platform) -> None:
    env = {"DARAPORT_BRANDS_DIR": str(settings.brands_dir),
           "DARAPORT_THEMES_DIR": str(settings.themes_dir),
           "DATABASE_URL": settings.database_url, "SECRET_KEY": "test-secret",
           "DARAPORT_RELOAD": "0"}
    result = CliRunner().invoke(main, ["routes", "acme-clinic"], env=env)
    assert result.exit_code == 0, result.output
    listed = {line.split()[0] for line in result.output.splitlines() if line.startswith("/")}
    mounted = {rule.rule for rule in platform.app_for("acme-clinic").url_map.iter_rules()}
    assert listed == mounted
    assert "/specialists/" in listed and "/healthz" in listed
    assert not any(rule.startswith("/match") for rule in listed)
    assert "?" not in result.output.split()  # every rule declares its access


def test_routes_command_rejects_an_unknown_brand(settings: PlatformSettings) -> None:
    env = {"DARAPORT_BRANDS_DIR": str(settings.brands_dir), "DATABASE_URL": settings.database_url,
           "SECRET_KEY": "test-secret", "DARAPORT_RELOAD": "0"}
    result = CliRunner().invoke(main, ["routes", "acme-clinik"], env=env)
    assert result.exit_code != 0
    assert "acme-clinic" in result.output  # the suggestion
