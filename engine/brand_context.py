"""Brand apps outside a request: what jobs and CLI commands use to render brand templates.

A job (the reminder sweep, a worker's delivery) runs without the platform's WSGI entry, yet
rendering a brand's themed, localized mail needs that brand's Flask app (its Jinja loader,
Babel, filters). :func:`brand_apps` builds the apps of the runtime's brands directory with the
same factory the platform uses, and keeps them per process until a brand file changes (the
file's revision, as in the platform). Apps are pure wiring, so building them touches no data.

Use as ``with rendering(brand_apps()[slug]): send_email(...)``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from engine.config import BrandConfig, load_brand_set
from engine.runtime import Runtime, current

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrandApp:
    config: BrandConfig
    revision: str
    app: Flask


_lock = threading.Lock()
# (runtime id, brands dir) -> slug -> BrandApp
_cache: dict[tuple[int, Path], dict[str, BrandApp]] = {}


def brand_apps(runtime: Runtime | None = None) -> dict[str, BrandApp]:
    """Every valid brand of ``runtime``'s brands directory with its app (default runtime:
    this process's). A brand whose file is invalid is left out (and logged); an unchanged
    brand keeps its app."""
    from engine.app import build_brand_app

    rt = runtime or current()
    key = (id(rt), rt.settings.brands_dir)
    with _lock:
        brand_set = load_brand_set(rt.settings.brands_dir, rt.registry, rt.settings.themes_dir)
        for path, errors in brand_set.errors.items():
            log.warning("brand file %s not loaded: %s", path, "; ".join(map(str, errors)))
        known = _cache.get(key, {})
        fresh: dict[str, BrandApp] = {}
        for slug, loaded in brand_set.brands.items():
            previous = known.get(slug)
            if previous is not None and previous.revision == loaded.revision:
                fresh[slug] = previous
                continue
            try:
                fresh[slug] = BrandApp(loaded.config, loaded.revision,
                                       build_brand_app(loaded, rt))
            except Exception:  # one brand's failure must not stop the others' jobs
                log.exception("building brand %s failed", slug)
        _cache[key] = fresh
        return dict(fresh)


@contextmanager
def rendering(brand: BrandApp) -> Iterator[None]:
    """A request context on the brand's canonical host, outside any real request: the brand's
    templates render as they do for a request (the portal and theme context processors run;
    ``url_for(..., _external=True)`` points at the brand's first domain). Nobody is signed in;
    callers choose the language with ``flask_babel.force_locale``."""
    host = brand.config.domains[0]
    with brand.app.test_request_context("/", base_url=f"https://{host}"):
        yield
