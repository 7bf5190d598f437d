"""What the module adds to a brand app when mounted: template helpers for the fragments it
puts on booking's pages and mail (join buttons and links, the visit's record)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_time
from flask import Flask, url_for
from flask_babel import get_locale
from flask_login import current_user

from engine.web import BrandContext, db
from modules.booking.models import Appointment
from modules.video import services


def on_mount(app: Flask, ctx: BrandContext) -> None:
    # WebSocket pings every 25 s: a call's signaling socket is quiet for long stretches, and
    # proxies close connections idle for a minute (nginx's default proxy_read_timeout).
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"ping_interval": 25})

    def video_join_url(appointment: Appointment, user_id: int | None = None,
                       external: bool = False) -> str | None:
        """The join link of ``user_id`` (default: the signed-in user) for ``appointment``, or
        None when it is not a video appointment of theirs that can still be joined."""
        if user_id is None:
            if not getattr(current_user, "is_authenticated", False):
                return None
            user_id = current_user.id
        if appointment.status in services.CANCELLED_STATUSES:
            return None
        token = services.join_token(ctx.runtime.settings.secret_key, ctx.config,
                                    appointment, user_id)
        if token is None:
            return None
        return url_for("video.room", token=token, _external=external)

    def video_window(appointment: Appointment) -> tuple[Any, Any]:
        return services.join_window(ctx.config, appointment)

    def video_record(appointment: Appointment) -> services.VisitRecord | None:
        if appointment.modality != "video":
            return None
        return services.visit_record(db(), ctx.config, appointment)

    def video_local(value: datetime, kind: str = "datetime", zone: str = "UTC") -> str:
        """An instant as the viewer reads it in ``zone``: 'time' (HH:mm) or 'datetime'."""
        locale = str(get_locale() or ctx.config.locale)
        if kind == "time":
            return format_time(value, "HH:mm", tzinfo=ZoneInfo(zone), locale=locale)
        return format_datetime(value, "EEEE d MMMM y, HH:mm", tzinfo=ZoneInfo(zone),
                               locale=locale)

    app.jinja_env.globals.update(video_join_url=video_join_url, video_window=video_window,
                                 video_record=video_record, video_local=video_local)
