"""Payments: pricing of appointments under the brand's YAML rules, payments through a provider
(``manual``: staff mark paid; ``stripe``: see ``stripe_provider.py``), an append-only ledger in
which every cent is traceable, and month-end reconciliation reports.

Booking does not import this package: payments listens to booking's appointment hooks
(``modules.booking.hooks``), registered when this package is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from engine.modules import Module, ModuleSettings


class PaymentsSettings(ModuleSettings):
    hold_minutes: int = Field(30, ge=5, le=24 * 60, description="how long a slot is held for "
                              "a patient paying online before it is freed")
    refund_inside_window: Literal["full", "partial", "none"] = Field(
        "none", description="refund of an appointment cancelled inside the booking module's "
        "cancellation window (a free cancellation is always refunded in full)")
    partial_refund_percent: int = Field(50, ge=1, le=99, description="the share refunded when "
                                        "refund_inside_window is 'partial'")


def _module() -> Module:
    return Module(
        name="payments",
        title="Payments and pricing",
        requires=("booking",),
        settings=PaymentsSettings,
        permissions={
            "payments.payment.manage": frozenset({"org_admin", "coordinator"}),
            "payments.earnings.view": frozenset({"specialist"}),
            "payments.payment.view": frozenset({"patient"}),
        },
        models="modules.payments.models",
        template_folder=Path(__file__).parent / "templates",
    )


module = _module()

__all__ = ["PaymentsSettings", "module"]
