"""Video visits: each video appointment gets a visit with a signed join link per participant,
a device check, a waiting room the specialist admits the patient from, and a 1:1 WebRTC call
(media peer-to-peer; the server only relays signaling through ``engine.broker``).

Other modules use nothing of this package; it reads booking's appointments and adds fragments
to booking's pages through template hooks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.config.models import SecretRef
from engine.modules import Module, ModuleSettings, Mount


class IceServers(BaseModel):
    """STUN/TURN servers handed to browsers. TURN passwords are never static: each browser gets
    a short-lived credential made with ``turn_secret`` (coturn's REST API scheme)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stun_urls: tuple[str, ...] = Field((), description="STUN servers, e.g. "
                                       "stun:stun.example.org:3478")
    turn_urls: tuple[str, ...] = Field((), description="TURN servers, e.g. "
                                       "turns:turn.example.org:5349?transport=tcp")
    turn_secret: SecretRef | None = Field(None, description="the TURN server's shared secret "
                                          "(coturn static-auth-secret), as env:NAME")
    credential_ttl_seconds: int = Field(3600, ge=60, le=86400, description="how long a TURN "
                                        "credential handed to a browser stays valid")

    @field_validator("stun_urls")
    @classmethod
    def _stun(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        for url in urls:
            if not re.fullmatch(r"stuns?:[^\s]+", url):
                raise ValueError(f"{url!r} is not a STUN url (stun:host:port)")
        return urls

    @field_validator("turn_urls")
    @classmethod
    def _turn(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        for url in urls:
            if not re.fullmatch(r"turns?:[^\s]+", url):
                raise ValueError(f"{url!r} is not a TURN url (turn:host:port)")
        return urls

    @model_validator(mode="after")
    def _turn_needs_secret(self) -> IceServers:
        if self.turn_urls and self.turn_secret is None:
            raise ValueError("turn_urls need turn_secret (env:NAME) for short-lived credentials")
        return self


class VideoSettings(ModuleSettings):
    join_before_minutes: int = Field(15, ge=0, le=240, description="a join link opens this "
                                     "many minutes before the appointment starts")
    join_after_minutes: int = Field(30, ge=0, le=24 * 60, description="and closes this many "
                                    "minutes after it ends")
    screen_share: bool = Field(True, description="participants may share their screen")
    admit: Literal["waiting_room", "automatic"] = Field(
        "waiting_room", description="waiting_room: the specialist admits the patient; "
        "automatic: the patient enters the call as soon as both are there")
    ice: IceServers = IceServers()


def _module() -> Module:
    from modules.video.blueprint import bp, specialist_bp
    from modules.video.data_rights import erase_data, export_data, purge_video_events
    from modules.video.demo import demo
    from modules.video.hooks import on_mount

    return Module(
        name="video",
        title="Video visits",
        requires=("booking",),
        settings=VideoSettings,
        mounts=(Mount(bp, "patient", "/video"),
                Mount(specialist_bp, "specialist", "/video")),
        permissions={
            "video.visit.join": frozenset({"patient", "specialist"}),
            "video.visit.host": frozenset({"specialist"}),
        },
        template_folder=Path(__file__).parent / "templates",
        template_hooks={
            "booking.appointment.specialist": ("video/_specialist_appointment.html",),
            "booking.appointment.patient": ("video/_patient_appointment.html",),
            "booking.mail.details": ("video/mail/_join.txt",),
        },
        models="modules.video.models",
        on_mount=on_mount,
        demo=demo,
        export_data=export_data,
        erase_data=erase_data,
        retention={"video_events": purge_video_events},
    )


module = _module()

__all__ = ["IceServers", "VideoSettings", "module"]
