"""The account's API tokens page: make a token (shown once), see and revoke one's tokens."""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext as _ln
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from engine import clock
from engine.identity.models import User
from engine.identity.permissions import requires
from engine.web import UserError, current_brand, db
from modules.api import tokens

bp = Blueprint("api_tokens", __name__)


class TokenForm(FlaskForm):
    name = StringField(_l("Name (what the token is for)"),
                       validators=[DataRequired(), Length(max=80)])
    expires_in_days = SelectField(
        _l("Valid for"), coerce=int, default=90,
        choices=[SelectChoice(d, _ln("%(num)d day", "%(num)d days", d))
                 for d in tokens.EXPIRY_DAYS])


def _page(form: TokenForm, created: str | None = None, status: int = 200) -> Any:
    actor = cast(User, current_user)
    return render_template("api/tokens.html", form=form, revoke_form=FlaskForm(),
                           tokens=tokens.user_tokens(db(), actor, current_brand.config),
                           created=created, now=clock.now()), status


@bp.route("/", methods=["GET", "POST"])
@requires("api.token.manage")
def index() -> Any:
    form = TokenForm()
    if form.validate_on_submit():
        try:
            _row, raw = tokens.create_token(db(), cast(User, current_user), current_brand.config,
                                            form.name.data or "", form.expires_in_days.data)
        except UserError as exc:
            getattr(form, exc.field or "name").errors.append(exc.message)
        else:
            # Shown on this answer only (never redirected through the session cookie).
            return _page(TokenForm(formdata=None), created=raw, status=201)
    return _page(form, status=400 if form.errors else 200)


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@requires("api.token.manage")
def revoke(token_id: int) -> Any:
    form = FlaskForm()
    if not form.validate_on_submit():
        raise UserError(_("This form has expired. Reload the page and try again."),
                        code="csrf")
    tokens.revoke_token(db(), cast(User, current_user), current_brand.config, token_id)
    flash(_("The token is revoked."), "success")
    return redirect(url_for("api_tokens.index"))
