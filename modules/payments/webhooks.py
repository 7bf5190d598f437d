"""Stripe webhooks, one endpoint per brand: ``POST /payments/stripe/webhook`` on the brand's host.

1. The signature is verified on the raw body with the brand's webhook secret (the official
   library's HMAC check), and its timestamp against :func:`engine.clock.now` with a tolerance
   of 300 s; a bad signature, a stale timestamp or malformed JSON is refused with 400.
2. An event about another brand's connected account or another brand's payment is ignored
   (200, nothing written): each brand's endpoint sees only its own money.
3. The event id is inserted (unique) first, in the same transaction as the event's effect; a
   redelivered event finds it taken and changes nothing. Two deliveries racing each other meet
   on the unique index and the second one rolls back.
4. Handlers are order-independent (:mod:`modules.payments.stripe_events`): they read absolute
   state (amount refunded so far, the account's flags with the event's ``created``) or re-fetch
   the object from Stripe, never "apply a delta".

The answer is quick: handlers touch a handful of rows and call Stripe only when an object cannot
be placed from the event itself.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from flask import Blueprint, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.config import BrandConfig
from engine.identity.permissions import public
from engine.web import current_brand, db, discard_writes, problem
from modules.payments.models_stripe import StripeAccount, StripeEvent
from modules.payments.stripe_client import StripeNotConfigured, webhook_secret

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 512 * 1024  # Stripe's events are far smaller; anything bigger is not Stripe


class BadWebhook(Exception):
    """The request is not a genuine, well-formed, fresh Stripe event (answered 400)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Event:
    """A verified event, reduced to what handlers need."""

    id: str
    type: str
    created: int
    account: str | None  # the connected account it happened on, if any
    object: dict[str, Any]
    previous: dict[str, Any]

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created, UTC)


@dataclass(frozen=True)
class Outcome:
    status: str  # processed, duplicate, ignored
    reason: str = ""


def verify(payload: bytes, signature: str | None, secret: str) -> Event:
    """The event in ``payload`` if its signature is good and fresh; :class:`BadWebhook`."""
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=None)
    except stripe.SignatureVerificationError as exc:
        raise BadWebhook("bad_signature", "signature does not match") from exc
    except UnicodeDecodeError as exc:
        raise BadWebhook("malformed", "body is not UTF-8") from exc
    match = re.search(r"(?:^|,)t=(\d+)", signature or "")
    if not match or abs(clock.now().timestamp() - int(match.group(1))) > TOLERANCE_SECONDS:
        raise BadWebhook("stale", f"timestamp outside the {TOLERANCE_SECONDS} s tolerance")
    return parse(payload)


def parse(payload: bytes) -> Event:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadWebhook("malformed", "body is not JSON") from exc
    if not isinstance(data, dict) or data.get("object") != "event":
        raise BadWebhook("malformed", "body is not a Stripe event")
    inner = data.get("data")
    obj = inner.get("object") if isinstance(inner, dict) else None
    if (not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str)
            or not isinstance(data.get("created"), int) or not isinstance(obj, dict)):
        raise BadWebhook("malformed", "event lacks id, type, created or data.object")
    account = data.get("account")
    previous = inner.get("previous_attributes") if isinstance(inner, dict) else None
    return Event(id=data["id"], type=data["type"], created=data["created"],
                 account=account if isinstance(account, str) else None, object=obj,
                 previous=previous if isinstance(previous, dict) else {})


def belongs_to(session: Session, brand: BrandConfig, event: Event) -> bool:
    """Whether the event is this brand's: its connected account is one of the brand's, and any
    brand named in the object's metadata is this one."""
    if event.account is not None:
        owner = session.scalar(select(StripeAccount.brand_id).where(
            StripeAccount.account_id == event.account).execution_options(all_brands=True))
        # account.updated for an account we have not stored yet cannot be anyone's: ignored
        if owner != brand.slug:
            return False
    metadata = event.object.get("metadata")
    named = metadata.get("brand") if isinstance(metadata, dict) else None
    return named in (None, brand.slug)


def process(session: Session, brand: BrandConfig, payload: bytes, signature: str | None,
            *, client: stripe.StripeClient | None = None) -> Outcome:
    """Verify and apply one delivery, in ``session``'s transaction (the caller commits)."""
    from modules.payments import stripe_events

    event = verify(payload, signature, webhook_secret(brand))
    if event.type not in stripe_events.HANDLERS:
        return Outcome("ignored", f"event type {event.type} is not handled")
    if not belongs_to(session, brand, event):
        log.info("stripe event %s (%s) belongs to another brand than %s", event.id,
                 event.account, brand.slug)
        return Outcome("ignored", "another brand's event")
    if session.scalar(select(StripeEvent.id).where(StripeEvent.event_id == event.id)
                      .execution_options(all_brands=True)) is not None:
        return Outcome("duplicate")
    record = StripeEvent(brand_id=brand.slug, event_id=event.id, type=event.type,
                         account_id=event.account, object_id=_object_id(event),
                         outcome="processed", event_created_at=event.created_at)
    session.add(record)
    try:
        # takes the unique event id first: a twin delivery racing this one waits on the index
        # until this transaction ends, then fails here and changes nothing
        session.flush()
    except IntegrityError:
        session.rollback()  # the event row is the first write of the unit of work
        return Outcome("duplicate")
    # an exception from here on rolls back the event row with the effect: Stripe redelivers
    result = stripe_events.HANDLERS[event.type](session, brand, event, client)
    if result:
        record.outcome = "ignored"
        log.info("stripe event %s ignored: %s", event.id, result)
    return Outcome("processed" if record.outcome == "processed" else "ignored", result or "")


def _object_id(event: Event) -> str | None:
    value = event.object.get("id")
    return str(value)[:255] if value is not None else None


bp = Blueprint("payments_stripe_webhook", __name__)


@bp.post("/stripe/webhook")
@public  # Stripe is not a signed-in user: the signature is its credential
def receive() -> Any:
    brand = current_brand.config
    if brand.payments.provider != "stripe":
        return problem(404, "not_found", "Not found")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return problem(413, "too_large", "Payload too large")
    request.max_content_length = MAX_BODY_BYTES  # also caps a chunked body while it is read
    payload = request.get_data(cache=False)
    try:
        outcome = process(db(), brand, payload, request.headers.get("Stripe-Signature"))
    except BadWebhook as exc:
        log.warning("stripe webhook refused on %s: %s", brand.slug, exc.message)
        # a forged or replayed delivery is a security event (written despite the rollback)
        audit.record_request("payments.stripe.webhook", outcome="denied", actor=None,
                             details={"code": exc.code})
        return {"error": exc.code, "message": exc.message}, 400
    except StripeNotConfigured as exc:
        log.error("stripe webhook on %s: %s", brand.slug, exc)
        return {"error": "not_configured", "message": "webhook secret not configured"}, 503
    except stripe.StripeError as exc:  # a re-fetch failed: nothing is kept, Stripe redelivers
        discard_writes()
        log.warning("stripe webhook on %s could not re-fetch: %s", brand.slug, exc)
        return {"error": "stripe_unavailable", "message": "try again later"}, 503
    return {"status": outcome.status, "reason": outcome.reason}, 200


@bp.record_once
def _exempt_from_csrf(state: BlueprintSetupState) -> None:
    # Stripe cannot send a CSRF token: the signature protects this route. Brand apps set up
    # CSRFProtect before they register module blueprints.
    state.app.extensions["csrf"].exempt(f"{receive.__module__}.{receive.__name__}")
