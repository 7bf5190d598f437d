"""The operator console's page of this module: month-end reconciliation of any brand where
payments is on, and a Stripe brand's patient subscriptions by status (mounted by the console
under ``/m/payments``)."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, render_template, request

from engine.console.auth import operator_required
from engine.console.state import console_db, console_platform
from modules.payments import reports, subscriptions
from modules.payments.stripe_client import is_stripe_brand

console_bp = Blueprint("payments_console", __name__)


@console_bp.route("/", endpoint="index")
@operator_required
def reconciliation() -> Any:
    platform = console_platform()
    brands = {slug: sb.loaded.config for slug, sb in sorted(platform.brands.items())
              if sb.loaded.config.module_settings("payments") is not None}
    slug = request.args.get("brand") or next(iter(brands), "")
    month = request.args.get("month") or ""
    report = error = None
    if slug and slug not in brands:
        abort(404)
    if slug and month:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
            error = "month"
        else:
            report = reports.reconcile(console_db(), brands[slug], month)
            if request.args.get("format") == "csv":
                return Response(reports.to_csv(report), mimetype="text/csv", headers={
                    "Content-Disposition": f"attachment; filename={slug}-{month}.csv"})
    overview = None
    if slug and is_stripe_brand(brands[slug]):
        overview = subscriptions.overview(console_db(), slug,
                                          request.args.get("subscription_status") or None)
    return render_template("payments/console_reconciliation.html", brands=brands, slug=slug,
                           month=month, report=report, error=error, amount=reports.amount,
                           subscriptions=overview,
                           subscription_status=request.args.get("subscription_status") or "",
                           status_label=subscriptions.status_label,
                           status=400 if error else 200), 400 if error else 200
