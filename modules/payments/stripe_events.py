"""What each Stripe event does, through the payments services (which post the ledger).

Every handler is order-independent: it reads absolute state (the session's ``payment_status``,
the charge's refunds listed from Stripe, the account's flags with the event's ``created``) and
the services it calls are idempotent (``confirm_paid`` once, a refund or dispute once per Stripe
id). A ``charge.refunded`` delivered before ``checkout.session.completed`` first confirms the
payment from the charge (money that was refunded was received), then records the refund; the
late ``completed`` then finds it already paid.

Subscription events and subscription invoices also keep the patient's subscription record
(:mod:`modules.payments.subscriptions`), where order matters and is restored by Stripe's event
``created`` time: an event older than the record's last is ignored.

A handler returns None when it changed something, or a short reason when the event needed
nothing (recorded as "ignored", and never retried).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import stripe
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from modules.payments import connect, holds, services, subscriptions
from modules.payments.models import Payment
from modules.payments.stripe_client import client_for

if TYPE_CHECKING:
    from modules.payments.webhooks import Event

log = logging.getLogger(__name__)

Handler = Callable[[Session, BrandConfig, "Event", "stripe.StripeClient | None"], "str | None"]
PAID_STATUSES = ("paid", "partially_refunded", "refunded", "disputed")


def _metadata_payment(session: Session, brand: BrandConfig, obj: dict[str, Any]) -> Payment | None:
    metadata = obj.get("metadata") or {}
    raw = metadata.get("payment_id") if isinstance(metadata, dict) else None
    if raw is None or not str(raw).isdigit():
        return None
    return session.scalar(select(Payment).where(Payment.id == int(raw),
                                                Payment.brand_id == brand.slug))


def _by(session: Session, brand: BrandConfig, column: Any, value: Any) -> Payment | None:
    if not value:
        return None
    return session.scalar(select(Payment).where(column == value,
                                                Payment.brand_id == brand.slug))


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


def _client(brand: BrandConfig, client: stripe.StripeClient | None) -> stripe.StripeClient:
    return client or client_for(brand)


def _options(event: Event) -> dict[str, Any]:
    return {"stripe_account": event.account} if event.account else {}


def _payment_of_intent(session: Session, brand: BrandConfig, event: Event,
                       intent_id: str | None, client: stripe.StripeClient | None
                       ) -> Payment | None:
    """The payment of a PaymentIntent: stored on the payment once checkout completed, else
    re-fetched from Stripe for the metadata we put on it (an event that came first)."""
    payment = _by(session, brand, Payment.payment_intent_id, intent_id)
    if payment is not None or not intent_id:
        return payment
    try:
        intent = _client(brand, client).v1.payment_intents.retrieve(
            intent_id, options=_options(event)).to_dict()  # type: ignore[arg-type]
    except stripe.InvalidRequestError as exc:  # not visible to this brand's key: not ours
        log.info("payment intent %s not found for %s: %s", intent_id, brand.slug, exc)
        return None
    return _metadata_payment(session, brand, intent)


def _amount_matches(payment: Payment, amount: Any, currency: Any) -> bool:
    return (amount == payment.amount_minor
            and str(currency or "").upper() == payment.currency)


# --- checkout ---------------------------------------------------------------------------------


def checkout_completed(session: Session, brand: BrandConfig, event: Event,
                       client: stripe.StripeClient | None) -> str | None:
    obj = event.object
    payment = (_metadata_payment(session, brand, obj)
               or _by(session, brand, Payment.checkout_session_id, obj.get("id")))
    if payment is None:
        return "no payment of this brand for the session"
    payment.checkout_session_id = payment.checkout_session_id or obj.get("id")
    if obj.get("payment_status") not in ("paid", "no_payment_required"):
        # an asynchronous method (bank debit): async_payment_succeeded/failed follows
        payment.payment_intent_id = payment.payment_intent_id or _id(obj.get("payment_intent"))
        return "payment still processing"
    if not _amount_matches(payment, obj.get("amount_total"), obj.get("currency")):
        log.error("stripe session %s: amount %s %s differs from payment %s", obj.get("id"),
                  obj.get("amount_total"), obj.get("currency"), payment.id)
        return "amount differs from the payment"
    if payment.status in PAID_STATUSES:
        return "already paid"
    services.confirm_paid(session, brand, payment,
                          payment_intent_id=_id(obj.get("payment_intent")))
    return None


def checkout_failed(session: Session, brand: BrandConfig, event: Event,
                    client: stripe.StripeClient | None) -> str | None:
    payment = _metadata_payment(session, brand, event.object)
    if payment is None or payment.status != "held":
        return "nothing waiting for this session"
    services.record_failed(session, brand, payment)
    return None


def checkout_expired(session: Session, brand: BrandConfig, event: Event,
                     client: stripe.StripeClient | None) -> str | None:
    payment = _metadata_payment(session, brand, event.object)
    if payment is None or payment.status not in ("held", "failed"):
        return "nothing waiting for this session"
    if payment.hold_expires_at is not None and payment.hold_expires_at > clock.now():
        return "the hold expires on its own schedule"
    # the session outlives our hold by a minute (Stripe's minimum is 30): the hold has run
    # out, so free it now rather than at the next run of the expiry job
    holds.expire_brand_holds(session, brand)
    return None


def intent_failed(session: Session, brand: BrandConfig, event: Event,
                  client: stripe.StripeClient | None) -> str | None:
    payment = (_metadata_payment(session, brand, event.object)
               or _by(session, brand, Payment.payment_intent_id, event.object.get("id")))
    if payment is None or payment.status != "held":
        return "nothing waiting for this payment"
    if payment.checkout_session_id:
        # inside Checkout the patient may try another card until the session expires
        return "the patient can still retry in checkout"
    services.record_failed(session, brand, payment)
    return None


# --- money back -------------------------------------------------------------------------------


def _confirm_from_charge(session: Session, brand: BrandConfig, payment: Payment,
                         charge: dict[str, Any]) -> None:
    """A refunded or disputed charge was paid: confirm the payment if its own event is late."""
    if payment.status in PAID_STATUSES:
        payment.charge_id = payment.charge_id or _id(charge.get("id"))
        return
    if charge.get("paid") and _amount_matches(payment, charge.get("amount"),
                                              charge.get("currency")):
        services.confirm_paid(session, brand, payment,
                              payment_intent_id=_id(charge.get("payment_intent")),
                              charge_id=_id(charge.get("id")))


def charge_refunded(session: Session, brand: BrandConfig, event: Event,
                    client: stripe.StripeClient | None) -> str | None:
    charge = event.object
    payment = (_by(session, brand, Payment.charge_id, charge.get("id"))
               or _payment_of_intent(session, brand, event, _id(charge.get("payment_intent")),
                                     client))
    if payment is None:
        return "no payment of this brand for the charge"
    _confirm_from_charge(session, brand, payment, charge)
    if payment.status not in PAID_STATUSES:
        return "charge was never paid"
    # the event says how much in total; the refunds themselves (ids make each one once) are
    # listed from Stripe, so partial refunds delivered in any order add up exactly
    refunds = _client(brand, client).v1.refunds.list(
        {"charge": str(charge.get("id")), "limit": 100},
        options=_options(event))  # type: ignore[arg-type]
    changed = False
    for refund in refunds.auto_paging_iter():
        if refund.status != "succeeded":
            continue
        left = payment.amount_minor - payment.refunded_minor
        amount = min(int(refund.amount), left)
        if amount > 0:
            changed |= services.record_refund(session, brand, payment, amount, refund.id)
    return None if changed else "refunds already recorded"


def dispute_created(session: Session, brand: BrandConfig, event: Event,
                    client: stripe.StripeClient | None) -> str | None:
    dispute = event.object
    payment = (_by(session, brand, Payment.charge_id, _id(dispute.get("charge")))
               or _payment_of_intent(session, brand, event,
                                     _id(dispute.get("payment_intent")), client))
    if payment is None:
        return "no payment of this brand for the dispute"
    if payment.status not in PAID_STATUSES:
        charge = _client(brand, client).v1.charges.retrieve(
            str(_id(dispute.get("charge"))), options=_options(event))  # type: ignore[arg-type]
        _confirm_from_charge(session, brand, payment, charge.to_dict())
    amount = min(int(dispute.get("amount") or 0), payment.amount_minor - payment.refunded_minor)
    if amount <= 0:
        return "nothing left to dispute"
    recorded = services.record_refund(session, brand, payment, amount, str(dispute["id"]),
                                      kind="dispute")
    return None if recorded else "dispute already recorded"


# --- subscriptions ----------------------------------------------------------------------------


def _subscription_metadata(invoice: dict[str, Any]) -> dict[str, Any]:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    legacy = invoice.get("subscription_details") or {}  # API versions before 2025-03-31
    return details.get("metadata") or legacy.get("metadata") or {}


def _subscription_account(event: Event, first: Payment) -> str | None:
    """The connected account a subscription lives on (connect mode's direct charges), which
    calls about it must name; None for the platform account's own subscriptions."""
    if event.account:
        return event.account
    return first.provider_account if first.provider_mode == "connect" else None


def _take_subscription(session: Session, brand: BrandConfig, event: Event, first: Payment,
                       subscription_id: str | None,
                       observe: Callable[[str | None], subscriptions.Observed]) -> str | None:
    if not subscription_id or first.purpose != "subscription" or not first.offer_key:
        return "no subscription to record"
    return subscriptions.take_event(
        session, brand, first, subscription_id=subscription_id,
        account=_subscription_account(event, first), as_of=event.created_at, observe=observe,
        created=event.type == "customer.subscription.created")


def _outcome(*reasons: str | None) -> str | None:
    """None (processed) when any part changed something, else every part's reason."""
    if any(reason is None for reason in reasons):
        return None
    return "; ".join(r for r in reasons if r)


def invoice_paid(session: Session, brand: BrandConfig, event: Event,
                 client: stripe.StripeClient | None) -> str | None:
    invoice = event.object
    first = _metadata_payment(session, brand, {"metadata": _subscription_metadata(invoice)})
    if first is None:
        return "no subscription of this brand for the invoice"
    recorded = _take_subscription(session, brand, event, first,
                                  subscriptions.invoice_subscription_id(invoice),
                                  subscriptions.from_invoice(invoice, paid=True))
    return _outcome(_invoice_paid_payment(session, brand, invoice, first), recorded)


def _invoice_paid_payment(session: Session, brand: BrandConfig, invoice: dict[str, Any],
                          first: Payment) -> str | None:
    if invoice.get("billing_reason") == "subscription_create":
        if first.status in PAID_STATUSES:
            return "already paid"
        services.confirm_paid(session, brand, first)
        return None
    # a renewal: its own payment (for the ledger and the month's report) and period credit
    key = f"{brand.slug}:invoice:{invoice['id']}"
    renewal = _by(session, brand, Payment.idempotency_key, key)
    if renewal is not None and renewal.status in PAID_STATUSES:
        return "renewal already recorded"
    amount = int(invoice.get("amount_paid") or 0)
    if renewal is None:
        renewal = Payment(
            brand_id=brand.slug, purpose="subscription", patient_id=first.patient_id,
            specialist_id=first.specialist_id, payer="patient", amount_minor=amount,
            list_price_minor=amount, currency=str(invoice.get("currency", "")).upper(),
            platform_fee_minor=services.platform_fee(brand, amount),
            pricing_rule="subscription_purchase", offer_key=first.offer_key,
            provider="stripe", provider_mode=first.provider_mode,
            provider_account=first.provider_account, status="held", idempotency_key=key)
        session.add(renewal)
        session.flush()
    services.confirm_paid(session, brand, renewal)
    return None


def invoice_failed(session: Session, brand: BrandConfig, event: Event,
                   client: stripe.StripeClient | None) -> str | None:
    invoice = event.object
    first = _metadata_payment(session, brand, {"metadata": _subscription_metadata(invoice)})
    if first is None:
        return "no subscription of this brand for the invoice"
    recorded = _take_subscription(session, brand, event, first,
                                  subscriptions.invoice_subscription_id(invoice),
                                  subscriptions.from_invoice(invoice, paid=False))
    if invoice.get("billing_reason") == "subscription_create" and first.status == "held":
        services.record_failed(session, brand, first)
        return None
    return _outcome("renewal failed: no money moved; Stripe retries and ends the subscription",
                    recorded)


def subscription_changed(session: Session, brand: BrandConfig, event: Event,
                         client: stripe.StripeClient | None) -> str | None:
    sub = event.object
    first = _metadata_payment(session, brand, sub)
    if first is None:
        return "no subscription of this brand"
    seen = subscriptions.from_subscription(sub)
    recorded = _take_subscription(session, brand, event, first, _id(sub.get("id")),
                                  lambda _current: seen)
    ended = event.type == "customer.subscription.deleted" or seen.status in (
        "canceled", "incomplete_expired", "unpaid")
    if ended and first.status == "held":
        services.record_failed(session, brand, first)
        return None
    # periods are granted per paid invoice, so an ended subscription simply grants no more
    return _outcome("no change to payments", recorded)


def account_updated(session: Session, brand: BrandConfig, event: Event,
                    client: stripe.StripeClient | None) -> str | None:
    return connect.account_updated(session, brand, event.object, event.created)


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": checkout_completed,
    "checkout.session.async_payment_failed": checkout_failed,
    "checkout.session.expired": checkout_expired,
    "payment_intent.payment_failed": intent_failed,
    "charge.refunded": charge_refunded,
    "charge.dispute.created": dispute_created,
    "invoice.paid": invoice_paid,
    "invoice.payment_failed": invoice_failed,
    "customer.subscription.created": subscription_changed,
    "customer.subscription.updated": subscription_changed,
    "customer.subscription.deleted": subscription_changed,
    "account.updated": account_updated,
}
