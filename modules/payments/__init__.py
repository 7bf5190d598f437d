"""Payments: pricing of appointments under the brand's YAML rules, payments through a provider
(``manual``: staff mark paid; ``stripe``: see ``stripe_provider.py``), an append-only ledger in
which every cent is traceable, and month-end reconciliation reports.

Booking does not import this package: payments listens to booking's appointment hooks
(:mod:`modules.booking.hooks`), registered when this package is imported; each listener does
nothing on a brand where payments is off.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from flask_babel import lazy_gettext as _l
from pydantic import Field

from engine.modules import Module, ModuleSettings, Mount, NavEntry, Periodic


class PaymentsSettings(ModuleSettings):
    hold_minutes: int = Field(30, ge=5, le=24 * 60, description="how long a slot is held for "
                              "a patient paying online before it is freed")
    refund_inside_window: Literal["full", "partial", "none"] = Field(
        "none", description="refund of an appointment cancelled inside the booking module's "
        "cancellation window (a free cancellation, or one by the specialist, is always "
        "refunded in full)")
    partial_refund_percent: int = Field(50, ge=1, le=99, description="the share refunded when "
                                        "refund_inside_window is 'partial'")


def _module() -> Module:
    from modules.booking import hooks
    from modules.payments import data_rights, services
    from modules.payments.cli import payments_cli
    from modules.payments.connect_views import bp as stripe_connect_bp  # the Stripe half
    from modules.payments.console import console_bp
    from modules.payments.demo import demo
    from modules.payments.holds import expire_holds
    from modules.payments.views import on_mount, org_bp, patient_bp, specialist_bp
    from modules.payments.webhooks import bp as stripe_webhook_bp

    hooks.on_booked(services.price_appointment)
    hooks.on_cancelled(services.appointment_cancelled)
    return Module(
        name="payments",
        title="Payments and pricing",
        requires=("booking",),
        settings=PaymentsSettings,
        permissions={
            "payments.payment.pay": frozenset({"patient"}),
            "payments.payment.manage": frozenset({"org_admin", "coordinator"}),
            "payments.earnings.view": frozenset({"specialist"}),
            "payments.payouts.manage": frozenset({"specialist"}),  # Stripe Connect onboarding
        },
        models="modules.payments.models",
        mounts=(Mount(patient_bp, "patient", "/payments"),
                Mount(specialist_bp, "specialist", "/earnings"),
                Mount(org_bp, "org", "/payments"),
                Mount(stripe_webhook_bp, "patient", "/payments"),
                Mount(stripe_connect_bp, "specialist", "/payments/stripe")),
        nav=(NavEntry("patient", "payments.index", _l("My payments"),
                      "payments.payment.pay", 25),
             NavEntry("specialist", "payments_specialist.earnings", _l("My earnings"),
                      "payments.earnings.view", 30),
             NavEntry("org", "payments_org.index", _l("Payments"),
                      "payments.payment.manage", 30)),
        template_folder=Path(__file__).parent / "templates",
        template_hooks={"booking.book.confirm": ("payments/_quote.html",),
                        "booking.appointment.patient": ("payments/_appointment.html",),
                        "booking.appointment.specialist": ("payments/_appointment.html",)},
        cli=payments_cli,
        jobs=(expire_holds,),
        periodic=(Periodic("payments.expire-holds", timedelta(minutes=1), expire_holds),),
        on_mount=on_mount,
        demo=demo,
        console=console_bp,
        export_data=data_rights.export_data,
        erase_data=data_rights.erase_data,
    )


module = _module()

__all__ = ["PaymentsSettings", "module"]
