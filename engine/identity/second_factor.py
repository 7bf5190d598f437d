"""The second step of sign-in (TOTP) and the account's two-step page, for brand apps.

After the password, a user with a second factor (or one who must have one) holds a *pending*
session: no identity, only ``{user id, epoch, time, next}`` in the signed cookie, good for ten
minutes. The code (or the enrollment) turns it into a real session through ``start_session``,
which rotates the session again. The console uses the same pending-state helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from engine import audit, clock
from engine.identity import services, totp
from engine.identity.models import User, brand_realm
from engine.identity.permissions import public, requires
from engine.web import UserError, current_brand, db

PENDING = "second_factor_pending"
PENDING_SECONDS = 10 * 60

bp = Blueprint("second_factor", __name__, url_prefix="/account")


class CodeForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[DataRequired(), Length(max=32)])


class PasswordConfirmForm(FlaskForm):
    password = PasswordField(_l("Current password"), validators=[DataRequired(),
                                                                 Length(max=256)])


# --- pending state (brands and console) ------------------------------------------------------


def needs_second_step(db_session: Session, brand: Any, user: User) -> str | None:
    """``"code"`` when the user has a second factor, ``"enroll"`` when they must set one up,
    None when the password is enough."""
    if totp.is_enabled(db_session, user):
        return "code"
    if totp.is_required(brand, user):
        return "enroll"
    return None


def begin_pending(user: User, target: str, step: str) -> None:
    """Replace the session with a pending sign-in of ``user`` (no identity yet)."""
    keep = {k: session[k] for k in ("locale", "timezone") if k in session}
    session.clear()
    session.update(keep)
    session[PENDING] = {"uid": user.id, "epoch": user.session_epoch, "step": step,
                        "at": int(clock.now().timestamp()), "next": target}


def pending(db_session: Session, accept: Callable[[User], bool]) -> tuple[User, dict[str, Any]]:
    """The user of this session's pending sign-in, or 404 (absent, expired, stale, refused)."""
    state = session.get(PENDING)
    if not isinstance(state, dict):
        abort(404)
    age = int(clock.now().timestamp()) - int(state.get("at", 0))
    user = db_session.get(User, int(state.get("uid", 0)))
    if age > PENDING_SECONDS or user is None or user.session_epoch != state.get("epoch") \
            or not accept(user):
        session.pop(PENDING, None)
        flash(_("The sign-in took too long. Please sign in again."), "info")
        abort(404)
    return user, state


def check_code(db_session: Session, user: User, form: CodeForm, realm: str,
               ) -> tuple[str | None, int]:
    """The second step of a sign-in, shared by the brands' and the console's views: check the
    form's code, audit the outcome, and return (the method used, HTTP status). On refusal the
    method is None and the reason is on the form's code field."""
    if not form.validate_on_submit():
        return None, 400 if request.method == "POST" else 200
    try:
        used = totp.verify_sign_in(db_session, user, form.code.data or "", realm=realm,
                                   ip=request.remote_addr)
    except UserError as exc:
        audit.record_request("auth.second_factor", actor=user, outcome="failure",
                             details={"code": exc.code})
        form.code.errors.append(exc.message)
        return None, exc.status
    audit.record_request("auth.second_factor", actor=user, details={"method": used})
    return used, 200


# --- brand views -----------------------------------------------------------------------------


def _member(user: User) -> bool:
    return services.is_member(db(), current_brand.config, user)


def _finish(user: User, state: dict[str, Any]) -> None:
    from engine.identity.auth import start_session

    start_session(user)  # clears the pending state and rotates the session


@bp.route("/signin/code", methods=["GET", "POST"])
@public
def code() -> Any:
    user, state = pending(db(), _member)
    if state["step"] != "code":
        return redirect(url_for("second_factor.enroll"))
    form = CodeForm()
    used, status = check_code(db(), user, form, brand_realm(current_brand.config.slug))
    if used is not None:
        _finish(user, state)
        if used == "recovery":
            flash(_("You used a recovery code; %(n)d are left.",
                    n=totp.remaining_recovery_codes(db(), user)), "info")
        return redirect(state["next"])
    return render_template("account/totp_code.html", form=form), status


@bp.route("/signin/enroll", methods=["GET", "POST"])
@public
def enroll() -> Any:
    user, state = pending(db(), _member)
    if state["step"] != "enroll":
        return redirect(url_for("second_factor.code"))
    return _enroll_page(user, on_done=lambda: _finish(user, state),
                        done_next=state["next"])


@bp.route("/security", methods=["GET"])
@requires("core.account.manage")
def manage() -> Any:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return render_template(
        "account/totp_manage.html", may_enroll=totp.may_enroll(user),
        enabled=totp.is_enabled(db(), user),
        required=totp.is_required(current_brand.config, user),
        remaining=totp.remaining_recovery_codes(db(), user),
        codes_form=PasswordConfirmForm(prefix="codes"), off_form=PasswordConfirmForm(prefix="off"))


@bp.route("/security/enroll", methods=["GET", "POST"])
@requires("core.account.manage")
def manage_enroll() -> Any:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    if not totp.may_enroll(user):
        abort(404)
    if totp.is_enabled(db(), user):
        return redirect(url_for("second_factor.manage"))
    return _enroll_page(user, on_done=lambda: None, done_next=url_for("second_factor.manage"))


def _enroll_page(user: User, *, on_done: Callable[[], None], done_next: str) -> Any:
    form = CodeForm()
    factor = totp.factor_of(db(), user)
    status = 200
    if form.validate_on_submit() and factor is not None and factor.confirmed_at is None:
        try:
            codes = totp.confirm_enrollment(db(), user, form.code.data or "")
        except UserError as exc:
            form.code.errors.append(exc.message)
            status = exc.status
        else:
            audit.record_request("auth.second_factor.enrolled", actor=user)
            on_done()
            return render_template("account/totp_recovery.html", codes=codes, next=done_next)
    elif request.method == "POST":
        status = 400
    if factor is None or factor.confirmed_at is not None or request.method == "GET":
        factor = totp.start_enrollment(db(), user)
    uri = totp.provisioning_uri(factor, user, current_brand.config.name)
    return render_template("account/totp_enroll.html", form=form, qr=totp.qr_data_uri(uri),
                           secret=totp.grouped_secret(factor)), status


@bp.route("/security/disable", methods=["POST"])
@requires("core.account.manage")
def disable() -> Any:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    if totp.is_required(current_brand.config, user):
        raise UserError(_("Two-step sign-in is required for your role on %(brand)s.",
                          brand=current_brand.config.name), code="totp_required", status=403)
    form = PasswordConfirmForm(prefix="off")
    if not form.validate_on_submit():
        abort(400)
    totp.disable(db(), user, form.password.data or "")
    audit.record_request("auth.second_factor.disabled", actor=user)
    from engine.identity.auth import start_session

    start_session(user)  # this device stays signed in under the new epoch
    flash(_("Two-step sign-in is off."), "success")
    return redirect(url_for("second_factor.manage"))


@bp.route("/security/recovery-codes", methods=["POST"])
@requires("core.account.manage")
def recovery_codes() -> Any:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    form = PasswordConfirmForm(prefix="codes")
    if not form.validate_on_submit() or not totp.is_enabled(db(), user):
        abort(400)
    if not services.verify_password(user, form.password.data or ""):
        raise UserError(_("The current password is not right."), code="wrong_password",
                        field="password")
    codes = totp.new_recovery_codes(db(), user)
    audit.record_request("auth.second_factor.recovery_codes", actor=user)
    return render_template("account/totp_recovery.html", codes=codes,
                           next=url_for("second_factor.manage"))
