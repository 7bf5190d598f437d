"""Payment pages: the patient's payments and pay step, offers (packages, subscriptions), their
Stripe subscriptions and the request to end one, the specialist's earnings, the brand staff's
payments (mark paid, refund, month-end report) and the operator console's reconciliation. Views
parse, call one service, render."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from flask import Blueprint, Flask, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from engine import clock
from engine.identity.models import User
from engine.identity.permissions import requires
from engine.web import UserError, current_brand, db, discard_writes
from modules.payments import credits, money, pricing, reports, services, subscriptions
from modules.payments.models import Payment

patient_bp = Blueprint("payments", __name__)
specialist_bp = Blueprint("payments_specialist", __name__)
org_bp = Blueprint("payments_org", __name__)

RULE_LABELS = {
    "fixed": _l("Standard price"), "specialist_defined": _l("Specialist's price"),
    "first_session": _l("First-session offer"), "sponsored": _l("Paid by your organization"),
    "member_price": _l("Member price"), "package": _l("From your package"),
    "subscription": _l("From your subscription"), "package_purchase": _l("Package"),
    "subscription_purchase": _l("Subscription"),
}
STATUS_LABELS = {
    "pending": _l("To pay at the clinic"), "held": _l("Awaiting payment"), "paid": _l("Paid"),
    "refunded": _l("Refunded"), "partially_refunded": _l("Partly refunded"),
    "disputed": _l("Disputed"),
    "failed": _l("Payment failed"), "expired": _l("Expired unpaid"), "cancelled": _l("Cancelled"),
}


def rule_label(rule: str) -> str:
    return str(RULE_LABELS.get(rule, rule))


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def _actor() -> User:
    return cast(User, current_user)


def _last_month() -> str:
    now = clock.now()
    year, month = (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
    return f"{year:04d}-{month:02d}"


def _month_arg() -> str:
    month = request.args.get("month") or _last_month()
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise UserError(_("Choose a month as YYYY-MM, e.g. 2026-10."), code="invalid",
                        field="month")
    return month


# --- helpers for the booking pages' hooks ------------------------------------------------------


def on_mount(app: Flask, ctx: object) -> None:
    """Give the booking pages' payment fragments what they show."""
    app.jinja_env.globals.update(payment_quote=_quote_for, payment_of=_payment_of,
                                 payment_rule_label=rule_label,
                                 payment_status_label=status_label)


def _quote_for(appointment_type: Any, start_at: datetime | None) -> pricing.Quote | None:
    """The price the signed-in patient would pay for ``appointment_type`` at ``start_at``."""
    brand = current_brand.config
    if start_at is None or services.payments_settings(brand) is None or \
            not current_user.is_authenticated or _actor().role != "patient":
        return None
    return pricing.quote(db(), brand, _actor(), appointment_type.price_minor,
                         appointment_type.currency, start_at)


def _payment_of(appointment: Any) -> Payment | None:
    if services.payments_settings(current_brand.config) is None:
        return None
    return services.payment_for_appointment(db(), current_brand.config, appointment.id)


# --- patient -----------------------------------------------------------------------------------


@patient_bp.route("/")
@requires("payments.payment.pay")
def index() -> Any:
    brand = current_brand.config
    services.payments_settings(brand)
    rows = list(db().scalars(select(Payment).where(
        Payment.brand_id == brand.slug, Payment.patient_id == _actor().id)
        .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(200)))
    return render_template("payments/patient/index.html", payments=rows,
                           credits=credits.credits_of(db(), brand, _actor().id),
                           packages=brand.pricing.packages
                           if brand.pricing.strategy == "package" else (),
                           plans=brand.pricing.subscriptions
                           if brand.pricing.strategy == "subscription" else (),
                           subscriptions=subscriptions.of_patient(db(), _actor(), brand),
                           to_minor=money.to_minor)


@patient_bp.route("/<int:payment_id>/pay", methods=["POST"])
@requires("payments.payment.pay")
def pay(payment_id: int) -> Any:
    """The pay step: off to the provider's page (the webhook confirms, never the return)."""
    try:
        checkout = services.start_checkout(
            db(), _actor(), current_brand.config, payment_id,
            success_url=url_for("payments.returned", payment_id=payment_id, _external=True),
            cancel_url=url_for("payments.index", _external=True))
    except UserError as exc:
        discard_writes()
        flash(exc.message, "error")
        return redirect(url_for("payments.index"))
    if checkout is None:
        flash(_("Nothing to pay online: pay at the clinic."), "info")
        return redirect(url_for("payments.index"))
    return redirect(checkout.redirect_url, code=303)


@patient_bp.route("/<int:payment_id>/returned")
@requires("payments.payment.pay")
def returned(payment_id: int) -> Any:
    """Back from the provider: shows the status as it is; only the webhook marks it paid."""
    payment = services.payment_of(db(), current_brand.config, payment_id)
    if payment.patient_id != _actor().id:
        raise UserError(_("There is no such payment here."), code="not_found", status=404)
    return render_template("payments/patient/returned.html", payment=payment)


