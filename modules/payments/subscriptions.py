"""Patients' Stripe subscriptions: the record kept from Stripe's events, what the patient's page
shows of it, the patient's request to end one at the end of its period, and the console's counts.

The record follows Stripe and never leads it: only a webhook event changes its status, period or
``cancel_at_period_end``. Each event is taken in only if it is not older (Stripe's ``created``)
than the newest already taken; an ended subscription (``canceled``, ``incomplete_expired``) is
final at Stripe, so no later event brings it back. When the patient asks to cancel, Stripe is
called first; only its acceptance marks the record "cancellation requested" until the webhook
confirms, and a refusal changes nothing here.

Sessions are not granted here: each paid invoice grants its period's credit
(:mod:`modules.payments.credits`); "credits left this period" is read from those credits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.config import BrandConfig
from engine.identity.models import User
from engine.web import UserError
from modules.payments.models import Credit, Payment
from modules.payments.models_stripe import Subscription
from modules.payments.providers import ProviderError, provider_for
from modules.payments.stripe_client import is_stripe_brand

log = logging.getLogger(__name__)

# Stripe's subscription statuses; any other is stored as given and shown as unknown
STATUSES = ("active", "trialing", "past_due", "unpaid", "canceled", "incomplete",
            "incomplete_expired", "paused")
ENDED = ("canceled", "incomplete_expired")  # final at Stripe
CANCELLABLE = ("active", "trialing", "past_due", "unpaid", "paused")
STATUS_LABELS = {
    "active": _l("Active"), "trialing": _l("Free trial"),
    "past_due": _l("Payment overdue"), "unpaid": _l("Unpaid: renewals stopped"),
    "canceled": _l("Cancelled"), "incomplete": _l("Awaiting the first payment"),
    "incomplete_expired": _l("Not started: the first payment never arrived"),
    "paused": _l("Paused"),
}
UNKNOWN_LABEL = _l("Unknown")
MAX_STATUS = 40  # the column's length; Stripe's own words are far shorter


def status_label(status: str) -> str:
    """The status in plain words; a status this version does not know reads "Unknown"."""
    label = STATUS_LABELS.get(status)
    if label is None:
        log.warning("subscription status %r is unknown here: shown as unknown", status)
        return str(UNKNOWN_LABEL)
    return str(label)


# --- from Stripe's events ---------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """What one event says about a subscription (None: the event does not say)."""

    status: str | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool | None = None
    ended_at: datetime | None = None


def _when(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) and value > 0 else None


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


def from_subscription(obj: dict[str, Any]) -> Observed:
    """A Stripe subscription object: its whole state."""
    status = str(obj.get("status") or "") or None
    # the period end is on each item since API version 2025-03-31, on the object before
    end = obj.get("current_period_end")
    if not isinstance(end, int):
        items = (obj.get("items") or {}).get("data") or []
        ends = [i.get("current_period_end") for i in items if isinstance(i, dict)]
        end = max((e for e in ends if isinstance(e, int)), default=None)
    return Observed(status=status, current_period_end=_when(end),
                    cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
                    ended_at=_when(obj.get("ended_at")) if status in ENDED else None)


def invoice_subscription_id(invoice: dict[str, Any]) -> str | None:
    """The subscription an invoice bills (``parent`` since API version 2025-03-31)."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return _id(details.get("subscription")) or _id(invoice.get("subscription"))


def from_invoice(invoice: dict[str, Any], paid: bool) -> Callable[[str | None], Observed]:
    """What a subscription's paid or failed invoice implies, given the status we hold.

    An invoice carries no subscription status, so only the move Stripe makes for it is taken:
    a paid invoice makes an incomplete, overdue or unpaid subscription active; a failed first
    invoice leaves it incomplete, a failed renewal makes it overdue. The invoice's period is
    the subscription's current one. Stripe's own ``customer.subscription.updated`` follows with
    the exact state."""
    reason = str(invoice.get("billing_reason") or "")
    lines = (invoice.get("lines") or {}).get("data") or []
    ends = [(line.get("period") or {}).get("end") for line in lines if isinstance(line, dict)]
    end = max((e for e in ends if isinstance(e, int)), default=None)
    period_end = _when(end) if reason.startswith("subscription") else None

    def observe(current: str | None) -> Observed:
        if paid:
            status = "active" if current in (None, "incomplete", "past_due", "unpaid") else None
        elif reason == "subscription_create":
            status = "incomplete" if current in (None, "incomplete") else None
        else:
            status = "past_due" if current in (None, "active", "trialing") else None
        return Observed(status=status, current_period_end=period_end)

    return observe


def _row(session: Session, brand: BrandConfig, subscription_id: str) -> Subscription | None:
    # locked: two events about one subscription are taken in one after the other
    return session.scalar(select(Subscription).where(
        Subscription.brand_id == brand.slug,
        Subscription.subscription_id == subscription_id).with_for_update())


