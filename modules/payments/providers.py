"""Payment providers: how a payment is collected and refunded, behind one small interface.

``manual`` (the embedded default) collects nothing online: the patient pays at the clinic or by
invoice and staff mark the payment paid. Other providers register themselves in the registry
(``register(StripeProvider())`` from ``modules/payments/stripe_provider.py``); the brand's
``payments.provider`` names the one used. Services call providers; providers never change a
payment's status themselves for money that has not moved: a provider's webhook confirms through
:func:`modules.payments.services.confirm_paid` (never the success page).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sqlalchemy.orm import Session

from engine.config import BrandConfig
from modules.payments.models import Payment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkout:
    """Where to send the patient to pay, and the provider's references to keep on the payment."""

    redirect_url: str
    checkout_session_id: str | None = None
    payment_intent_id: str | None = None
    provider_account: str | None = None
    provider_mode: str | None = None


@dataclass(frozen=True)
class RefundResult:
    """A refund the provider accepted. ``reference`` (e.g. Stripe's ``re_...``) makes the ledger
    post idempotent; ``settled`` says the money has moved (``False``: wait for the webhook,
    which calls :func:`modules.payments.services.record_refund` with the same reference)."""

    reference: str
    amount_minor: int
    settled: bool = True


class ProviderError(Exception):
    """The provider refused or failed; the message is safe to show to staff."""


@runtime_checkable
class Provider(Protocol):
    """What a payment provider does. Implementations are stateless; they read the brand's
    ``payments`` section for keys and mode."""

    name: str
    #: whether a patient pays online (the slot is held until paid or the hold expires)
    collects_online: bool

    def start_checkout(self, session: Session, brand: BrandConfig, payment: Payment, *,
                       success_url: str, cancel_url: str) -> Checkout | None:
        """Start collecting ``payment``: a :class:`Checkout` to redirect the patient to, or
        None when nothing is collected online. Must send an idempotency key derived from
        ``payment.idempotency_key``. Raises :class:`ProviderError`."""
        ...

    def refund(self, session: Session, brand: BrandConfig, payment: Payment,
               amount_minor: int, *, reason: str) -> RefundResult:
        """Give ``amount_minor`` of ``payment`` back to the payer. Raises :class:`ProviderError`."""
        ...

    def cancel_checkout(self, session: Session, brand: BrandConfig, payment: Payment) -> None:
        """Stop an unpaid checkout (its hold expired or the appointment was cancelled)."""
        ...


class ManualProvider:
    """Pay at the clinic or by invoice: staff mark payments paid; refunds are paid back by
    staff outside the platform and recorded here."""

    name = "manual"
    collects_online = False

    def start_checkout(self, session: Session, brand: BrandConfig, payment: Payment, *,
                       success_url: str, cancel_url: str) -> Checkout | None:
        return None

    def refund(self, session: Session, brand: BrandConfig, payment: Payment,
               amount_minor: int, *, reason: str) -> RefundResult:
        # the reference counts the payment's refunds so far: each manual refund is its own
        # ledger transaction, and a retry inside one unit of work is the same one
        return RefundResult(reference=f"manual-refund:{payment.id}:{payment.refunded_minor}",
                            amount_minor=amount_minor, settled=True)

    def cancel_checkout(self, session: Session, brand: BrandConfig, payment: Payment) -> None:
        return None


_providers: dict[str, Provider] = {}
# providers living in their own files, imported on first use so a missing optional
# dependency breaks only that provider
_LAZY = {"stripe": "modules.payments.stripe_provider"}


def register(provider: Provider) -> None:
    """Make ``provider`` available under ``provider.name`` (last registration wins)."""
    _providers[provider.name] = provider


def provider_named(name: str) -> Provider:
    """The provider called ``name``; LookupError if none is installed."""
    if name not in _providers and name in _LAZY:
        try:
            importlib.import_module(_LAZY[name])
        except ImportError:
            log.exception("payment provider %s could not be loaded", name)
    try:
        return _providers[name]
    except KeyError:
        raise LookupError(f"no payment provider {name!r} is installed") from None


def provider_for(brand: BrandConfig) -> Provider:
    """The provider ``brand``'s YAML names under ``payments.provider``."""
    return provider_named(brand.payments.provider)


register(ManualProvider())
