"""Specialist onboarding to Stripe Connect: a connected account per specialist per brand, an
account link to Stripe's hosted onboarding, and the account's status kept from
``account.updated`` (or re-fetched when the specialist comes back from Stripe).

Services take ``(session, actor, brand, ...)``; the portal views are in ``connect_views.py``.
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.web import UserError
from modules.payments.models_stripe import StripeAccount
from modules.payments.stripe_client import client_for, is_stripe_brand

log = logging.getLogger(__name__)

# how long Stripe's answer to one "create an account link" request is reused on a retry (an
# account link is single-use and short-lived, so a new minute asks for a fresh one)
LINK_KEY_SECONDS = 60


def _refuse_unless_stripe(brand: BrandConfig) -> None:
    if not is_stripe_brand(brand):
        raise UserError(str(_l("This site does not take payments through Stripe.")),
                        code="not_stripe", status=404)


def account_of(session: Session, brand: BrandConfig, specialist: User) -> StripeAccount | None:
    """The specialist's connected account on ``brand``, if they started onboarding."""
    return session.scalars(select(StripeAccount).where(
        StripeAccount.brand_id == brand.slug,
        StripeAccount.specialist_id == specialist.id)).one_or_none()


def status_of(account: dict[str, Any]) -> str:
    """Our status for a Stripe account object: pending, restricted, enabled or rejected."""
    requirements = account.get("requirements") or {}
    disabled = requirements.get("disabled_reason") or ""
    if disabled.startswith("rejected"):
        return "rejected"
    if account.get("charges_enabled") and account.get("payouts_enabled"):
        return "enabled"
    if not account.get("details_submitted"):
        return "pending"
    return "restricted"


def apply_account(row: StripeAccount, account: dict[str, Any], as_of: int) -> bool:
    """Take ``account``'s state into ``row`` unless ``row`` already holds a newer one (``as_of``
    is the Stripe ``created`` of the event, or the time of a re-fetch). True if applied."""
    if as_of < (row.status_as_of or 0):
        return False
    due = (account.get("requirements") or {}).get("currently_due") or []
    row.status = status_of(account)
    row.charges_enabled = bool(account.get("charges_enabled"))
    row.payouts_enabled = bool(account.get("payouts_enabled"))
    row.details_submitted = bool(account.get("details_submitted"))
    row.requirements_due = ",".join(str(f) for f in due)[:2000]
    row.status_as_of = as_of
    return True


def ensure_account(session: Session, actor: User, brand: BrandConfig, *,
                   client: stripe.StripeClient | None = None) -> StripeAccount:
    """The specialist's connected account on ``brand``, created at Stripe on first use.

    The create call's idempotency key is (brand, specialist): a double click or a retry after a
    lost answer gets the same Stripe account back, never a second one.
    """
    _refuse_unless_stripe(brand)
    existing = account_of(session, brand, actor)
    if existing is not None:
        return existing
    client = client or client_for(brand)
    params: dict[str, Any] = {
        "controller": {"stripe_dashboard": {"type": "express"},
                       "fees": {"payer": "application"},
                       "losses": {"payments": "application"}},
        "capabilities": {"card_payments": {"requested": True},
                         "transfers": {"requested": True}},
        "email": actor.email,
        "metadata": {"brand": brand.slug, "specialist_id": str(actor.id)},
    }
    try:
        created = client.v1.accounts.create(
            params,  # type: ignore[arg-type]
            {"idempotency_key": f"account-{brand.slug}-{actor.id}"})
    except stripe.StripeError as exc:
        log.warning("stripe account create failed for %s: %s", actor.id, exc)
        raise UserError(str(_l("Stripe could not start your set-up. Please try again in a "
                               "moment.")), code="stripe_error", status=502) from exc
    row = StripeAccount(brand_id=brand.slug, specialist_id=actor.id, account_id=created.id,
                        status_as_of=0, merchant_of_record=False)
    apply_account(row, created.to_dict(), 0)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a parallel request stored it first: the same account
        found = account_of(session, brand, actor)
        assert found is not None
        return found
    return row


def onboarding_link(session: Session, actor: User, brand: BrandConfig, *, return_url: str,
                    refresh_url: str, client: stripe.StripeClient | None = None) -> str:
    """A fresh Stripe-hosted onboarding link for the specialist (creating the account first)."""
    client = client or client_for(brand)
    account = ensure_account(session, actor, brand, client=client)
    minute = int(clock.now().timestamp()) // LINK_KEY_SECONDS
    try:
        link = client.v1.account_links.create(
            {"account": account.account_id, "type": "account_onboarding",
             "return_url": return_url, "refresh_url": refresh_url,
             "collection_options": {"fields": "eventually_due"}},
            {"idempotency_key": f"account-link-{account.account_id}-{minute}"})
    except stripe.StripeError as exc:
        log.warning("stripe account link failed for %s: %s", account.account_id, exc)
        raise UserError(str(_l("Stripe could not open your set-up. Please try again in a "
                               "moment.")), code="stripe_error", status=502) from exc
    return str(link.url)


def refresh(session: Session, actor: User, brand: BrandConfig, *,
            client: stripe.StripeClient | None = None) -> StripeAccount | None:
    """Re-read the specialist's account from Stripe (they came back from onboarding)."""
    _refuse_unless_stripe(brand)
    row = account_of(session, brand, actor)
    if row is None:
        return None
    client = client or client_for(brand)
    try:
        account = client.v1.accounts.retrieve(row.account_id)
    except stripe.StripeError as exc:
        log.warning("stripe account retrieve failed for %s: %s", row.account_id, exc)
        return row  # the page shows the last known status; account.updated will follow
    apply_account(row, account.to_dict(), int(clock.now().timestamp()))
    return row


def set_merchant_of_record(session: Session, actor: User, brand: BrandConfig,
                           merchant: bool) -> StripeAccount:
    """Whether the specialist charges patients in their own name (platform and hybrid modes)."""
    _refuse_unless_stripe(brand)
    if brand.payments.mode == "connect":
        raise UserError(str(_l("On this site you always charge patients in your own name.")),
                        code="not_applicable")
    row = account_of(session, brand, actor)
    if row is None:
        raise UserError(str(_l("Set up your Stripe account first.")), code="no_account")
    row.merchant_of_record = merchant
    return row


def account_updated(session: Session, brand: BrandConfig, account: dict[str, Any],
                    created: int) -> str | None:
    """Webhook effect of ``account.updated``; a reason string when there was nothing to do."""
    row = session.scalars(select(StripeAccount).where(
        StripeAccount.brand_id == brand.slug,
        StripeAccount.account_id == account.get("id"))).one_or_none()
    if row is None:
        return "unknown account"
    if not apply_account(row, account, created):
        return "older than the stored state"
    return None
