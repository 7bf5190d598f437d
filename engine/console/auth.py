"""Operator sign-in on the console host: its own login manager, accepting platform operators only.

Access markers use the same attribute as brand views (``ACCESS_ATTR``) so one route audit can
check every app: :func:`engine.identity.permissions.public` or :func:`operator_required`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    abort,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from engine.console import services
from engine.console.i18n import LOCALES
from engine.console.state import console_db
from engine.identity.auth import end_session, safe_next_target
from engine.identity.models import User
from engine.identity.permissions import ACCESS_ATTR, public
from engine.identity.second_factor import begin_pending, needs_second_step
from engine.web import UserError

F = TypeVar("F", bound=Callable[..., Any])

OPERATOR_ACCESS = ("operator", None)

bp = Blueprint("auth", __name__)


def operator_required(view: F) -> F:
    """The view needs a signed-in platform operator (anonymous: to sign-in; others: 403)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            if request.accept_mimetypes.best == "application/json":
                abort(401)
            return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))
        if getattr(current_user, "role", None) != "operator":
            from engine import audit

            audit.record_request("access.denied", outcome="denied",
                                 details={"endpoint": request.endpoint})
            abort(403)
        return view(*args, **kwargs)

    setattr(wrapper, ACCESS_ATTR, OPERATOR_ACCESS)
    return wrapper  # type: ignore[return-value]


class SignInForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


def init_app(app: Flask) -> None:
    manager = LoginManager()
    manager.login_view = "auth.signin"
    manager.login_message = _l("Please sign in to continue.")  # type: ignore[assignment]
    manager.session_protection = "strong"
    manager.init_app(app)

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        return services.load_operator(console_db(), user_id)

    app.register_blueprint(bp)
    from engine.console import second_factor

    app.register_blueprint(second_factor.bp)


def _safe_next(default: str) -> str:
    """Only same-site relative targets (no open redirect)."""
    return safe_next_target(request.values.get("next") or "", default)


@bp.route("/signin", methods=["GET", "POST"])
@public
def signin() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("console.brands"))
    form = SignInForm()
    if form.validate_on_submit():
        try:
            user = services.sign_in_operator(console_db(), form.email.data or "",
                                             form.password.data or "", request.remote_addr)
        except UserError as exc:
            from engine import audit

            audit.record_signin_failure(exc.code, form.email.data or "")
            form.password.errors.append(exc.message)
            return render_template("console/signin.html", form=form), exc.status
        # Operators always have a second step: the code, or setting up their authenticator
        # first. Only then does start_session (a fresh session, no fixation) sign them in.
        step = needs_second_step(console_db(), None, user) or "code"
        begin_pending(user, _safe_next(url_for("console.brands")), step)
        return redirect(url_for(f"mfa.{step}"))
    status = 200 if request.method == "GET" else 400
    return render_template("console/signin.html", form=form), status


@bp.route("/signout", methods=["POST"])
@public
def signout() -> Any:
    end_session()
    return redirect(url_for("auth.signin"))


@bp.route("/locale", methods=["POST"])
@public
def set_locale() -> Any:
    """Switch the console language; an operator's choice is kept on their account."""
    locale = request.form.get("locale", "")
    if locale not in LOCALES:
        abort(400)
    session["locale"] = locale
    if current_user.is_authenticated:
        current_user.locale = locale
    return redirect(_safe_next(url_for("console.brands")))
