"""Console: legal holds (operators only). Placing or releasing one needs a reason and is
audited; a hold blocks deletion and retention for one user or a whole brand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import audit
from engine.console.auth import operator_required
from engine.console.state import console_db, console_platform
from engine.privacy import holds
from engine.web import UserError

bp = Blueprint("console_privacy", __name__, url_prefix="/privacy",
               template_folder=str(Path(__file__).parent / "templates"))


def _operator() -> Any:
    return current_user._get_current_object()  # type: ignore[attr-defined]


@bp.route("/holds")
@operator_required
def holds_index() -> Any:
    return render_template("privacy_console/holds.html", holds=holds.active_holds(console_db()),
                           brands=sorted(console_platform().brands), error=None)


@bp.route("/holds", methods=["POST"])
@operator_required
def place_hold() -> Any:
    brand = request.form.get("brand", "")
    raw_user = request.form.get("user_id", "").strip()
    session = console_db()
    try:
        if brand not in console_platform().brands:
            raise UserError(_("Choose a brand."), field="brand")
        if raw_user and not raw_user.isdigit():
            raise UserError(_("A user id is a number."), field="user_id")
        row = holds.place(session, _operator(), brand, request.form.get("reason", ""),
                          user_id=int(raw_user) if raw_user else None)
    except UserError as exc:
        return render_template("privacy_console/holds.html", holds=holds.active_holds(session),
                               brands=sorted(console_platform().brands),
                               error=exc.message), 400
    audit.record_request("privacy.hold.place", brand_id=brand, target_type="legal_hold",
                         target_id=row.id, patient_id=row.user_id)
    flash(_("Legal hold placed."), "success")
    return redirect(url_for("console_privacy.holds_index"))


@bp.route("/holds/<int:hold_id>/release", methods=["POST"])
@operator_required
def release_hold(hold_id: int) -> Any:
    row = holds.release(console_db(), _operator(), hold_id)
    audit.record_request("privacy.hold.release", brand_id=row.brand_id,
                         target_type="legal_hold", target_id=row.id, patient_id=row.user_id)
    flash(_("Legal hold released."), "success")
    return redirect(url_for("console_privacy.holds_index"))
