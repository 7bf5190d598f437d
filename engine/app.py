"""The brand app factory: pure wiring from a validated config to a Flask app.

No queries, no prompts, no exit(). A missing theme, template folder or module is a load error.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    Response,
    make_response,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask import session as flask_session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.security import safe_join

from engine import i18n, security
from engine.config import LoadedBrand
from engine.identity import auth
from engine.identity.permissions import public, role_permissions
from engine.modules import PORTAL_PREFIX, Module
from engine.privacy import views as privacy_views
from engine.runtime import Runtime
from engine.web import BrandContext, UserError, discard_writes, finish_request, problem

ENGINE_DIR = Path(__file__).resolve().parent


class BrandLoadError(Exception):
    """The brand's config is valid but the app cannot be built (missing theme files, ...)."""


class HostOnlySessionInterface(SecureCookieSessionInterface):
    """Secure cookie when the request came over HTTPS; no cookie domain (host-only)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def get_cookie_domain(self, app: Flask) -> None:
        return None


def brand_secret(platform_secret: str, slug: str) -> str:
    """Per-brand signing key: a cookie or token of one brand is worthless on another."""
    return hmac.new(platform_secret.encode(), f"brand:{slug}".encode(), hashlib.sha256).hexdigest()


def theme_dirs(runtime: Runtime, theme: str) -> list[Path]:
    themes = runtime.settings.themes_dir
    dirs = [themes / theme] if theme != "base" else []
    dirs.append(themes / "base")
    for d in dirs:
        if not (d / "templates").is_dir():
            raise BrandLoadError(f"theme folder {d / 'templates'} is missing")
    return dirs


def build_brand_app(loaded: LoadedBrand, runtime: Runtime) -> Flask:
    cfg = loaded.config
    reg = runtime.registry
    enabled = [reg[name] for name in cfg.enabled_modules() if name in reg]
    if len(enabled) != len(cfg.enabled_modules()):
        missing = set(cfg.enabled_modules()) - set(reg.names())
        raise BrandLoadError(f"modules not installed: {', '.join(sorted(missing))}")

    app = Flask(f"daraport.brand.{cfg.slug}", static_folder=None, template_folder=None,
                root_path=str(ENGINE_DIR))
    app.config.update(
        SECRET_KEY=brand_secret(runtime.settings.secret_key, cfg.slug),
        SESSION_COOKIE_NAME="daraport",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,
        PERMANENT_SESSION_LIFETIME=60 * 60 * 12,
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = HostOnlySessionInterface()

    # Jinja: brand overrides -> brand theme -> base theme -> module templates.
    dirs = theme_dirs(runtime, cfg.theme.name)
    loaders = []
    overrides = loaded.path.parent / cfg.slug / "templates"
    if overrides.is_dir():
        loaders.append(FileSystemLoader(overrides))
    loaders += [FileSystemLoader(d / "templates") for d in dirs]
    for m in enabled:
        if m.template_folder is not None:
            if not m.template_folder.is_dir():
                raise BrandLoadError(f"module {m.name}: template folder {m.template_folder} "
                                     f"is missing")
            loaders.append(FileSystemLoader(m.template_folder))
    app.jinja_loader = ChoiceLoader(loaders)  # type: ignore[assignment]

    nav: dict[str, list[Any]] = {}
    for m in enabled:
        for entry in m.nav:
            nav.setdefault(entry.portal, []).append(entry)
    for entries in nav.values():
        entries.sort(key=lambda e: e.order)
    hooks: dict[str, list[str]] = {}
    for m in enabled:
        for hook, templates in m.template_hooks.items():
            hooks.setdefault(hook, []).extend(templates)
    app.jinja_env.globals["hook_templates"] = lambda name: hooks.get(name, ())
    journey_module = reg.journey_providers().get(cfg.journey.mode)
    ctx = BrandContext(
        config=cfg, revision=loaded.revision, path=loaded.path, runtime=runtime,
        role_permissions=role_permissions(cfg.enabled_modules(), reg, cfg.permissions.deny),
        nav=nav,
        journey_endpoint=f"{journey_module}.index" if journey_module else None,
    )
    app.extensions["daraport"] = ctx

    CSRFProtect(app)
    i18n.init_app(app, cfg)
    auth.init_app(app)

    _wire_static_files(app, [d / "static" for d in dirs], enabled)

    @app.route("/brand.css", endpoint="brand_css")
    @public
    def brand_css() -> Response:
        # The theme colours as a stylesheet: the CSP allows no inline <style>.
        resp = make_response(render_template("brand.css", brand=cfg))
        resp.mimetype = "text/css"
        resp.cache_control.public = True
        resp.cache_control.max_age = 300
        return resp

    from engine import health, portals

    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    privacy_views.init_app(app)
    portals.register(app, ctx, has_partners=any(mt.portal == "partners"
                                                for m in enabled for mt in m.mounts))
    from engine import audit_views

    audit_views.register(app, ctx)
    for m in enabled:
        for mount in m.mounts:
            app.register_blueprint(mount.blueprint,
                                   url_prefix=PORTAL_PREFIX[mount.portal] + mount.url_prefix)
        if m.on_mount is not None:
            m.on_mount(app, ctx)

    _wire_request_cycle(app)
    sec = cfg.security
    lifetimes = security.Lifetimes(idle_seconds=sec.session_idle_minutes * 60,
                                   absolute_seconds=sec.session_absolute_hours * 3600)
    security.enforce_lifetimes(app, lambda: lifetimes, on_expire=auth.session_expired_notice)
    # after the request cycle: its after-request hook then runs first (Flask runs them reversed)
    from engine import audit
    from engine.web import db

    audit.init_app(app, session=db, factory=lambda: runtime.sessions(info={"brand_id": None}))
    return app


# The first path segment under /static/ that belongs to modules, never to a theme.
MODULE_STATIC_SEGMENT = "m"
STATIC_MAX_AGE = 3600


def _wire_static_files(app: Flask, theme_static: list[Path], enabled: list[Module]) -> None:
    """Two URL namespaces for static files, so that no file can shadow another's.

    ``/static/<path>`` serves the brand's theme files (brand theme, then base theme: a theme
    overrides base by path, which is what themes are for). ``/static/m/<module>/<path>`` serves
    one module's own ``static/`` folder (beside its ``templates/``), and only while the module is
    enabled on this brand; any other module name answers 404. Before this split, both lived in one
    flat namespace searched in order, so a theme's ``video.js`` silently replaced the video
    module's script.

    Why ``/static/m/``: it stays under ``/static/``, so one proxy or CDN rule still covers every
    static file and the CSP's ``script-src 'self'`` needs nothing new; ``m`` is the segment the
    console already uses for modules (``/m/<name>``), and being one letter no theme folder is
    likely to want it. It is reserved: a theme with a ``static/m/`` folder is a load error (its
    files could never be reached), and the theme route refuses ``m/...`` outright.

    Templates build module URLs with the Jinja global ``module_static(module, filename)``.
    """
    reserved = [d / MODULE_STATIC_SEGMENT for d in theme_static
                if (d / MODULE_STATIC_SEGMENT).exists()]
    if reserved:
        raise BrandLoadError(f"theme folder {reserved[0]} is reserved for module static files "
                             f"(/static/{MODULE_STATIC_SEGMENT}/<module>/...): rename it")
    module_static = {m.name: m.template_folder.parent / "static" for m in enabled
                     if m.template_folder is not None
                     and (m.template_folder.parent / "static").is_dir()}

    @app.route("/static/<path:filename>", endpoint="static")
    @public
    def static(filename: str) -> Response:
        if filename.split("/", 1)[0] == MODULE_STATIC_SEGMENT:
            raise NotFound()
        for d in theme_static:
            # safe_join refuses "..", absolute paths and the like before anything is looked at
            found = safe_join(str(d), filename)
            if found is not None and os.path.isfile(found):
                return send_from_directory(d, filename, max_age=STATIC_MAX_AGE)
        raise NotFound()

    # The endpoint name starts with "static" on purpose: the consent interstitial lets such
    # endpoints through (engine.privacy.views.OPEN_ENDPOINT_PREFIXES), as it does theme files.
    @app.route(f"/static/{MODULE_STATIC_SEGMENT}/<module>/<path:filename>",
               endpoint="static_module")
    @public
    def static_module(module: str, filename: str) -> Response:
        folder = module_static.get(module)
        if folder is None:  # not enabled on this brand, not installed, or without static files
            raise NotFound()
        return send_from_directory(folder, filename, max_age=STATIC_MAX_AGE)

    def module_static_url(module: str, filename: str) -> str:
        # A template naming a module that is off on this brand is a bug in that template: fail
        # at render time rather than ship a page whose script silently answers 404.
        if module not in module_static:
            raise LookupError(f"module_static: module {module!r} is not enabled on brand "
                              f"{app.name!r} or has no static folder")
        return url_for("static_module", module=module, filename=filename)

    app.jinja_env.globals["module_static"] = module_static_url


def _security_headers(resp: Response) -> None:
    resp.vary.add("Host")  # one process serves many hosts: caches must key on it
    security.apply_headers(resp, security.brand_policy())
    # A signed-in page may show health data: no browser or proxy keeps a copy.
    if "_user_id" in flask_session and "Cache-Control" not in resp.headers:
        resp.headers["Cache-Control"] = "private, no-store"


def _wire_request_cycle(app: Flask) -> None:
    """One commit per request at the boundary; any error rolls the request's writes back."""

    @app.after_request
    def _finish(resp: Response) -> Response:
        _security_headers(resp)
        # A failing commit raises here and Flask answers 500: never success for lost writes.
        finish_request(commit=resp.status_code < 500)
        return resp

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        finish_request(commit=False)

    @app.errorhandler(UserError)
    def _user_error(exc: UserError) -> Any:
        if not exc.keep_writes:
            discard_writes()
        return problem(exc.status, exc.code, exc.message, exc.field)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        from flask_babel import gettext as _

        discard_writes()
        return problem(400, "csrf", _("This form has expired or was not sent from this site. "
                                      "Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        if exc.code is None or exc.code < 400:
            return exc
        discard_writes()
        if exc.response is not None:
            return exc.response
        resp = make_response(problem(exc.code, exc.name.lower().replace(" ", "_"),
                                     i18n.http_message(exc)))
        for name, value in exc.get_headers():  # Allow on 405, WWW-Authenticate on 401, ...
            if name.lower() != "content-type":
                resp.headers[name] = value
        return resp

    @app.errorhandler(Exception)
    def _crash(exc: Exception) -> Any:
        discard_writes()
        if app.config.get("PROPAGATE_EXCEPTIONS"):
            raise exc
        app.logger.exception("unhandled error")
        return problem(500, "server_error", i18n.http_message(None))
