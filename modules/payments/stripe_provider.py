"""Stripe as a payment provider: Checkout Sessions, refunds, expiring unpaid checkouts and
ending a patient's subscription at the end of its period.

Charge types, by the brand's ``payments.mode``:

- ``platform``: the Checkout Session lives on the platform account (the brand's key). When the
  specialist has an enabled connected account, it is a destination charge:
  ``payment_intent_data.transfer_data.destination`` is their account and
  ``application_fee_amount`` the platform's fee, plus ``on_behalf_of`` when the specialist is
  the merchant of record. A specialist without an enabled account is paid by the platform
  outside Stripe (their share stays owed in the ledger until a payout entry).
- ``connect``: a direct charge on the specialist's connected account (``stripe_account``
  request option, i.e. the ``Stripe-Account`` header) with ``application_fee_amount``, or
  ``subscription_data.application_fee_percent`` for subscriptions.
- ``hybrid``: per specialist; a merchant of record gets direct charges, others destination
  charges.

Every create call carries an idempotency key derived from our own ids, so a retried request
(ours or the library's) creates nothing twice. Nothing here marks a payment paid: the webhook
does (:mod:`modules.payments.webhooks`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from modules.payments.models import Payment
from modules.payments.models_stripe import StripeAccount
from modules.payments.providers import Checkout, ProviderError, RefundResult, register
from modules.payments.stripe_client import client_for

log = logging.getLogger(__name__)

# Stripe accepts a Checkout Session expiry between 30 minutes and 24 hours after creation;
# a shorter hold of ours is enforced by expiring the session (cancel_checkout).
MIN_SESSION_LIFETIME = timedelta(minutes=31)
MAX_SESSION_LIFETIME = timedelta(hours=23, minutes=59)


@dataclass(frozen=True)
class ChargePlan:
    """How one payment is charged: on which account, with which transfer and fee."""

    mode: str  # "platform" (charge on the platform account) or "connect" (direct charge)
    account: str | None  # the specialist's connected account, if any
    on_behalf_of: bool = False

    @property
    def request_options(self) -> dict[str, Any]:
        return {"stripe_account": self.account} if self.mode == "connect" else {}


def connected_account(session: Session, brand: BrandConfig,
                      specialist_id: int | None) -> StripeAccount | None:
    if specialist_id is None:
        return None
    return session.scalars(select(StripeAccount).where(
        StripeAccount.brand_id == brand.slug,
        StripeAccount.specialist_id == specialist_id)).one_or_none()


def charge_plan(session: Session, brand: BrandConfig, payment: Payment) -> ChargePlan:
    """The charge type for ``payment`` under the brand's mode and the specialist's account."""
    mode = brand.payments.mode
    account = connected_account(session, brand, payment.specialist_id)
    enabled = account is not None and account.can_charge
    if mode == "connect" or (mode == "hybrid" and enabled and account.merchant_of_record):
        if not enabled:
            raise ProviderError("This specialist cannot take online payments yet: their Stripe "
                                "account is not set up.")
        return ChargePlan("connect", account.account_id)  # type: ignore[union-attr]
    if enabled:
        return ChargePlan("platform", account.account_id,  # type: ignore[union-attr]
                          on_behalf_of=account.merchant_of_record)  # type: ignore[union-attr]
    return ChargePlan("platform", None)


def _title(brand: BrandConfig, payment: Payment) -> str:
    if payment.purpose == "subscription":
        plans = {p.key: p.name for p in brand.pricing.subscriptions}
        return plans.get(payment.offer_key or "", "Subscription")
    if payment.purpose == "package":
        offers = {p.key: p.name for p in brand.pricing.packages}
        return offers.get(payment.offer_key or "", "Package")
    return f"{brand.name} appointment"


def checkout_params(brand: BrandConfig, payment: Payment, plan: ChargePlan, *,
                    success_url: str, cancel_url: str) -> dict[str, Any]:
    """The Checkout Session parameters (pure: tested field by field)."""
    now = clock.now()
    hold = payment.hold_expires_at or now
    expires_at = min(max(hold, now + MIN_SESSION_LIFETIME), now + MAX_SESSION_LIFETIME)
    metadata = {"payment_id": str(payment.id), "brand": brand.slug}
    price_data: dict[str, Any] = {"currency": payment.currency.lower(),
                                  "unit_amount": payment.amount_minor,
                                  "product_data": {"name": _title(brand, payment)}}
    params: dict[str, Any] = {
        "success_url": success_url, "cancel_url": cancel_url,
        "client_reference_id": str(payment.id), "metadata": metadata,
        "expires_at": int(expires_at.timestamp()),
    }
    if payment.purpose == "subscription":
        price_data["recurring"] = {"interval": "month"}
        sub: dict[str, Any] = {"metadata": metadata}
        fee_percent = brand.payments.commission_percent
        if plan.account and fee_percent > 0:
            sub["application_fee_percent"] = str(fee_percent.normalize())
        if plan.mode == "platform" and plan.account:
            sub["transfer_data"] = {"destination": plan.account}
            if plan.on_behalf_of:
                sub["on_behalf_of"] = plan.account
        params.update(mode="subscription", subscription_data=sub)
    else:
        intent: dict[str, Any] = {"metadata": metadata}
        if plan.account and payment.platform_fee_minor > 0:
            intent["application_fee_amount"] = payment.platform_fee_minor
        if plan.mode == "platform" and plan.account:
            intent["transfer_data"] = {"destination": plan.account}
            if plan.on_behalf_of:
                intent["on_behalf_of"] = plan.account
        params.update(mode="payment", payment_intent_data=intent)
    params["line_items"] = [{"price_data": price_data, "quantity": 1}]
    return params


def _fail(action: str, exc: stripe.StripeError) -> ProviderError:
    # the user-facing message of a StripeError is safe for staff; the request id lets support
    # find the call in Stripe's dashboard
    log.warning("stripe %s failed: %s (request %s)", action, exc.user_message or exc,
                getattr(exc, "request_id", None))
    return ProviderError(exc.user_message or f"Stripe could not {action} ({type(exc).__name__}).")


class StripeProvider:
    name = "stripe"
    collects_online = True

    def __init__(self, http_client: stripe.HTTPClient | None = None):
        self._http_client = http_client

    def client(self, brand: BrandConfig) -> stripe.StripeClient:
        return client_for(brand, http_client=self._http_client)

    def start_checkout(self, session: Session, brand: BrandConfig, payment: Payment, *,
                       success_url: str, cancel_url: str) -> Checkout | None:
        if payment.amount_minor == 0:
            return None  # nothing to collect (sponsored, promotion, prepaid credit)
        plan = charge_plan(session, brand, payment)
        params = checkout_params(brand, payment, plan, success_url=success_url,
                                 cancel_url=cancel_url)
        options = {**plan.request_options,
                   "idempotency_key": f"checkout-{payment.idempotency_key}"}
        try:
            created = self.client(brand).v1.checkout.sessions.create(
                params,  # type: ignore[arg-type]
                options,  # type: ignore[arg-type]
            )
        except stripe.StripeError as exc:
            raise _fail("start the payment", exc) from exc
        if not created.url:
            raise ProviderError("Stripe returned a checkout without a payment page.")
        return Checkout(redirect_url=created.url, checkout_session_id=created.id,
                        payment_intent_id=_id(created.to_dict().get("payment_intent")),
                        provider_account=plan.account, provider_mode=plan.mode)

    def refund(self, session: Session, brand: BrandConfig, payment: Payment,
               amount_minor: int, *, reason: str) -> RefundResult:
        if amount_minor <= 0 or amount_minor > payment.amount_minor - payment.refunded_minor:
            raise ProviderError("The refund is more than what is left of the payment.")
        if not payment.payment_intent_id:
            raise ProviderError("This payment has not been collected through Stripe yet.")
        params: dict[str, Any] = {
            "payment_intent": payment.payment_intent_id, "amount": amount_minor,
            "reason": "requested_by_customer",
            "metadata": {"payment_id": str(payment.id), "brand": brand.slug,
                         "reason": reason[:500]},
        }
        if payment.provider_account and payment.platform_fee_minor > 0:
            params["refund_application_fee"] = True
        if payment.provider_mode == "platform" and payment.provider_account:
            params["reverse_transfer"] = True  # take the specialist's share back with it
        options: dict[str, Any] = {
            # the amount already refunded makes each successive refund its own request, while
            # a retry of the same one (same state) is answered by Stripe with the first result
            "idempotency_key": (f"refund-{payment.idempotency_key}-{payment.refunded_minor}"
                                f"-{amount_minor}")}
        if payment.provider_mode == "connect" and payment.provider_account:
            options["stripe_account"] = payment.provider_account
        try:
            refund = self.client(brand).v1.refunds.create(
                params,  # type: ignore[arg-type]
                options,  # type: ignore[arg-type]
            )
        except stripe.StripeError as exc:
            raise _fail("refund the payment", exc) from exc
        if refund.status in ("failed", "canceled"):
            raise ProviderError("Stripe refused the refund.")
        return RefundResult(reference=refund.id, amount_minor=amount_minor,
                            settled=refund.status == "succeeded")

    def cancel_checkout(self, session: Session, brand: BrandConfig, payment: Payment) -> None:
        if not payment.checkout_session_id:
            return
        options: dict[str, Any] = {}
        if payment.provider_mode == "connect" and payment.provider_account:
            options["stripe_account"] = payment.provider_account
        client = self.client(brand)
        try:
            client.v1.checkout.sessions.expire(
                payment.checkout_session_id, options=options)  # type: ignore[arg-type]
        except stripe.InvalidRequestError as exc:
            # already complete or expired: the webhook brings the outcome; nothing to stop
            log.info("checkout %s not expired: %s", payment.checkout_session_id, exc)
        except stripe.StripeError as exc:
            raise _fail("stop the payment", exc) from exc

    def cancel_at_period_end(self, brand: BrandConfig, subscription_id: str,
                             account: str | None) -> None:
        """Ask Stripe to end ``subscription_id`` when its paid period ends (nothing refunded,
        no further renewal). Nothing is changed here: the webhook brings the new state.

        No idempotency key of ours: setting the flag is idempotent by itself, and a fixed key
        would make Stripe replay a first answer to a second request after the patient (or the
        brand's staff, in Stripe's dashboard) has resumed the subscription in between."""
        options: dict[str, Any] = {"stripe_account": account} if account else {}
        try:
            self.client(brand).v1.subscriptions.update(
                subscription_id, {"cancel_at_period_end": True},
                options,  # type: ignore[arg-type]
            )
        except stripe.StripeError as exc:
            raise _fail("cancel the subscription", exc) from exc


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value.get("id")) if hasattr(value, "get") else None


register(StripeProvider())
