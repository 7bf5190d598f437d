"""Assisted journey: a patient (or their organization's admin) asks for help; a coordinator of
the brand allocates a specialist and books on the patient's behalf, with the reason recorded;
the patient accepts or asks for another time.

Books through ``modules.booking.services.book`` (no second availability engine).
"""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l
from pydantic import Field

from engine.modules import Module, ModuleSettings, Mount, NavEntry


class AssistedSettings(ModuleSettings):
    search_days: int = Field(21, ge=1, le=90, description="how many days ahead coordinators "
                             "see free slots for a request")
    slots_per_suggestion: int = Field(6, ge=1, le=50, description="free slots shown per "
                                      "specialist and appointment type")
    max_open_requests: int = Field(3, ge=1, le=20, description="unfinished requests a patient "
                                   "may hold at once")


def _module() -> Module:
    from modules.assisted.blueprint import bp, coordination_bp, org_bp
    from modules.assisted.privacy import RETENTION, erase_data, export_data

    return Module(
        name="assisted",
        title="Assisted booking",
        requires=("booking",),
        settings=AssistedSettings,
        mounts=(Mount(bp, "patient", "/assistance"),
                Mount(org_bp, "org", "/assistance"),
                Mount(coordination_bp, "org", "/coordination")),
        permissions={
            "assisted.request.submit": frozenset({"patient"}),
            "assisted.request.submit_for_member": frozenset({"org_admin"}),
            "assisted.queue.manage": frozenset({"coordinator"}),
        },
        nav=(NavEntry("patient", "assisted.index", _l("Assistance"),
                      "assisted.request.submit", 20),
             NavEntry("org", "assisted_org.index", _l("Request assistance"),
                      "assisted.request.submit_for_member", 20),
             NavEntry("org", "assisted_coordination.queue", _l("Coordination queue"),
                      "assisted.queue.manage", 5)),
        journeys=("assisted",),
        template_folder=Path(__file__).parent / "templates",
        models="modules.assisted.models",
        export_data=export_data,
        erase_data=erase_data,
        retention=RETENTION,
    )


module = _module()

__all__ = ["AssistedSettings", "module"]
