"""Periodic jobs of booking, run by the engine's scheduler (`cli.py scheduler`; on an rq worker
when REDIS_URL is set): passing expired waitlist holds to the next patient in line.

Mail is rendered with each brand's own app (:mod:`engine.brand_context`), as the reminder sweep
does, so a job renders and links exactly as the request that froze a slot would have.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy.orm import Session

from engine.brand_context import BrandApp, brand_apps, rendering
from modules.booking import waitlist

log = logging.getLogger(__name__)


def advance_brand_waitlists(session: Session, brands: Mapping[str, BrandApp]) -> int:
    """Run :func:`modules.booking.waitlist.advance` for each of ``brands`` with booking and its
    waitlist on, committing brand by brand; returns how many holds expired.

    ``session`` must be platform-wide (no brand). One brand's failure is logged and rolled
    back; the others still advance. Safe to run any number of times.
    """
    expired = 0
    for slug, app in sorted(brands.items()):
        settings = app.config.module_settings("booking")
        if settings is None or not getattr(settings, "waitlist", False):
            continue
        try:
            with rendering(app):
                count = waitlist.advance(session, app.config)
            session.commit()
        except Exception:  # one broken brand must not stop the others
            session.rollback()
            log.exception("advancing the waitlist of %s failed", slug)
            continue
        expired += count
    return expired


def advance_waitlists() -> int:
    """Job: offer every slot whose waitlist hold expired to the next patient in line, on every
    brand of this process with booking on. Idempotent; returns how many holds expired."""
    from engine.db import brand_session
    from engine.runtime import current

    with brand_session(current().sessions, None) as session:
        expired = advance_brand_waitlists(session, brand_apps())
    if expired:
        log.info("passed on %d expired waitlist hold(s)", expired)
    return expired
