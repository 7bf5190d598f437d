"""Unpaid holds expire: the appointment of a payment still unpaid when its hold runs out is
cancelled and its time freed (offered to the waitlist like any freed slot).

:func:`expire_holds` is the job (idempotent; ``cli.py payments expire-holds`` runs it, and so
may a scheduler every minute); :func:`expire_brand_holds` is its per-brand service.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from modules.booking import waitlist
from modules.booking.availability import BLOCKING_STATUSES
from modules.booking.models import Appointment
from modules.payments import pricing, services
from modules.payments.models import Payment

log = logging.getLogger(__name__)


def expire_brand_holds(session: Session, brand: BrandConfig,
                       now: datetime | None = None) -> list[Payment]:
    """Expire ``brand``'s holds that ran out by ``now``: payment ``expired``, appointment
    cancelled, what the pricing rule consumed given back, the slot freed. Returns them."""
    now = now or clock.now()
    due = list(session.scalars(select(Payment).where(
        Payment.brand_id == brand.slug, Payment.status.in_(("held", "failed")),
        Payment.hold_expires_at <= now).order_by(Payment.id).with_for_update(skip_locked=True)))
    for payment in due:
        payment.status = "expired"
        services._cancel_checkout(brand, session, payment)
        services._audit(session, brand, "hold_expired", payment)
        appointment = (session.get(Appointment, payment.appointment_id)
                       if payment.appointment_id else None)
        if appointment is None:
            session.flush()
            continue
        pricing.release(session, brand, payment, appointment.start_at)
        if appointment.status in BLOCKING_STATUSES:
            appointment.status = "cancelled"
            appointment.ics_sequence += 1
            session.flush()
            waitlist.slot_freed(session, brand, appointment)
    session.flush()
    return due


def expire_holds() -> int:
    """The job: expire every brand's run-out holds, each brand in its own transaction, inside
    its app (freeing a slot may email a waitlisted patient). Returns how many expired."""
    from engine.brand_context import brand_apps, rendering
    from engine.db import brand_session
    from engine.runtime import current

    total = 0
    for slug, brand_app in brand_apps().items():
        if brand_app.config.module_settings("payments") is None:
            continue
        with rendering(brand_app), brand_session(current().sessions, slug) as session:
            try:
                total += len(expire_brand_holds(session, brand_app.config))
                session.commit()
            except Exception:
                session.rollback()
                log.exception("expiring holds of %s failed", slug)
    return total
