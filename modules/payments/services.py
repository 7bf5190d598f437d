"""Payment rules: price an appointment when it is booked, hold its slot while the patient pays
online (the hold expires and frees the slot), mark paid (manual) or confirm paid (a provider's
webhook: never the success page), refund under the brand's cancellation policy, record
disputes. Every movement of money is posted to the ledger in the same transaction.

Services take ``(session, actor, brand, ...)``; the caller commits, or rolls back on an error.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.web import UserError
from modules.booking.availability import BLOCKING_STATUSES
from modules.booking.models import Appointment
from modules.payments import PaymentsSettings, ledger, money, pricing
from modules.payments.models import OPEN_STATUSES, Payment
from modules.payments.providers import Checkout, ProviderError, provider_for

log = logging.getLogger(__name__)

STAFF_ROLES = ("org_admin", "coordinator", "operator")
SETTLED_STATUSES = ("paid", "partially_refunded")


def payments_settings(brand: BrandConfig) -> PaymentsSettings | None:
    """The brand's payments settings, or None where the module is off."""
    return brand.module_settings("payments")  # type: ignore[return-value]


def _require_settings(brand: BrandConfig) -> PaymentsSettings:
    settings = payments_settings(brand)
    if settings is None:
        raise UserError(str(_l("Payments are not available here.")), code="not_found",
                        status=404)
    return settings


def _require_staff(actor: User) -> None:
    if actor.role not in STAFF_ROLES:
        raise UserError(str(_l("Only the brand's staff can do this.")), code="forbidden",
                        status=403)


def platform_fee(brand: BrandConfig, amount_minor: int) -> int:
    """The brand's commission on ``amount_minor``, rounded half to even."""
    return money.percent_of(amount_minor, brand.payments.commission_percent)


def _audit(session: Session, brand: BrandConfig, action: str, payment: Payment,
           actor: User | None = None, **details: object) -> None:
    """An audit event of a money action (amounts and references only, never health data)."""
    from engine import audit

    audit.record(session, action=f"payments.{action}", brand_id=brand.slug, actor=actor,
                 target_type="payment", target_id=payment.id, patient_id=payment.patient_id,
                 details={"amount_minor": payment.amount_minor, "currency": payment.currency,
                          "status": payment.status, **details})


def payment_of(session: Session, brand: BrandConfig, payment_id: int) -> Payment:
    """The brand's payment ``payment_id`` (404 when it is not this brand's)."""
    row = session.scalar(select(Payment).where(Payment.id == payment_id,
                                               Payment.brand_id == brand.slug))
    if row is None:
        raise UserError(str(_l("There is no such payment here.")), code="not_found", status=404)
    return row


def payment_for_appointment(session: Session, brand: BrandConfig,
                            appointment_id: int) -> Payment | None:
    return session.scalar(select(Payment).where(Payment.appointment_id == appointment_id,
                                                Payment.brand_id == brand.slug))


# --- booking ----------------------------------------------------------------------------------


def _collects_online(brand: BrandConfig) -> bool:
    """Whether the brand's provider takes payment online (the slot is then held). A provider
    that is named but cannot be loaded still holds: the patient pays once it is back."""
    try:
        return provider_for(brand).collects_online
    except LookupError:
        log.error("payment provider %r of %s is not installed", brand.payments.provider,
                  brand.slug)
        return brand.payments.provider != "manual"


def _cancel_checkout(brand: BrandConfig, session: Session, payment: Payment) -> None:
    """Tell the provider an unpaid checkout is void; the slot is freed whatever it answers."""
    if payment.checkout_session_id is None:
        return
    try:
        provider_for(brand).cancel_checkout(session, brand, payment)
    except Exception:
        log.exception("cancelling the checkout of payment %s failed", payment.id)


