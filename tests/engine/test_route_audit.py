"""Every view of every brand declares its access: a permission or an explicit public marker."""

from __future__ import annotations

import pytest
from flask import Flask

from engine.identity.permissions import access_of, all_permissions
from engine.platform import Platform

BRANDS = ["acme-clinic", "wellness-corp"]


def _rules(app: Flask) -> list[tuple[str, str]]:
    return sorted((rule.rule, rule.endpoint) for rule in app.url_map.iter_rules())


@pytest.mark.parametrize("slug", BRANDS)
def test_every_view_declares_a_permission_or_public(platform: Platform, slug: str) -> None:
    app = platform.app_for(slug)
    undeclared = [f"{rule} -> {endpoint}" for rule, endpoint in _rules(app)
                  if access_of(app.view_functions[endpoint]) is None]
    assert not undeclared, "views without requires()/public: " + ", ".join(undeclared)


@pytest.mark.parametrize("slug", BRANDS)
def test_every_declared_permission_is_known(platform: Platform, slug: str) -> None:
    app = platform.app_for(slug)
    known = all_permissions(platform.runtime.registry)
    unknown = []
    for rule, endpoint in _rules(app):
        access = access_of(app.view_functions[endpoint])
        assert access is not None and access[0] in ("public", "permission"), endpoint
        if access[0] == "permission" and access[1] not in known:
            unknown.append(f"{rule} -> {access[1]}")
    assert not unknown, "views requiring undeclared permissions: " + ", ".join(unknown)


@pytest.mark.parametrize("slug", BRANDS)
def test_brand_apps_register_no_undeclared_framework_routes(platform: Platform,
                                                             slug: str) -> None:
    # Flask's default static route would bypass the theme lookup and the audit marker.
    app = platform.app_for(slug)
    assert app.view_functions["static"].__module__ == "engine.app"
