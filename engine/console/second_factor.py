"""The operator console's second step of sign-in: a TOTP code, or setting one up first.

Operators must have a second factor: a password alone never opens the console. The pending
state and the rules are the brands' (engine.identity.second_factor, engine.identity.totp).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from engine import audit
from engine.console.state import console_db
from engine.identity import totp
from engine.identity.auth import start_session
from engine.identity.models import PLATFORM_REALM, User
from engine.identity.permissions import public
from engine.identity.second_factor import CodeForm, check_code, pending
from engine.web import UserError

bp = Blueprint("mfa", __name__)


def _operator(user: User) -> bool:
    return user.role == "operator" and user.realm == PLATFORM_REALM


@bp.route("/signin/code", methods=["GET", "POST"])
@public
def code() -> Any:
    user, state = pending(console_db(), _operator)
    if state["step"] != "code":
        return redirect(url_for("mfa.enroll"))
    form = CodeForm()
    used, status = check_code(console_db(), user, form, PLATFORM_REALM)
    if used is not None:
        start_session(user)
        return redirect(state["next"])
    return render_template("console/totp_code.html", form=form), status


@bp.route("/signin/enroll", methods=["GET", "POST"])
@public
def enroll() -> Any:
    user, state = pending(console_db(), _operator)
    if state["step"] != "enroll":
        return redirect(url_for("mfa.code"))
    db = console_db()
    form = CodeForm()
    factor = totp.factor_of(db, user)
    status = 200
    if form.validate_on_submit() and factor is not None and factor.confirmed_at is None:
        try:
            codes = totp.confirm_enrollment(db, user, form.code.data or "")
        except UserError as exc:
            form.code.errors.append(exc.message)
            status = exc.status
        else:
            audit.record_request("auth.second_factor.enrolled", actor=user)
            start_session(user)
            return render_template("console/totp_recovery.html", codes=codes,
                                   next=state["next"])
    elif request.method == "POST":
        status = 400
    if factor is None or factor.confirmed_at is not None or request.method == "GET":
        factor = totp.start_enrollment(db, user)
    uri = totp.provisioning_uri(factor, user, "Daraport console")
    return render_template("console/totp_enroll.html", form=form, qr=totp.qr_data_uri(uri),
                           secret=totp.grouped_secret(factor)), status
