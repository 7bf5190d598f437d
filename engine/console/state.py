"""Request-side helpers of the console: the platform it serves and this request's db session."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from flask import current_app, g
from sqlalchemy.orm import Session

from engine.db import brand_session

if TYPE_CHECKING:
    from engine.platform import Platform

EXTENSION = "daraport_console"


def console_platform() -> Platform:
    """The platform this console app was built for."""
    return cast("Platform", current_app.extensions[EXTENSION])


def console_db() -> Session:
    """This request's platform-wide session (operators see every brand); committed once at the
    end of the request, rolled back on an error."""
    if "console_db" not in g:
        g.console_db = brand_session(console_platform().runtime.sessions, None)
    return cast(Session, g.console_db)
