"""The patient's privacy page (``/account/privacy``): consents (give, withdraw, history), data
export and account deletion; and the consent interstitial shown when a required document has
a new version or was withdrawn. Views are thin: the rules live in the services beside them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from engine import audit
from engine.identity.auth import safe_next_target
from engine.identity.models import User
from engine.identity.permissions import requires
from engine.privacy import consent, deletion, export
from engine.privacy.models import DELETION_SCOPES
from engine.web import UserError, current_brand, db, wants_json

bp = Blueprint("privacy", __name__, url_prefix="/account/privacy",
               template_folder=str(Path(__file__).parent / "templates"))
PERMISSION = "core.portal.patient"
# pages an unconsented patient still reaches: this page, account pages, static files, health
OPEN_ENDPOINT_PREFIXES = ("privacy.", "account.", "static", "health.")
SESSION_KEY = "consent_ok"


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _brands_dir() -> Path:
    return current_brand.runtime.settings.brands_dir


def _fingerprint() -> str:
    cfg = current_brand.config
    return ",".join(f"{d.key}:{d.version}" for d in consent.required_for(cfg, "signup"))


def _interstitial() -> Any:
    """Before any other page: a patient whose signup consent is outdated or withdrawn is asked
    again. (Patients with no consent record at all were created by operators.)"""
    endpoint = request.endpoint or ""
    if (not current_user.is_authenticated or current_user.role != "patient"
            or endpoint.startswith(OPEN_ENDPOINT_PREFIXES)):
        return None
    fingerprint = _fingerprint()
    if not fingerprint or session.get(SESSION_KEY) == fingerprint:
        return None
    cfg = current_brand.config
    states = {s.document.key: s for s in consent.states(db(), _user(), cfg)}
    latest = consent.history(db(), _user(), cfg)
    recorded = {r.document_key for r in latest}
    lacking = [d for d in consent.required_for(cfg, "signup")
               if d.key in recorded and not states[d.key].granted]
    if not lacking:
        session[SESSION_KEY] = fingerprint
        return None
    if wants_json():
        raise consent.ConsentRequired(lacking, "signup")
    return redirect(url_for("privacy.consent_page", next=request.full_path.rstrip("?")
                            if request.method == "GET" else None, **{"for": "signup"}))


@bp.route("/")
@requires(PERMISSION)
def index() -> Any:
    cfg, user = current_brand.config, _user()
    return render_template(
        "privacy/index.html", states=consent.states(db(), user, cfg),
        history=consent.history(db(), user, cfg), exports=export.exports_of(db(), user),
        deletions=deletion.open_requests(db(), user), scopes=DELETION_SCOPES,
        grace_days=cfg.retention.deletion_grace_days)


@bp.route("/consent", methods=["GET", "POST"])
@requires(PERMISSION)
def consent_page() -> Any:
    """Give the consents an action needs (``?for=video``), then continue to ``next``."""
    cfg, user = current_brand.config, _user()
    action = request.values.get("for", "signup")
    if action not in consent.ACTIONS:
        abort(404)
    target = safe_next_target(request.values.get("next") or "", url_for("privacy.index"))
    needed = [s for s in consent.states(db(), user, cfg) if action in s.document.required_for]
    if request.method == "POST":
        for state in needed:
            if request.form.get(f"consent-{state.document.key}") and not state.granted:
                consent.record(db(), user, cfg, state.document.key, granted=True, method="web",
                               brands_dir=_brands_dir())
                audit.record_request("privacy.consent.grant", target_type="consent",
                                     target_id=state.document.key, patient_id=user.id)
        if not consent.missing(db(), user, cfg, action):
            session.pop(SESSION_KEY, None)
            flash(_("Thank you. Your consent is recorded."), "success")
            return redirect(target)
        flash(_("Tick each box to give your consent, or go back."), "error")
    docs = [{"state": s, "text": consent.document_text(_brands_dir(), s.document)}
            for s in needed]
    return render_template("privacy/consent.html", docs=docs, action=action, next=target), \
        200 if request.method == "GET" else 400


@bp.route("/consent/<key>/<any(grant,withdraw):verb>", methods=["POST"])
@requires(PERMISSION)
def change_consent(key: str, verb: str) -> Any:
    """One click: give or withdraw one document's consent; effective at once."""
    cfg, user = current_brand.config, _user()
    consent.record(db(), user, cfg, key, granted=verb == "grant", method="web",
                   brands_dir=_brands_dir())
    session.pop(SESSION_KEY, None)
    audit.record_request(f"privacy.consent.{verb}", target_type="consent", target_id=key,
                         patient_id=user.id)
    flash(_("Your consent is recorded.") if verb == "grant"
          else _("Your consent is withdrawn. It applies from now on."), "success")
    return redirect(url_for("privacy.index"))


