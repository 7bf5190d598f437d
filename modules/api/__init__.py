"""API: a versioned JSON API (``/api/v1``) over the directory and booking, with per-user API
tokens and an OpenAPI 3.1 document at ``/api/v1/openapi.json``."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_babel import lazy_gettext as _l

from engine.modules import Module, ModuleSettings, Mount, NavEntry


class ApiSettings(ModuleSettings):
    """Only ``enabled``: the API answers what the brand's other modules allow."""


def _on_mount(app: Flask, ctx: object) -> None:
    from modules.api.blueprint import bp

    # The API runs its own CSRF check (session requests need it, token requests do not):
    # see modules.api.blueprint.authenticate. HTML forms keep the app-wide check.
    app.extensions["csrf"].exempt(bp)


def _module() -> Module:
    from modules.api.account import bp as tokens_bp
    from modules.api.blueprint import bp
    from modules.api.privacy import erase_data, export_data

    return Module(
        name="api",
        title="JSON API",
        requires=("booking", "directory"),
        settings=ApiSettings,
        mounts=(Mount(bp, "patient", "/api/v1"),
                Mount(tokens_bp, "patient", "/account/api-tokens")),
        permissions={
            "api.token.manage": frozenset({"patient", "specialist"}),
            "api.appointments.view": frozenset({"patient", "specialist"}),
        },
        nav=(NavEntry("patient", "api_tokens.index", _l("API tokens"), "api.token.manage", 95),
             NavEntry("specialist", "api_tokens.index", _l("API tokens"), "api.token.manage",
                      95)),
        template_folder=Path(__file__).parent / "templates",
        models="modules.api.models",
        on_mount=_on_mount,
        export_data=export_data,
        erase_data=erase_data,
    )


module = _module()

__all__ = ["ApiSettings", "module"]