def _stored_status(status: str, subscription_id: str) -> str:
    if status not in STATUSES:
        log.warning("stripe subscription %s has status %r, unknown here: stored as given and "
                    "shown as unknown", subscription_id, status)
    return status[:MAX_STATUS]


def _create(session: Session, brand: BrandConfig, first: Payment, subscription_id: str,
            account: str | None, seen: Observed, as_of: datetime) -> Subscription | None:
    row = Subscription(
        brand_id=brand.slug, patient_id=first.patient_id, plan_key=first.offer_key,
        subscription_id=subscription_id, account_id=account,
        status=_stored_status(seen.status or "incomplete", subscription_id),
        current_period_end=seen.current_period_end,
        cancel_at_period_end=bool(seen.cancel_at_period_end), ended_at=seen.ended_at,
        last_event_at=as_of)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None  # a concurrent delivery created it first: take this event in as an update
    return row


def _apply(row: Subscription, seen: Observed, as_of: datetime) -> bool:
    before = (row.status, row.current_period_end, row.cancel_at_period_end, row.ended_at,
              row.cancel_requested_at)
    if seen.status is not None and seen.status != row.status:
        row.status = _stored_status(seen.status, row.subscription_id)
    if seen.current_period_end is not None:
        row.current_period_end = seen.current_period_end
    if seen.cancel_at_period_end is not None:
        row.cancel_at_period_end = seen.cancel_at_period_end
    if seen.ended_at is not None:
        row.ended_at = seen.ended_at
    requested = row.cancel_requested_at
    # the patient's request is settled by Stripe's word on it: confirmed (or ended), or
    # undone by an event newer than the request (the subscription was resumed)
    if requested is not None and (row.cancel_at_period_end or row.status in ENDED or (
            seen.cancel_at_period_end is False and as_of > requested)):
        row.cancel_requested_at = None
    row.last_event_at = max(row.last_event_at, as_of)
    return before != (row.status, row.current_period_end, row.cancel_at_period_end,
                      row.ended_at, row.cancel_requested_at)


def take_event(session: Session, brand: BrandConfig, first: Payment, *, subscription_id: str,
               account: str | None, as_of: datetime,
               observe: Callable[[str | None], Observed], created: bool = False) -> str | None:
    """Take one event about ``subscription_id`` (bought through ``first``, whose patient and
    plan it belongs to) into its record. None when the record changed, else why not.

    ``observe`` reads the event given the status held (None: no record yet). An event older
    than the newest taken is ignored; ``customer.subscription.created`` also yields a tie, as
    every other event of the same second happened after it."""
    row = _row(session, brand, subscription_id)
    if row is None:
        if first.restricted_at is not None:
            return "the patient's payments are restricted (erasure asked)"
        row = _create(session, brand, first, subscription_id, account, observe(None), as_of)
        if row is not None:
            return None
        row = _row(session, brand, subscription_id)
        if row is None:  # pragma: no cover - the unique index said it exists
            raise RuntimeError(f"subscription {subscription_id} vanished")
    if as_of < row.last_event_at or (created and as_of == row.last_event_at):
        return "an older event than the subscription's last"
    seen = observe(row.status)
    if row.status in ENDED and seen.status not in ENDED:
        return "the subscription has ended"
    return None if _apply(row, seen, as_of) else "no change to the subscription"


# --- the patient's page -----------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionLine:
    """One subscription as the patient's page shows it."""

    id: int
    plan: str
    status: str  # Stripe's word, or "unknown"
    label: str
    date_kind: str | None  # renews, ends, ended, or None (no date to show)
    date: datetime | None
    credits_left: int
    cancel_requested: bool
    can_cancel: bool


def _date(row: Subscription) -> tuple[str | None, datetime | None]:
    if row.status in ENDED:
        when = row.ended_at or (row.current_period_end if row.status == "canceled" else None)
        return ("ended", when) if when else (None, None)
    if row.current_period_end is None or row.status == "incomplete":
        return None, None
    return ("ends" if row.cancel_at_period_end else "renews"), row.current_period_end


def _credits_left(session: Session, brand: BrandConfig, patient_id: int,
                  keys: set[str]) -> dict[str, int]:
    now = clock.now()
    rows = session.execute(select(
        Credit.offer_key, func.sum(Credit.sessions_total - Credit.sessions_used)).where(
        Credit.brand_id == brand.slug, Credit.patient_id == patient_id,
        Credit.kind == "subscription", Credit.offer_key.in_(keys), Credit.starts_at <= now,
        Credit.expires_at > now).group_by(Credit.offer_key))
    return {key: int(left or 0) for key, left in rows}