def price_appointment(session: Session, actor: User, brand: BrandConfig,
                      appointment: Appointment) -> Payment | None:
    """Booking's listener: price the new appointment, take what its rule consumes, and create
    its payment: nothing to pay or paid by an organization (paid at once, posted to the
    ledger), pay online (the slot is *held* until ``hold_minutes`` pass), or pay at the clinic
    (*pending*). The appointment keeps its list price; the payment holds what is paid."""
    settings = payments_settings(brand)
    if settings is None:
        return None
    patient = session.get(User, appointment.patient_id)
    assert patient is not None
    quote = pricing.reserve(session, brand, patient, appointment.price_minor,
                            appointment.currency, appointment.start_at, appointment.id)
    now = clock.now()
    payment = Payment(
        brand_id=brand.slug, purpose="appointment", appointment_id=appointment.id,
        patient_id=patient.id, specialist_id=appointment.specialist_id, payer=quote.payer,
        organization=quote.organization, amount_minor=quote.amount_minor,
        list_price_minor=quote.list_price_minor, currency=quote.currency,
        platform_fee_minor=platform_fee(brand, quote.amount_minor),
        pricing_rule=quote.rule, credit_id=quote.credit_id,
        idempotency_key=f"{brand.slug}:appointment:{appointment.id}")
    if quote.amount_minor == 0 or quote.payer == "organization":
        # nothing to collect from the patient: the organization is invoiced from the report
        payment.provider, payment.status, payment.paid_at = "manual", "paid", now
    elif _collects_online(brand):
        payment.provider, payment.status = brand.payments.provider, "held"
        payment.hold_expires_at = now + timedelta(minutes=settings.hold_minutes)
    else:
        payment.provider, payment.status = brand.payments.provider, "pending"
    session.add(payment)
    session.flush()
    if payment.status == "paid":
        ledger.post_payment(session, payment)
    return payment


def start_checkout(session: Session, actor: User, brand: BrandConfig, payment_id: int, *,
                   success_url: str, cancel_url: str) -> Checkout | None:
    """Where the patient goes to pay their held payment (None: nothing to pay online)."""
    payment = payment_of(session, brand, payment_id)
    if payment.patient_id != actor.id:
        raise UserError(str(_l("There is no such payment here.")), code="not_found", status=404)
    if payment.status != "held" or (payment.hold_expires_at is not None
                                    and payment.hold_expires_at <= clock.now()):
        raise UserError(str(_l("This payment can no longer be made.")), code="not_payable",
                        status=409)
    try:
        checkout = provider_for(brand).start_checkout(session, brand, payment,
                                                      success_url=success_url,
                                                      cancel_url=cancel_url)
    except ProviderError as exc:
        raise UserError(str(_l("The payment could not be started. Please try again.")),
                        code="provider_error", status=502) from exc
    if checkout is not None:
        payment.checkout_session_id = checkout.checkout_session_id or payment.checkout_session_id
        payment.payment_intent_id = checkout.payment_intent_id or payment.payment_intent_id
        payment.provider_account = checkout.provider_account or payment.provider_account
        payment.provider_mode = checkout.provider_mode or payment.provider_mode
        session.flush()
    return checkout


# --- money in ---------------------------------------------------------------------------------


def _settle(session: Session, brand: BrandConfig, payment: Payment) -> None:
    payment.status, payment.paid_at = "paid", clock.now()
    payment.hold_expires_at = None
    session.flush()
    ledger.post_payment(session, payment)
    from modules.payments import credits  # purchases grant their sessions once paid

    credits.grant_for(session, brand, payment)


def mark_paid(session: Session, actor: User, brand: BrandConfig, payment_id: int) -> Payment:
    """Staff record that the patient paid (at the clinic, by invoice): manual payments only."""
    _require_settings(brand)
    _require_staff(actor)
    payment = payment_of(session, brand, payment_id)
    if payment.provider != "manual":
        raise UserError(str(_l("This payment is collected online; it is confirmed when the "
                               "provider reports it.")), code="not_manual", status=409)
    if payment.status not in OPEN_STATUSES:
        raise UserError(str(_l("This payment is not waiting to be paid.")),
                        code="not_payable", status=409)
    _settle(session, brand, payment)
    _audit(session, brand, "mark_paid", payment, actor)
    return payment


def confirm_paid(session: Session, brand: BrandConfig, payment: Payment, *,
                 payment_intent_id: str | None = None, charge_id: str | None = None) -> bool:
    """The provider reports the money of ``payment`` received (webhooks only: never the
    success page). Idempotent: returns False when it was already recorded.

    Money received after the hold expired (the slot was freed) is refunded in full at once.
    """
    payment.payment_intent_id = payment_intent_id or payment.payment_intent_id
    payment.charge_id = charge_id or payment.charge_id
    if payment.status not in (*OPEN_STATUSES, "expired", "failed"):
        session.flush()
        return False
    late = payment.status == "expired"
    _settle(session, brand, payment)
    _audit(session, brand, "confirm_paid", payment, provider=payment.provider)
    appointment = (session.get(Appointment, payment.appointment_id)
                   if payment.appointment_id else None)
    if late or (appointment is not None and appointment.status not in BLOCKING_STATUSES
                and appointment.status not in ("completed", "no_show")):
        _refund(session, brand, payment, payment.amount_minor, reason="hold_expired")
    return True


def record_failed(session: Session, brand: BrandConfig, payment: Payment) -> None:
    """The provider refused the payment; the hold still expires at its time (the patient may
    try again until then)."""
    if payment.status == "held":
        payment.status = "failed"
        session.flush()


