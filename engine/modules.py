"""The module contract and registry.

A module is a package exporting ``module: Module``. Built-in modules live in the top-level
``modules`` package; installed packages add modules through the ``daraport.modules`` entry point
group. The engine never imports a module by name: it discovers them.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click
from flask import Blueprint
from pydantic import BaseModel, ConfigDict

PORTALS = ("patient", "specialist", "org", "partners")
PORTAL_PREFIX = {"patient": "", "specialist": "/specialist", "org": "/org", "partners": "/partners"}


class ModuleSettings(BaseModel):
    """Base of every module's settings section in brand YAML (``modules.<name>``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True


@dataclass(frozen=True)
class Mount:
    """A blueprint mounted in one portal, under ``PORTAL_PREFIX[portal] + url_prefix``."""

    blueprint: Blueprint
    portal: str = "patient"
    url_prefix: str = ""

    def __post_init__(self) -> None:
        if self.portal not in PORTALS:
            raise ValueError(f"unknown portal {self.portal!r}; portals are {', '.join(PORTALS)}")


@dataclass(frozen=True)
class NavEntry:
    """A link in a portal's navigation, shown when the user holds ``permission``."""

    portal: str
    endpoint: str
    label: Any  # a lazy translatable string
    permission: str | None = None
    order: int = 50
    # badge(user) -> a count shown beside the link (e.g. unread messages): 0 keeps a hidden
    # badge that pages update without a reload (nav/badges.json), None shows none; called
    # once per page that shows the link and per poll, so it must be cheap
    badge: Callable[[Any], int | None] | None = None


# a periodic job's name: dotted lower-case words ("booking.reminders", "payments.expire-holds")
PERIODIC_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_-]*)+")


@dataclass(frozen=True)
class Periodic:
    """Work the scheduler (``cli.py scheduler``, :mod:`engine.scheduler`) starts once per period.

    ``job`` is called with no arguments, on an rq worker when REDIS_URL is set (so it must be a
    module-level function, importable by path) or in the scheduler's process otherwise. It
    decides per brand itself (e.g. skipping brands where its module is off) and is idempotent.
    Periods are aligned to the UTC clock: ``every=timedelta(days=1)`` runs once per UTC day.
    """

    name: str  # unique on the platform; a module's start with "<module>."
    every: timedelta
    job: Callable[..., Any]

    def __post_init__(self) -> None:
        if not PERIODIC_NAME.fullmatch(self.name) or len(self.name) > 100:
            raise ValueError(f"periodic job name {self.name!r}: dotted lower-case words, "
                             f"e.g. 'booking.reminders' (at most 100 characters)")
        if self.every < timedelta(seconds=1) or self.every.microseconds:
            raise ValueError(f"periodic job {self.name}: every must be whole seconds, at least "
                             f"one (got {self.every})")
        if not callable(self.job):
            raise ValueError(f"periodic job {self.name}: job {self.job!r} is not callable")