def line_of(row: Subscription, plans: dict[str, str], credits_left: int) -> SubscriptionLine:
    kind, when = _date(row)
    requested = row.cancel_requested_at is not None and not row.cancel_at_period_end
    return SubscriptionLine(
        id=row.id, plan=plans.get(row.plan_key, row.plan_key),
        status=row.status if row.status in STATUSES else "unknown",
        label=status_label(row.status), date_kind=kind, date=when, credits_left=credits_left,
        cancel_requested=requested,
        can_cancel=(row.status in CANCELLABLE and not row.cancel_at_period_end
                    and not requested))


def of_patient(session: Session, actor: User, brand: BrandConfig) -> list[SubscriptionLine]:
    """The signed-in patient's subscriptions on ``brand``, newest first (none where the brand
    does not use Stripe: a manual brand has no subscription to show)."""
    if not is_stripe_brand(brand):
        return []
    rows = list(session.scalars(select(Subscription).where(
        Subscription.brand_id == brand.slug, Subscription.patient_id == actor.id)
        .order_by(Subscription.created_at.desc(), Subscription.id.desc())))
    if not rows:
        return []
    left = _credits_left(session, brand, actor.id, {r.plan_key for r in rows})
    plans = {p.key: p.name for p in brand.pricing.subscriptions}
    return [line_of(r, plans, left.get(r.plan_key, 0)) for r in rows]


def own_subscription(session: Session, actor: User, brand: BrandConfig,
                     subscription_id: int) -> Subscription:
    """The patient's own subscription ``subscription_id`` (404 for anyone else's, or where the
    brand does not use Stripe)."""
    row = None
    if is_stripe_brand(brand):
        row = session.scalar(select(Subscription).where(
            Subscription.id == subscription_id, Subscription.brand_id == brand.slug,
            Subscription.patient_id == actor.id))
    if row is None:
        raise UserError(str(_l("There is no such subscription here.")), code="not_found",
                        status=404)
    return row


def request_cancellation(session: Session, actor: User, brand: BrandConfig,
                         subscription_id: int) -> Subscription:
    """The patient asks Stripe to end their subscription when the paid period ends.

    Stripe is asked first; its refusal (or no answer) is a :class:`UserError` and nothing is
    written. Its acceptance only marks the request: status and ``cancel_at_period_end`` change
    when Stripe's webhook confirms."""
    from modules.payments.stripe_provider import StripeProvider

    row = own_subscription(session, actor, brand, subscription_id)
    line = line_of(row, {}, 0)
    if not line.can_cancel:
        message = (_l("Your cancellation is already requested.") if line.cancel_requested
                   else _l("This subscription is not renewing: there is nothing to cancel."))
        raise UserError(str(message), code="not_cancellable", status=409)
    provider = provider_for(brand)
    if not isinstance(provider, StripeProvider):  # pragma: no cover - is_stripe_brand checked
        raise TypeError(f"brand {brand.slug} does not use the Stripe provider")
    try:
        provider.cancel_at_period_end(brand, row.subscription_id, row.account_id)
    except ProviderError as exc:
        log.warning("cancelling subscription %s of %s failed: %s", row.subscription_id,
                    brand.slug, exc)
        raise UserError(str(_l("We could not reach our payment provider to cancel your "
                               "subscription. Nothing has changed: please try again in a few "
                               "minutes, or contact us.")),
                        code="provider_error", status=502) from exc
    row.cancel_requested_at = clock.now()
    audit.record(session, action="payments.subscription.cancel_requested", brand_id=brand.slug,
                 actor=actor, target_type="subscription", target_id=row.id,
                 patient_id=row.patient_id,
                 details={"subscription_id": row.subscription_id, "status": row.status})
    return row


# --- the operator console ---------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """A brand's subscriptions by status: counts, and the rows (overdue first)."""

    counts: list[tuple[str, int]]
    rows: list[Subscription]
    total: int


# overdue first: they need someone's attention before the rest
_ORDER = {"past_due": 0, "unpaid": 1, "incomplete": 2, "active": 3, "trialing": 4, "paused": 5,
          "canceled": 6, "incomplete_expired": 7}


def overview(session: Session, brand_id: str, status: str | None = None,
             limit: int = 200) -> Overview:
    """``brand_id``'s subscriptions counted by status, and up to ``limit`` of them (of
    ``status`` only, when given), overdue first, then by period end."""
    counted = session.execute(select(Subscription.status, func.count(Subscription.id)).where(
        Subscription.brand_id == brand_id).group_by(Subscription.status)
        .execution_options(all_brands=True)).all()
    counts = sorted(((s, int(n)) for s, n in counted), key=lambda c: (_ORDER.get(c[0], 8), c[0]))
    query = select(Subscription).where(Subscription.brand_id == brand_id)
    if status:
        query = query.where(Subscription.status == status)
    rank = case(_ORDER, value=Subscription.status, else_=len(_ORDER))
    rows = list(session.scalars(query.order_by(
        rank, Subscription.current_period_end, Subscription.id).limit(limit)
        .execution_options(all_brands=True)))
    return Overview(counts=counts, rows=rows, total=sum(n for _s, n in counts))
