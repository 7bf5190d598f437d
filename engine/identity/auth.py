"""Sign up, sign in, sign out, password reset and email verification (HTML views)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, TelField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp

from engine import security
from engine.identity import second_factor, services
from engine.identity.models import User
from engine.identity.permissions import public, requires
from engine.notify import send_email
from engine.privacy import signup as privacy_signup
from engine.web import UserError, current_brand, db

bp = Blueprint("account", __name__, url_prefix="/account")


class SignUpForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=10, max=256)])


class SignInForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email()])


class ResetForm(FlaskForm):
    password = PasswordField(_l("New password"),
                             validators=[DataRequired(), Length(min=10, max=256)])
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("password",
                                                                _l("The passwords differ."))])


# E.164: "+", a country code not starting with 0, and 8 to 15 digits in all
E164 = r"^\+[1-9][0-9]{7,14}$"


def _compact_phone(value: str | None) -> str | None:
    """Drop the spaces, dots, dashes and brackets people write numbers with; blank is None."""
    if value is None:
        return None
    compact = "".join(ch for ch in value if ch not in " .-()\t")
    return compact or None


class SettingsForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=120)])
    locale = SelectField(_l("Language"))
    timezone = SelectField(_l("Time zone"))
    phone = TelField(
        _l("Mobile phone for SMS reminders (optional)"), filters=[_compact_phone],
        validators=[Optional(), Regexp(E164, message=_l(
            "Write the number in international format: + and the country code, e.g. "
            "+34600123456."))])


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"),
                             validators=[DataRequired(), Length(min=10, max=256)])


class _LoginManager(LoginManager):
    """flask-login with "strong" session protection for signed-in sessions only."""

    def _session_protection_failed(self) -> bool:
        # An anonymous session (a chosen language, the CSRF token of a form) has no identity to
        # protect, and it never holds flask-login's "_id": "strong" would clear it and mark the
        # remember cookie for deletion on every request, so each anonymous page would answer
        # with Set-Cookie headers (and no anonymous page could be shared by a cache).
        if "_user_id" not in session:
            return False
        return bool(super()._session_protection_failed())


def init_app(app: Flask) -> None:
    manager = _LoginManager()
    manager.login_view = "account.signin"
    manager.login_message = _l("Please sign in to continue.")  # type: ignore[assignment]
    manager.session_protection = "strong"
    manager.init_app(app)
    app.register_blueprint(second_factor.bp)

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        try:
            uid, epoch = (int(x) for x in user_id.split(":"))
        except ValueError:
            return None
        user = db().get(User, uid)
        if user is None or user.session_epoch != epoch:
            return None
        if not services.is_member(db(), current_brand.config, user):
            return None
        return user


def _safe_next(default: str) -> str:
    """Only same-site relative targets (no open redirect)."""
    return safe_next_target(request.values.get("next") or "", default)


def safe_next_target(target: str, default: str) -> str:
    r"""``target`` when it is a path on this site, else ``default``.

    Browsers drop tabs and newlines inside URLs and read a backslash as a slash, so
    ``/\t/evil.example`` or ``/\\evil.example`` would leave the site: any control character,
    blank or backslash disqualifies the target.
    """
    if not target.startswith("/") or target.startswith("//"):
        return default
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def home_for(user: User) -> str:
    return {
        "specialist": url_for("portal_specialist.home"),
        "org_admin": url_for("portal_org.home"),
        "coordinator": url_for("portal_org.home"),
        "affiliate": url_for("portal_partners.home")
        if "portal_partners.home" in _endpoints() else url_for("portal_patient.home"),
    }.get(user.role, url_for("portal_patient.me"))


def _endpoints() -> set[str]:
    from flask import current_app

    return set(current_app.view_functions)


def start_session(user: User) -> None:
    """A fresh session for a fresh sign-in: nothing from before survives (no fixation)."""
    locale, tz = session.get("locale"), session.get("timezone")
    session.clear()
    session["sid"] = secrets.token_urlsafe(16)
    if tz:
        session["timezone"] = tz
    if locale and not user.locale:
        user.locale = locale
    login_user(user)
    from engine import audit

    audit.record_request("auth.signin", actor=user, target_type="user", target_id=user.id)
    security.mark_session_start()


def session_expired_notice() -> None:
    """Tell the visitor why they are at the sign-in page again (idle or absolute timeout)."""
    flash(_("Your session has ended. Please sign in again."), "info")


def _mail(user: User, template: str, **context: Any) -> None:
    cfg = current_brand.config
    send_email(db(), brand_id=cfg.slug, sender=cfg.communications.sender, to=user.email,
               template=template, locale=user.locale or cfg.locale, user=user, brand=cfg,
               **context)


@bp.route("/signup", methods=["GET", "POST"])
@public
def signup() -> Any:
    form = SignUpForm()
    cfg, brands_dir = current_brand.config, current_brand.runtime.settings.brands_dir
    consent_error = None
    if form.validate_on_submit() and not (
            consent_error := privacy_signup.refusal(cfg, request.form)):
        try:
            user = services.sign_up_patient(
                db(), current_brand.config, email=form.email.data or "",
                name=form.name.data or "", password=form.password.data or "",
                locale=session.get("locale"))
        except UserError as exc:
            getattr(form, exc.field or "email").errors.append(exc.message)
        else:
            privacy_signup.record(db(), user, cfg, brands_dir)
            token = services.issue_token(db(), user, "verify")
            _mail(user, "verify", link=url_for("account.verify", token=token, _external=True))
            start_session(user)
            flash(_("Welcome! We sent you an email to confirm your address."), "success")
            return redirect(_safe_next(url_for("portal_patient.me")))
    return render_template("account/signup.html", form=form,
                           consents=privacy_signup.documents(cfg, brands_dir),
                           consent_error=consent_error), \
        200 if not (form.errors or consent_error) else 400


@bp.route("/signin", methods=["GET", "POST"])
@public
def signin() -> Any:
    form = SignInForm()
    status = 200 if request.method == "GET" else 400
    if form.validate_on_submit():
        try:
            user = services.sign_in(db(), current_brand.config, form.email.data or "",
                                    form.password.data or "", ip=request.remote_addr)
        except UserError as exc:
            # The same message for an unknown email and a wrong password.
            from engine import audit

            audit.record_signin_failure(exc.code, form.email.data or "")
            form.password.errors.append(exc.message)
            status = exc.status
        else:
            return _signed_in(user, _safe_next(home_for(user)))
    return render_template("account/signin.html", form=form), status


def _signed_in(user: User, target: str) -> Any:
    """The password was right: ask for the second step when there is one, else sign in."""
    step = second_factor.needs_second_step(db(), current_brand.config, user)
    if step is not None:
        second_factor.begin_pending(user, target, step)
        return redirect(url_for(f"second_factor.{step}"))
    start_session(user)
    return redirect(target)


@bp.route("/signout", methods=["POST"])
@public
def signout() -> Any:
    end_session()
    return redirect(url_for("portal_patient.home"))


def end_session() -> None:
    """Sign out and drop everything the session held (brands and the console alike).

    The session cookie is signed, not stored: a copy taken before sign-out would stay valid.
    Moving the account's session epoch revokes every cookie issued so far (this device's and
    the user's other devices'), so a replayed cookie signs in nobody.
    """
    if current_user.is_authenticated:
        from engine import audit

        audit.record_request("auth.signout")
        current_user.session_epoch += 1
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")


@bp.route("/reset", methods=["GET", "POST"])
@public
def reset_request() -> Any:
    form = ResetRequestForm()
    if form.validate_on_submit():
        user = services.find_for_reset(db(), current_brand.config, form.email.data or "")
        if user is not None:
            token = services.issue_token(db(), user, "reset")
            _mail(user, "reset", link=url_for("account.reset", token=token, _external=True))
        # Same answer either way: the form does not reveal who has an account.
        return render_template("account/message.html", title=_("Check your email"),
                               message=_("If an account uses that address, we sent it a link "
                                         "to choose a new password. The link works once, "
                                         "for one hour."))
    return render_template("account/reset_request.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
def reset(token: str) -> Any:
    services.peek_token(db(), current_brand.config, token, "reset")
    form = ResetForm()
    if form.validate_on_submit():
        try:
            user = services.reset_password(db(), current_brand.config, token,
                                           form.password.data or "")
        except UserError as exc:
            if exc.field != "password":
                raise
            form.password.errors.append(exc.message)
        else:
            from engine import audit

            audit.record_request("auth.password_reset", actor=user, target_type="user",
                                 target_id=user.id)
            flash(_("Your password is changed."), "success")
            # an emailed link proves the mailbox, not the second factor
            return _signed_in(user, home_for(user))
    return render_template("account/reset.html", form=form), 200 if not form.errors else 400


@bp.route("/verify/<token>")
@public
def verify(token: str) -> Any:
    services.verify_email(db(), current_brand.config, token)
    flash(_("Your email address is confirmed."), "success")
    return redirect(url_for("portal_patient.home"))


@bp.route("/verify", methods=["POST"])
@requires("core.account.manage")
def verify_resend() -> Any:
    user: User = current_user  # type: ignore[assignment]
    if user.email_verified_at is None:
        token = services.issue_token(db(), user, "verify")
        _mail(user, "verify", link=url_for("account.verify", token=token, _external=True))
    flash(_("We sent you a new confirmation email."), "info")
    return redirect(url_for("account.settings"))


def _timezones() -> list[str]:
    return sorted(available_timezones())


@bp.route("/settings", methods=["GET", "POST"])
@requires("core.account.manage")
def settings() -> Any:
    # The real object, not the proxy: login_user() below stores it, and a stored proxy would
    # resolve to itself (endless recursion).
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    cfg = current_brand.config
    form = SettingsForm(obj=user, prefix="profile")
    form.locale.choices = [(loc, loc) for loc in cfg.locales]
    form.timezone.choices = [(tz, tz) for tz in _timezones()]
    if request.method == "GET":
        form.locale.data = user.locale or cfg.locale
        form.timezone.data = user.timezone or cfg.timezone
    pw_form = PasswordForm(prefix="password")
    if request.method == "POST" and "profile-name" in request.form and form.validate():
        user.name = (form.name.data or "").strip()
        user.locale = form.locale.data
        user.timezone = form.timezone.data
        user.phone = form.phone.data or None
        flash(_("Saved."), "success")
        return redirect(url_for("account.settings"))
    if request.method == "POST" and "password-password" in request.form and pw_form.validate():
        try:
            services.change_password(db(), user, pw_form.current_password.data or "",
                                     pw_form.password.data or "")
        except UserError as exc:
            from engine import audit

            audit.record_request("auth.password_change", outcome="failure", target_type="user",
                                 target_id=user.id, details={"reason": exc.code})
            getattr(pw_form, exc.field or "password").errors.append(exc.message)
        else:
            from engine import audit

            audit.record_request("auth.password_change", target_type="user", target_id=user.id)
            login_user(user)  # re-issue this session under the new epoch
            flash(_("Your password is changed; other devices are signed out."), "success")
            return redirect(url_for("account.settings"))
    status = 400 if (form.errors or pw_form.errors) else 200
    return render_template("account/settings.html", form=form, pw_form=pw_form), status


@bp.route("/locale", methods=["GET", "POST"])
@public
def set_locale() -> Any:
    """Switch the display language: ``GET ?to=en&next=/path`` or a POSTed form (``locale``).

    The anonymous switcher is a plain link: a display language is no state worth a CSRF token,
    and a link keeps every anonymous page free of a session. A GET only changes this session;
    the signed-in switcher POSTs (with its CSRF token) because it also saves the account's
    choice.
    """
    locale = request.form.get("locale", "") if request.method == "POST" \
        else request.args.get("to", "")
    if locale not in current_brand.config.locales:
        abort(400)
    session["locale"] = locale
    if request.method == "POST" and current_user.is_authenticated:
        current_user.locale = locale
    return redirect(_safe_next(url_for("portal_patient.home")))


@bp.route("/timezone", methods=["POST"])
@public
def set_timezone() -> Any:
    """The browser reports its zone; shown times follow it unless the account sets one."""
    tz = request.form.get("timezone", "")
    if tz not in available_timezones():
        raise UserError(_("Unknown time zone."), code="invalid_timezone", field="timezone")
    session["timezone"] = tz
    return ("", 204)