@patient_bp.route("/offers/<kind>/<key>", methods=["POST"])
@requires("payments.payment.pay")
def buy(kind: str, key: str) -> Any:
    if kind not in ("package", "subscription"):
        raise UserError(_("There is no such offer here."), code="not_found", status=404)
    payment = credits.buy(db(), _actor(), current_brand.config, kind, key)
    if payment.status == "held":
        return pay(payment.id)
    flash(_("Your purchase is recorded: pay at the clinic to receive the sessions."), "success")
    return redirect(url_for("payments.index"))


@patient_bp.route("/subscriptions/<int:subscription_id>/cancel", methods=["GET", "POST"])
@requires("payments.payment.pay")
def cancel_subscription(subscription_id: int) -> Any:
    """Ask to end a subscription at the end of its period: a confirmation page, then the
    request to Stripe (the webhook confirms it; until then the page says it is requested)."""
    brand = current_brand.config
    if request.method == "GET":
        row = subscriptions.own_subscription(db(), _actor(), brand, subscription_id)
        plans = {p.key: p.name for p in brand.pricing.subscriptions}
        return render_template("payments/patient/cancel_subscription.html",
                               subscription=subscriptions.line_of(row, plans, 0))
    try:
        subscriptions.request_cancellation(db(), _actor(), brand, subscription_id)
    except UserError as exc:
        if exc.status == 404:
            raise
        discard_writes()
        flash(exc.message, "error")
        return redirect(url_for("payments.index"))
    flash(_("Cancellation requested: your subscription will not renew. It stays active, with "
            "its sessions, until the end of the period you have paid."), "success")
    return redirect(url_for("payments.index"))


# --- specialist --------------------------------------------------------------------------------


@specialist_bp.route("/")
@requires("payments.earnings.view")
def earnings() -> Any:
    month = _month_arg()
    report = reports.reconcile(db(), current_brand.config, month)
    line = next((s for s in report.specialists if s.specialist_id == _actor().id), None)
    return render_template("payments/specialist/earnings.html", month=month, line=line,
                           report=report, currency=report.currency)


# --- brand staff -------------------------------------------------------------------------------


@org_bp.route("/", endpoint="index")
@requires("payments.payment.manage")
def staff_index() -> Any:
    brand = current_brand.config
    status = request.args.get("status") or "open"
    query = select(Payment).where(Payment.brand_id == brand.slug)
    if status == "open":
        query = query.where(Payment.status.in_(("pending", "held", "failed")))
    rows = list(db().scalars(query.order_by(Payment.created_at.desc()).limit(200)))
    ids = {p.patient_id for p in rows} | {p.specialist_id for p in rows if p.specialist_id}
    people = {u.id: u for u in db().scalars(select(User).where(User.id.in_(ids)))}
    return render_template("payments/org/index.html", payments=rows, people=people,
                           status=status, refundable=services.refundable)


@org_bp.route("/<int:payment_id>/paid", methods=["POST"])
@requires("payments.payment.manage")
def mark_paid(payment_id: int) -> Any:
    services.mark_paid(db(), _actor(), current_brand.config, payment_id)
    flash(_("The payment is marked paid."), "success")
    return redirect(url_for("payments_org.index"))


@org_bp.route("/<int:payment_id>/refund", methods=["POST"])
@requires("payments.payment.manage")
def refund(payment_id: int) -> Any:
    brand = current_brand.config
    raw = (request.form.get("amount") or "").strip()
    amount = None
    if raw:
        try:
            amount = money.to_minor(Decimal(raw.replace(",", ".")), brand.currency)
        except (InvalidOperation, ValueError):
            flash(_("Give the amount to refund as a number, e.g. 25.00."), "error")
            return redirect(url_for("payments_org.index", status="all"))
    try:
        services.refund(db(), _actor(), brand, payment_id, amount)
    except UserError as exc:
        if exc.status == 404:
            raise
        discard_writes()
        flash(exc.message, "error")
        return redirect(url_for("payments_org.index", status="all"))
    flash(_("The refund is recorded."), "success")
    return redirect(url_for("payments_org.index", status="all"))


@org_bp.route("/reconciliation")
@requires("payments.payment.manage")
def reconciliation() -> Any:
    month = _month_arg()
    report = reports.reconcile(db(), current_brand.config, month)
    if request.args.get("format") == "csv":
        return Response(reports.to_csv(report), mimetype="text/csv", headers={
            "Content-Disposition": f"attachment; filename={report.brand}-{month}.csv"})
    return render_template("payments/reconciliation.html", report=report, month=month,
                           amount=reports.amount, layout="layout.html")
