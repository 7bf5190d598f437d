"""Secure messaging: threads between a patient and a specialist they have (or had) an appointment
with on this brand, and between a patient and the brand's care team (its coordinators).

Messages may carry attachments of an allow-listed type (checked by content), stored encrypted
outside the web root and served only through an authorized download. Unread counts show in the
portal navigation; new messages appear without a reload (a small JSON endpoint polled by
``static/messaging.js``, which the engine serves at ``/static/m/messaging/messaging.js``);
recipients get an email that never carries the message.

Requires nothing but accounts. Where booking is enabled on the brand, its appointments decide who
may open a specialist thread (read through ``modules.booking.models`` only then).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from flask_babel import lazy_gettext as _l
from pydantic import Field

from engine.modules import Module, ModuleSettings, Mount, NavEntry, Periodic

# Types an attachment may have, recognized by content; a brand allows a subset.
AttachmentType = Literal["pdf", "png", "jpeg", "webp", "gif", "txt"]


class MessagingSettings(ModuleSettings):
    attachment_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, le=15 * 1024 * 1024, description="largest attachment, in "
        "bytes (at most 15 MB: a request carries at most 16 MB)")
    attachments_per_message: int = Field(3, ge=0, le=10, description="attachments one "
                                         "message may carry (0: no attachments)")
    allowed_types: tuple[AttachmentType, ...] = Field(
        ("pdf", "png", "jpeg", "webp"), min_length=1, description="attachment types accepted, "
        "recognized by their content (never by name or declared type)")
    notify_by_email: bool = Field(True, description="whether users get an email (without the "
                                  "message) when a message arrives, until they turn it off")
    care_team: bool = Field(True, description="patients may write to the brand's care team "
                            "(its coordinators)")
    poll_seconds: int = Field(15, ge=5, le=300, description="how often an open page asks for "
                              "new messages")


def _module() -> Module:
    from modules.messaging import data_rights
    from modules.messaging.attachments import sweep_orphan_files
    from modules.messaging.blueprint import (
        care_team_bp,
        on_mount,
        patient_bp,
        specialist_bp,
    )
    from modules.messaging.demo import demo
    from modules.messaging.nav import unread_badge

    return Module(
        name="messaging",
        title="Secure messaging",
        requires=(),
        settings=MessagingSettings,
        mounts=(Mount(patient_bp, "patient", "/messages"),
                Mount(specialist_bp, "specialist", "/messages"),
                Mount(care_team_bp, "org", "/messages")),
        permissions={
            "messaging.patient": frozenset({"patient"}),
            "messaging.specialist": frozenset({"specialist"}),
            "messaging.care_team": frozenset({"coordinator"}),
        },
        nav=(NavEntry("patient", "messaging.index", _l("Messages"), "messaging.patient", 30,
                      badge=unread_badge),
             NavEntry("specialist", "messaging_specialist.index", _l("Messages"),
                      "messaging.specialist", 30, badge=unread_badge),
             NavEntry("org", "messaging_care_team.index", _l("Messages"),
                      "messaging.care_team", 30, badge=unread_badge)),
        template_folder=Path(__file__).parent / "templates",
        template_hooks={"booking.appointment.specialist": ("messaging/_appointment_thread.html",)},
        models="modules.messaging.models",
        on_mount=on_mount,
        demo=demo,
        export_data=data_rights.export_data,
        erase_data=data_rights.erase_data,
        retention={"messages": data_rights.purge_messages,
                   "attachments": data_rights.purge_attachments},
        periodic=(Periodic("messaging.orphan-files", timedelta(days=1), sweep_orphan_files),),
    )


module = _module()

__all__ = ["MessagingSettings", "module"]
