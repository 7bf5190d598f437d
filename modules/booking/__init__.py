"""Booking: specialists' appointment types and availability, one calendar per specialist across
every brand, and booking without double booking.

Other modules use what this package exports: :func:`available_slots` and :func:`book` from
``modules.booking.services``.
"""

from __future__ import annotations

from pydantic import Field

from engine.modules import Module, ModuleSettings


class BookingSettings(ModuleSettings):
    max_upcoming_per_patient: int = Field(
        5, ge=1, le=100, description="requested or confirmed future appointments a patient may "
        "hold on this brand")


def _module() -> Module:
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
    )


module = _module()

__all__ = ["BookingSettings", "module"]