@bp.route("/export", methods=["POST"])
@requires(PERMISSION)
def request_export() -> Any:
    export.request_export(db(), _user(), current_brand.config)
    flash(_("We are preparing your data. We will email you when it is ready."), "success")
    return redirect(url_for("privacy.index"))


@bp.route("/export/<int:export_id>/download", methods=["GET", "POST"])
@requires(PERMISSION)
def reauth_download(export_id: int) -> Any:
    """Re-enter the password; then a short-lived download link."""
    user, cfg = _user(), current_brand.config
    error = None
    if request.method == "POST":
        try:
            token = export.issue_link(db(), user, cfg, export_id,
                                      request.form.get("password", ""))
        except UserError as exc:
            if exc.field != "password":
                raise
            error = exc.message
        else:
            return redirect(url_for("privacy.download", export_id=export_id, token=token))
    return render_template("privacy/reauth.html", export_id=export_id, error=error), \
        401 if error else 200


@bp.route("/export/<int:export_id>/file/<token>")
@requires(PERMISSION)
def download(export_id: int, token: str) -> Any:
    row, path = export.open_download(db(), _user(), current_brand.config, export_id, token,
                                     current_brand.runtime.settings.data_dir)
    # read whole (exports are small JSON and attachments): no file handle outlives the request
    resp = send_file(io.BytesIO(path.read_bytes()), mimetype="application/zip",
                     as_attachment=True,
                     download_name=f"{current_brand.slug}-data-{row.id}.zip", max_age=0)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.route("/delete", methods=["POST"])
@requires(PERMISSION)
def request_deletion() -> Any:
    from engine.privacy.notices import notify

    user, cfg = _user(), current_brand.config
    row, token = deletion.request_deletion(db(), user, cfg, request.form.get("scope", ""))
    notify(db(), cfg, user, "deletion_confirm", scope=row.scope,
           link=url_for("privacy.confirm_deletion_link", token=token, _external=True),
           grace_days=cfg.retention.deletion_grace_days)
    flash(_("Check your email to confirm, or confirm below with your password."), "info")
    return redirect(url_for("privacy.index"))


@bp.route("/delete/confirm/<token>", methods=["GET", "POST"])
@requires(PERMISSION)
def confirm_deletion_link(token: str) -> Any:
    if request.method == "GET":
        return render_template("privacy/confirm_deletion.html", token=token)
    row = deletion.confirm_with_token(db(), _user(), current_brand.config, token)
    return _scheduled(row)


@bp.route("/delete/<int:request_id>/confirm", methods=["POST"])
@requires(PERMISSION)
def confirm_deletion(request_id: int) -> Any:
    row = deletion.confirm_with_password(db(), _user(), current_brand.config, request_id,
                                         request.form.get("password", ""))
    return _scheduled(row)


def _scheduled(row: Any) -> Any:
    from engine.privacy.notices import notify

    notify(db(), current_brand.config, _user(), "deletion_scheduled", scope=row.scope,
           execute_after=row.execute_after)
    flash(_("Confirmed. Your data will be deleted on %(date)s unless you cancel before.",
            date=row.execute_after.date().isoformat()), "success")
    return redirect(url_for("privacy.index"))


@bp.route("/delete/<int:request_id>/cancel", methods=["POST"])
@requires(PERMISSION)
def cancel_deletion(request_id: int) -> Any:
    from engine.privacy.notices import notify

    row = deletion.cancel(db(), _user(), current_brand.config, request_id)
    notify(db(), current_brand.config, _user(), "deletion_cancelled", scope=row.scope)
    flash(_("Cancelled. Nothing will be deleted."), "success")
    return redirect(url_for("privacy.index"))


def init_app(app: Flask) -> None:
    """Mount the privacy pages on a brand app, with the consent interstitial."""
    app.register_blueprint(bp)
    app.before_request(_interstitial)
