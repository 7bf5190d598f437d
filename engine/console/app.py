"""Operator console app (served on ``settings.admin_hosts``): pure wiring.

Its templates and stylesheet live beside it (engine/console/templates, engine/console/static)
and its Jinja loader holds nothing else, so no brand theme can override an operator screen.
Its session cookie is signed with its own key, derived from the platform secret, so no brand
cookie is worth anything here (and the other way round).
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, jsonify, render_template, send_from_directory
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader
from werkzeug.exceptions import HTTPException, NotFound

from engine import security
from engine.app import HostOnlySessionInterface
from engine.console import auth, i18n, views
from engine.console.state import EXTENSION
from engine.identity.auth import session_expired_notice
from engine.identity.permissions import public
from engine.web import UserError, wants_json

if TYPE_CHECKING:
    from engine.platform import Platform

CONSOLE_DIR = Path(__file__).resolve().parent
STATIC_DIR = CONSOLE_DIR / "static"

CSP = security.CONSOLE_POLICY


# Operators hold the keys to every brand: shorter sessions than any brand's defaults.
CONSOLE_LIFETIMES = security.Lifetimes(idle_seconds=20 * 60, absolute_seconds=8 * 3600)


def console_secret(platform_secret: str) -> str:
    """The console's signing key; never equal to a brand's (those use ``brand:<slug>``)."""
    return hmac.new(platform_secret.encode(), b"console:operators", hashlib.sha256).hexdigest()


def build_console_app(platform: Platform) -> Flask:
    """The operator console for ``platform`` (reads its brands, errors and runtime live)."""
    app = Flask("daraport.console", static_folder=None, template_folder=None,
                root_path=str(CONSOLE_DIR))
    app.config.update(
        SECRET_KEY=console_secret(platform.runtime.settings.secret_key),
        SESSION_COOKIE_NAME="daraport_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,  # secure whenever the request came over HTTPS
        PERMANENT_SESSION_LIFETIME=60 * 60 * 8,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = HostOnlySessionInterface()
    # the console's own templates first (a module cannot override an operator screen), then
    # the template folders of modules with console pages
    console_modules = [m for m in platform.runtime.registry if m.console is not None]
    app.jinja_loader = ChoiceLoader([  # type: ignore[assignment]
        FileSystemLoader(CONSOLE_DIR / "templates"),
        *(FileSystemLoader(m.template_folder) for m in console_modules if m.template_folder)])
    app.jinja_env.globals["module_pages"] = [(f"{m.console.name}.index", m.title)
                                             for m in console_modules if m.console]
    app.extensions[EXTENSION] = platform

    i18n.init_app(app)  # first: every later hook and error page renders in the console catalog
    CSRFProtect(app)
    auth.init_app(app)
    app.register_blueprint(views.bp)
    from engine.console import audit_views

    app.register_blueprint(audit_views.bp)
    from engine.privacy import console_views as privacy_console

    app.register_blueprint(privacy_console.bp)
    for m in console_modules:
        app.register_blueprint(m.console, url_prefix=f"/m/{m.name}")  # type: ignore[arg-type]

    @app.route("/static/<path:filename>", endpoint="static")
    @public
    def static(filename: str) -> Response:
        if not (STATIC_DIR / filename).is_file():
            raise NotFound()
        return send_from_directory(STATIC_DIR, filename, max_age=3600)

    _wire_request_cycle(app)
    security.enforce_lifetimes(app, lambda: CONSOLE_LIFETIMES, on_expire=session_expired_notice)
    # after the request cycle: its after-request hook then runs first (Flask runs them reversed)
    from engine import audit
    from engine.console.state import console_db

    audit.init_app(app, session=console_db,
                   factory=lambda: platform.runtime.sessions(info={"brand_id": None}))
    return app


def _error_page(status: int, message: str) -> Any:
    """A JSON problem or the console's own error page (never a brand's)."""
    if wants_json():
        resp = jsonify({"error": status, "message": str(message), "field": None})
        resp.status_code = status
        return resp
    return render_template("console/error.html", status=status, message=message), status


_MESSAGES: dict[int, Any] = {
    400: _l("The request could not be understood."),
    401: _l("Please sign in to continue."),
    403: _l("Only platform operators may use the console."),
    404: _l("We could not find this page."),
    405: _l("This action is not allowed here."),
    413: _l("The request is too large."),
}


def _wire_request_cycle(app: Flask) -> None:
    @app.after_request
    def _finish(resp: Response) -> Response:
        session = g.pop("console_db", None)
        if session is not None:
            try:
                if resp.status_code < 500:
                    session.commit()
                else:
                    session.rollback()
            finally:
                session.close()
        security.apply_headers(resp, CSP)
        if resp.mimetype == "text/html":
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        session = g.pop("console_db", None)
        if session is not None:
            session.rollback()
            session.close()

    @app.errorhandler(UserError)
    def _user_error(exc: UserError) -> Any:
        return _error_page(exc.status, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        return _error_page(400, _("This form has expired or was not sent from this site. "
                                  "Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        if exc.code is None or exc.code < 400 or exc.response is not None:
            return exc
        return _error_page(exc.code, str(_MESSAGES.get(exc.code) or _("Something went wrong.")))

    @app.errorhandler(Exception)
    def _crash(exc: Exception) -> Any:
        session = g.pop("console_db", None)
        if session is not None:
            session.rollback()
            session.close()
        if app.config.get("PROPAGATE_EXCEPTIONS"):
            raise exc
        app.logger.exception("unhandled error in the operator console")
        return _error_page(500, _("Something went wrong on our side. Please try again."))