# --- money out --------------------------------------------------------------------------------


def refundable(payment: Payment) -> int:
    return payment.amount_minor - payment.refunded_minor if payment.status in (
        "paid", "partially_refunded") else 0


def record_refund(session: Session, brand: BrandConfig, payment: Payment, amount_minor: int,
                  reference: str, *, kind: str = "refund") -> bool:
    """Money of ``payment`` went back to the payer (``kind`` refund, or dispute: a chargeback).
    Idempotent by ``reference``: returns False when that movement is already in the ledger."""
    if ledger.transaction_posted(session, f"{kind}:{reference}"):
        return False
    if amount_minor <= 0 or amount_minor > payment.amount_minor - payment.refunded_minor:
        raise ValueError(f"cannot give back {amount_minor} of payment {payment.id}")
    ledger.post_reversal(session, payment, amount_minor, kind=kind, reference=reference)
    payment.refunded_minor += amount_minor
    if kind == "dispute":
        payment.status = "disputed"
    else:
        payment.status = ("refunded" if payment.refunded_minor == payment.amount_minor
                          else "partially_refunded")
    session.flush()
    return True


def _refund(session: Session, brand: BrandConfig, payment: Payment, amount_minor: int, *,
            reason: str) -> None:
    if amount_minor <= 0:
        return
    try:
        result = provider_for(brand).refund(session, brand, payment, amount_minor,
                                            reason=reason)
    except ProviderError as exc:
        raise UserError(str(_l("The refund could not be made. Nothing was changed; please try "
                               "again.")), code="provider_error", status=502) from exc
    if result.settled:
        record_refund(session, brand, payment, result.amount_minor, result.reference)


def refund(session: Session, actor: User, brand: BrandConfig, payment_id: int,
           amount_minor: int | None = None, *, reason: str = "requested_by_staff") -> Payment:
    """Staff give back ``amount_minor`` (all that is left when None) of a paid payment."""
    _require_settings(brand)
    _require_staff(actor)
    payment = payment_of(session, brand, payment_id)
    left = refundable(payment)
    amount = left if amount_minor is None else amount_minor
    if left == 0:
        raise UserError(str(_l("Nothing of this payment can be refunded.")),
                        code="not_refundable", status=409)
    if amount <= 0 or amount > left:
        raise UserError(str(_l("Refund between %(low)s and %(high)s.",
                               low=money.format_minor(1, payment.currency),
                               high=money.format_minor(left, payment.currency))),
                        code="invalid_amount", field="amount")
    _refund(session, brand, payment, amount, reason=reason)
    _audit(session, brand, "refund", payment, actor, refunded_minor=amount, reason=reason)
    return payment


def cancellation_refund(brand: BrandConfig, payment: Payment, appointment: Appointment) -> int:
    """What a cancelled appointment's payment gives back under the brand's policy: everything
    for a free cancellation (and for one by the specialist or the brand), inside the window
    ``refund_inside_window`` decides (full, partial at ``partial_refund_percent``, none)."""
    settings = payments_settings(brand)
    left = refundable(payment)
    if appointment.status != "late_cancelled" or settings is None:
        return left
    if settings.refund_inside_window == "full":
        return left
    if settings.refund_inside_window == "partial":
        return min(left, money.percent_of(payment.amount_minor, settings.partial_refund_percent))
    return 0


def appointment_cancelled(session: Session, brand: BrandConfig, appointment: Appointment) -> None:
    """Booking's listener: the appointment was cancelled or its time freed. An unpaid payment
    is cancelled; a paid one is refunded under the policy. What the pricing rule consumed
    (sponsored session, credit, promotion) is given back when the payer gets everything back."""
    if payments_settings(brand) is None:
        return
    payment = payment_for_appointment(session, brand, appointment.id)
    if payment is None:
        return
    if payment.status in OPEN_STATUSES or payment.status == "failed":
        if payment.status in ("held", "failed"):
            _cancel_checkout(brand, session, payment)
        payment.status = "cancelled"
        pricing.release(session, brand, payment, appointment.start_at)
        session.flush()
        return
    if payment.status not in SETTLED_STATUSES:
        return  # refunded, disputed, expired, cancelled: nothing more to give back
    amount = cancellation_refund(brand, payment, appointment)
    settings = payments_settings(brand)
    assert settings is not None
    if appointment.status != "late_cancelled" or settings.refund_inside_window == "full":
        pricing.release(session, brand, payment, appointment.start_at)
    _refund(session, brand, payment, amount, reason="appointment_cancelled")
    if amount:
        _audit(session, brand, "refund", payment, refunded_minor=amount,
               reason="appointment_cancelled")