@dataclass(frozen=True)
class Module:
    name: str
    title: str
    requires: tuple[str, ...] = ()
    settings: type[ModuleSettings] = ModuleSettings
    mounts: tuple[Mount, ...] = ()
    # permission name -> roles that hold it by default
    permissions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    nav: tuple[NavEntry, ...] = ()
    # journey modes this module provides (see BrandConfig.journey)
    journeys: tuple[str, ...] = ()
    jobs: tuple[Callable[..., Any], ...] = ()
    # work started once per period by the scheduler (`cli.py scheduler`) while the module is on
    # for at least one brand; names start with "<module>."
    periodic: tuple[Periodic, ...] = ()
    cli: click.Group | None = None
    template_folder: Path | None = None
    # import path of the module holding its SQLAlchemy models (for metadata and Alembic)
    models: str | None = None
    # hook called with (app, brand_context) when a brand app mounts this module
    on_mount: Callable[..., None] | None = None
    # operator-console pages: a blueprint the console mounts under /m/<name> and links from its
    # navigation (endpoint "<blueprint>.index", labelled with ``title``); its views guard
    # themselves (engine.console.auth.operator_required); templates from ``template_folder``
    console: Blueprint | None = None
    # template fragments this module adds at named points of other modules' or the engine's
    # pages: hook name -> template names (e.g. {"directory.profile": ("booking/_book.html",)}).
    # A page renders a hook with {% for t in hook_templates("name") %}{% include t %}{% endfor %}
    # so modules extend each other's pages without importing each other.
    template_hooks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # demo data: called as demo(session, brand_config, people) by `cli.py demo`, where
    # people maps "specialists"/"patients"/... to the demo User rows created by the engine
    demo: Callable[..., None] | None = None
    # Data rights and retention (the privacy module calls these; a module that stores personal
    # data provides them so that export, deletion and retention reach its tables):
    # export_data(session, user) -> {"section": JSON-able, ..., "_files": [(name, bytes)]}
    #   everything this module holds about ``user`` on the user's brand (nobody else's data);
    export_data: Callable[..., Mapping[str, Any]] | None = None
    # erase_data(session, user, scope) -> {"what": count}: delete or pseudonymize the user's
    #   data for scope "all" or one of the module's own scopes (e.g. "messages"); rows under a
    #   legal retention duty are kept, restricted, and counted under "kept:<what>";
    erase_data: Callable[..., Mapping[str, int]] | None = None
    # retention: data type (a key of the brand's ``retention`` section without "_days", e.g.
    #   "messages") -> purge(session, brand_id, cutoff, *, dry_run, held_user_ids) -> count of
    #   rows removed (or that would be removed when dry_run); idempotent, batched.
    retention: Mapping[str, Callable[..., int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for perm in self.permissions:
            if not perm.startswith(self.name + "."):
                raise ValueError(f"module {self.name}: permission {perm!r} must start with "
                                 f"'{self.name}.'")
        names = [p.name for p in self.periodic]
        for name in names:
            if not name.startswith(self.name + "."):
                raise ValueError(f"module {self.name}: periodic job {name!r} must start with "
                                 f"'{self.name}.'")
            if names.count(name) > 1:
                raise ValueError(f"module {self.name}: periodic job {name!r} is declared twice")


class ModuleRegistry:
    """Every module known to this process, by name."""

    def __init__(self, modules: Mapping[str, Module]):
        self._modules = dict(sorted(modules.items()))

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __contains__(self, name: object) -> bool:
        return name in self._modules

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._modules.values())

    def names(self) -> list[str]:
        return list(self._modules)

    def journey_providers(self) -> dict[str, str]:
        """journey mode -> module name providing it."""
        return {mode: m.name for m in self for mode in m.journeys}

    def import_models(self) -> None:
        for m in self:
            if m.models:
                importlib.import_module(m.models)


def _load_builtin() -> dict[str, Module]:
    import modules as builtin  # the top-level package of core feature modules

    found: dict[str, Module] = {}
    for info in pkgutil.iter_modules(builtin.__path__):
        pkg = importlib.import_module(f"modules.{info.name}")
        manifest = getattr(pkg, "module", None)
        if not isinstance(manifest, Module):
            raise RuntimeError(f"modules/{info.name} exports no `module: Module` manifest")
        found[manifest.name] = manifest
    return found


def _load_entry_points() -> dict[str, Module]:
    found: dict[str, Module] = {}
    for ep in entry_points(group="daraport.modules"):
        manifest = ep.load()
        if not isinstance(manifest, Module):
            raise RuntimeError(f"entry point {ep.name} is not a Module")
        found[manifest.name] = manifest
    return found


_registry: ModuleRegistry | None = None


def registry() -> ModuleRegistry:
    """The process-wide registry (built once; modules are code, so they do not change live)."""
    global _registry
    if _registry is None:
        mods = _load_builtin()
        for name, m in _load_entry_points().items():
            if name in mods:
                raise RuntimeError(f"module {name!r} is provided twice")
            mods[name] = m
        for m in mods.values():
            for dep in m.requires:
                if dep not in mods:
                    raise RuntimeError(f"module {m.name} requires unknown module {dep!r}")
        _registry = ModuleRegistry(mods)
    return _registry
