"""Console pages: brands and module toggles, sign-ups, outbox, status, /healthz.

Views are thin: parse (pydantic / WTForms), call one service, render.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from wtforms import HiddenField
from wtforms.validators import AnyOf, DataRequired, Length

from engine.config.editor import EditRefused
from engine.console import reports, services
from engine.console.auth import operator_required
from engine.console.state import console_db, console_platform
from engine.identity.permissions import public

bp = Blueprint("console", __name__)
M = TypeVar("M", bound=BaseModel)


class ToggleForm(FlaskForm):
    """One module switch of one brand. ``revision`` is the file revision the operator saw."""

    enabled = HiddenField(validators=[AnyOf(["on", "off"])])
    revision = HiddenField(validators=[DataRequired(), Length(max=64)])
    confirmed = HiddenField()


class UsersQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand: str | None = Field(None, max_length=63)
    q: str = Field("", max_length=100)
    role: Literal["", "patient", "specialist", "org_admin", "affiliate"] = ""
    page: int = Field(1, ge=1, le=100_000)


class OutboxQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand: str = Field("", max_length=63)
    page: int = Field(1, ge=1, le=100_000)


def _parse(model: type[M]) -> M:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError:
        abort(400)


@bp.route("/")
@operator_required
def index() -> Any:
    return redirect(url_for("console.brands"))


def _brands_page(refusal: str | None = None, refused_brand: str | None = None,
                 status: int = 200) -> Any:
    overview = services.platform_overview(console_platform())
    return render_template("console/brands.html", overview=overview, refusal=refusal,
                           refused_brand=refused_brand), status


@bp.route("/brands")
@operator_required
def brands() -> Any:
    return _brands_page()


@bp.route("/brands/<slug>/modules/<module>", methods=["POST"])
@operator_required
def toggle_module(slug: str, module: str) -> Any:
    platform = console_platform()
    if slug not in platform.brands or module not in platform.runtime.registry:
        abort(404)
    form = ToggleForm()
    if not form.validate_on_submit():
        abort(400)
    enabled = form.enabled.data == "on"
    if not enabled and form.confirmed.data != "yes":
        # Disabling takes pages away from every user of the brand: confirm first (no JS).
        return render_template(
            "console/confirm_disable.html", brand=platform.brands[slug].loaded.config,
            module=platform.runtime.registry[module], revision=form.revision.data,
            prefixes=services.module_url_prefixes(platform, module),
            dependents=services.dependents(platform, slug, module))
    try:
        changed = services.set_brand_module(platform, current_user, slug, module, enabled,
                                            form.revision.data or "")
    except EditRefused as exc:
        return _brands_page(refusal=str(exc), refused_brand=slug, status=409)
    if changed:
        from engine import audit

        audit.record_request("config.module_toggle", brand_id=slug,
                             details={"module": module, "enabled": enabled})
    if not changed:
        flash(_("%(module)s was already %(state)s on %(brand)s; nothing was written.",
                module=module, brand=slug, state=_("on") if enabled else _("off")), "info")
    elif enabled:
        flash(_("%(module)s is now on for %(brand)s.", module=module, brand=slug), "success")
    else:
        flash(_("%(module)s is now off for %(brand)s.", module=module, brand=slug), "success")
    return redirect(url_for("console.brands", _anchor=f"brand-{slug}"), code=303)


@bp.route("/users")
@operator_required
def users() -> Any:
    query = _parse(UsersQuery)
    platform = console_platform()
    slugs = sorted(platform.brands)
    session = console_db()
    counts = reports.user_counts(session, slugs)
    listing = None
    if query.brand:
        if query.brand not in platform.brands:
            abort(404)
        listing = reports.brand_users(session, query.brand, search=query.q,
                                       role=query.role or None, page=query.page)
    return render_template("console/users.html", counts=counts, roles=reports.LISTED_ROLES,
                           operators=reports.operator_count(session), query=query,
                           listing=listing, brands=platform.brands)


@bp.route("/outbox")
@operator_required
def outbox() -> Any:
    query = _parse(OutboxQuery)
    listing = reports.outbox(console_db(), brand=query.brand or None, page=query.page)
    return render_template("console/outbox.html", listing=listing, query=query,
                           brands=sorted(console_platform().brands),
                           smtp=bool(console_platform().runtime.settings.smtp_url))


@bp.route("/outbox/<int:email_id>")
@operator_required
def outbox_email(email_id: int) -> Any:
    email = reports.outbox_email(console_db(), email_id)
    if email is None:
        abort(404)
    return render_template("console/outbox_email.html", email=email)


@bp.route("/status")
@operator_required
def status() -> Any:
    report = services.platform_status(console_db(), console_platform())
    return render_template("console/status.html", status=report), 200 if report.ok else 503


@bp.route("/healthz")
@public
def healthz() -> Any:
    report = services.health_report(console_db(), console_platform())
    resp = jsonify(report)
    resp.headers["Cache-Control"] = "no-store"
    resp.status_code = 200 if report["database"] == "ok" else 503
    return resp
