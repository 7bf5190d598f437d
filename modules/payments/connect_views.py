"""Specialist portal: set up (and check) the Stripe account the specialist is paid through.

``/specialist/payments/stripe/``: status page; POST ``onboard`` sends the specialist to Stripe's
hosted onboarding; Stripe sends them back to ``return`` (status re-read from Stripe) or, when
the link expired, to ``refresh`` (a fresh link). The status is kept current by the
``account.updated`` webhook as well; the return page is never what enables charges.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from engine import audit
from engine.identity.models import User
from engine.identity.permissions import requires
from engine.web import current_brand, db
from modules.payments import connect
from modules.payments.stripe_client import is_configured, is_stripe_brand

bp = Blueprint("payments_stripe_connect", __name__)
PERMISSION = "payments.payouts.manage"

STATUS_NAMES = {"pending": _l("Set-up not finished"),
                "restricted": _l("Stripe needs more information"),
                "enabled": _l("Ready to receive payments"),
                "rejected": _l("Refused by Stripe")}


def _actor() -> User:
    return cast(User, current_user)


def _links() -> dict[str, str]:
    return {"return_url": url_for(".back", _external=True),
            "refresh_url": url_for(".again", _external=True)}


@bp.get("/")
@requires(PERMISSION)
def status() -> Any:
    brand = current_brand.config
    if not is_stripe_brand(brand):
        abort(404)
    account = connect.account_of(db(), brand, _actor())
    return render_template("payments/stripe_connect.html", account=account,
                           status_names=STATUS_NAMES, mode=brand.payments.mode,
                           available=is_configured(brand))


@bp.post("/onboard")
@requires(PERMISSION)
def onboard() -> Any:
    account = connect.ensure_account(db(), _actor(), current_brand.config)
    url = connect.onboarding_link(db(), _actor(), current_brand.config, **_links())
    audit.record_request("payments.stripe.onboarding", target_type="stripe_account",
                         target_id=account.account_id)
    return redirect(url, code=303)


@bp.get("/refresh")
@requires(PERMISSION)
def again() -> Any:
    # Stripe's refresh_url is a GET by design (the previous link expired or was used): the
    # account exists already, so this only asks for a new single-use link
    url = connect.onboarding_link(db(), _actor(), current_brand.config, **_links())
    return redirect(url, code=303)


@bp.get("/return")
@requires(PERMISSION)
def back() -> Any:
    account = connect.refresh(db(), _actor(), current_brand.config)
    if account is not None and account.status == "enabled":
        flash(_("Your Stripe account is ready: you can receive payments."), "success")
    else:
        flash(_("Your Stripe set-up is not finished yet. You can continue it at any time."),
              "info")
    return redirect(url_for(".status"), code=303)


@bp.post("/merchant")
@requires(PERMISSION)
def merchant() -> Any:
    choice = request.form.get("merchant_of_record")
    if choice not in ("yes", "no"):
        flash(_("Choose whether you charge patients in your own name."), "error")
        return redirect(url_for(".status"), code=303)
    account = connect.set_merchant_of_record(db(), _actor(), current_brand.config,
                                             choice == "yes")
    audit.record_request("payments.stripe.merchant_of_record", target_type="stripe_account",
                         target_id=account.account_id, details={"merchant": choice == "yes"})
    flash(_("Your choice is saved."), "success")
    return redirect(url_for(".status"), code=303)
