"""Booking's periodic jobs: the waitlist advance passes expired holds on, brand by brand, and
the scheduler runs it each tick beside the reminder sweep."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy.orm import Session

from engine import clock
from engine.brand_context import brand_apps
from engine.cli import main
from modules.booking import module
from modules.booking.jobs import advance_brand_waitlists, advance_waitlists
from tests.modules.booking.test_waitlist import (  # noqa: F401
    HOLD,
    NOW,
    Line,
    cancel,
    frozen_clock,
    line,
    offer_mails,
    offers,
)

LATER = NOW + HOLD + timedelta(minutes=1)


def test_the_waitlist_job_passes_an_expired_hold_to_the_next_in_line_by_email(
        db: Session, line: Line) -> None:  # noqa: F811
    cancel(db, line)
    assert advance_waitlists() == 0  # the hold has not expired yet
    with clock.freeze(LATER):
        assert advance_waitlists() == 1
        assert advance_waitlists() == 0  # running it again changes nothing
    assert [(o.patient_id, o.status) for o in offers(db)] == [
        (line.waiting[0].id, "expired"), (line.waiting[1].id, "held")]
    second = offer_mails(db)[-1]
    assert second.recipient == line.waiting[1].email
    assert "https://acme.localhost/appointments/series/waitlist/offer/" in second.body_text


def test_the_waitlist_job_skips_brands_whose_waitlist_is_off(
        db: Session, line: Line) -> None:  # noqa: F811
    cancel(db, line)
    apps = brand_apps()
    acme = apps["acme-clinic"]
    booking = acme.config.modules.booking.model_copy(update={"waitlist": False})
    off = acme.config.model_copy(update={"modules": acme.config.modules.model_copy(
        update={"booking": booking})})
    with clock.freeze(LATER):
        assert advance_brand_waitlists(db, {"acme-clinic": acme.__class__(
            off, acme.revision, acme.app)}) == 0
        assert [o.status for o in offers(db)] == ["held"]
        assert advance_brand_waitlists(db, apps) == 1


def test_the_manifest_registers_the_waitlist_job() -> None:
    assert advance_waitlists in module.jobs


def test_the_scheduler_advances_waitlists_each_tick(db: Session, line: Line) -> None:  # noqa: F811
    cancel(db, line)
    with clock.freeze(LATER):
        result = CliRunner().invoke(main, ["booking", "scheduler", "--interval", "1",
                                           "--max-runs", "1"])
    assert result.exit_code == 0, result.output
    assert [o.status for o in offers(db)] == ["expired", "held"]
