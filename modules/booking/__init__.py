"""Booking: specialists' appointment types and availability, one calendar per specialist across
every brand, and booking without double booking.

Other modules use what this package exports: :func:`available_slots` and :func:`book` from
``modules.booking.services``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, Field

from engine.config.models import Slug
from engine.modules import Module, ModuleSettings, Mount, NavEntry, Periodic
from modules.booking.questions import IntakeForm


class CancellationPolicy(BaseModel):
    """When a patient may cancel or reschedule, and what happens inside the window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    free_until_hours_before: int = Field(24, ge=0, le=24 * 14, description="cancel or "
                                         "reschedule freely until this many hours before")
    inside_window: Literal["refuse", "mark_late"] = Field(
        "mark_late", description="inside the window: refuse, or allow and mark late-cancelled")
    reschedule_inside_window: bool = Field(False, description="whether rescheduling is "
                                           "allowed inside the window")


class BookingSettings(ModuleSettings):
    max_upcoming_per_patient: int = Field(
        5, ge=1, le=100, description="requested or confirmed future appointments a patient may "
        "hold on this brand")
    cancellation: CancellationPolicy = CancellationPolicy()
    recurring_max_occurrences: int = Field(26, ge=1, le=104, description="longest recurring "
                                           "series a patient may book at once")
    waitlist: bool = Field(True, description="patients may ask to be told of earlier slots")
    waitlist_hold_minutes: int = Field(30, ge=5, le=24 * 60, description="how long a freed "
                                       "slot is held for the waitlisted patient it is offered to")
    profile_next_slots: int = Field(3, ge=0, le=10, description="next free slots shown on a "
                                    "directory profile")
    intake_forms: dict[Slug, IntakeForm] = Field(
        default_factory=dict, description="intake forms appointment types can ask patients to "
        "fill before their first session, by key")


def _module() -> Module:
    from modules.booking.cli import booking_cli
    from modules.booking.demo import demo
    from modules.booking.intake_views import bp as intake_bp
    from modules.booking.jobs import advance_waitlists
    from modules.booking.privacy import RETENTION, erase_data, export_data
    from modules.booking.reminders import sweep_reminders
    from modules.booking.views_patient import bp as patient_bp
    from modules.booking.views_recurring import bp as series_bp
    from modules.booking.views_specialist import specialist_bp

    return Module(
        name="booking",
        title="Scheduling and booking",
        requires=(),
        settings=BookingSettings,
        permissions={
            "booking.availability.manage": frozenset({"specialist"}),
            "booking.appointment.book": frozenset({"patient"}),
        },
        models="modules.booking.models",
        mounts=(Mount(patient_bp, "patient", "/appointments"),
                Mount(series_bp, "patient", "/appointments/series"),
                Mount(intake_bp, "patient", "/appointments/intake"),
                Mount(specialist_bp, "specialist", "/calendar")),
        nav=(NavEntry("patient", "booking.index", _l("My appointments"),
                      "booking.appointment.book", 20),
             NavEntry("patient", "booking_series.waitlist_index", _l("My waitlist"),
                      "booking.appointment.book", 21),
             NavEntry("specialist", "booking_specialist.week", _l("My calendar"),
                      "booking.availability.manage", 20),
             NavEntry("specialist", "booking_specialist.availability", _l("My availability"),
                      "booking.availability.manage", 21),
             NavEntry("specialist", "booking_specialist.types", _l("Appointment types"),
                      "booking.availability.manage", 22)),
        template_folder=Path(__file__).parent / "templates",
        template_hooks={"directory.profile": ("booking/_profile_book.html",),
                        "directory.list": ("booking/_directory_next_slots.html",)},
        cli=booking_cli,
        jobs=(sweep_reminders, advance_waitlists),
        periodic=(Periodic("booking.reminders", timedelta(minutes=1), sweep_reminders),
                  Periodic("booking.waitlist", timedelta(minutes=1), advance_waitlists)),
        demo=demo,
        export_data=export_data,
        erase_data=erase_data,
        retention=RETENTION,
    )


module = _module()

__all__ = ["BookingSettings", "module"]
