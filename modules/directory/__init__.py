"""Directory: specialist profiles and the public, searchable list of a brand's specialists."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from flask import Flask
from flask_babel import lazy_gettext as _l
from pydantic import Field

from engine.modules import Module, ModuleSettings, Mount, NavEntry


class DirectorySettings(ModuleSettings):
    page_size: int = Field(12, ge=1, le=1000, description="specialists per page")
    default_sort: Literal["name", "newest"] = "name"
    show_photos: bool = True
    photo_max_kb: int = Field(2048, ge=16, le=10240)


def _on_mount(app: Flask, ctx: object) -> None:
    from modules.directory.blueprint import language_name, modality_name

    app.jinja_env.filters["language_name"] = language_name
    app.jinja_env.filters["modality_name"] = modality_name


def _module() -> Module:
    # versioning listens on every session from import on: the data version changes with any
    # write, whoever makes it (see that module)
    from modules.directory import versioning  # noqa: F401
    from modules.directory.blueprint import bp, specialist_bp
    from modules.directory.demo import demo

    return Module(
        name="directory",
        title="Specialist directory",
        settings=DirectorySettings,
        mounts=(Mount(bp, "patient", "/specialists"),
                Mount(specialist_bp, "specialist", "/profile")),
        permissions={"directory.profile.edit": frozenset({"specialist"})},
        nav=(NavEntry("patient", "directory.index", _l("Specialists"), None, 10),
             NavEntry("specialist", "directory_profile.edit", _l("My profile"),
                      "directory.profile.edit", 10)),
        journeys=("directory",),
        template_folder=Path(__file__).parent / "templates",
        models="modules.directory.models",
        on_mount=_on_mount,
        demo=demo,
    )


module = _module()

__all__ = ["DirectorySettings", "module"]
