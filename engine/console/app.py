"""Operator console app (served on ``settings.admin_hosts``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from engine.platform import Platform


def build_console_app(platform: Platform) -> Flask:
    app = Flask("daraport.console")
    return app
