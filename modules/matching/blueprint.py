"""Matching views: the intake questionnaire and the shortlist."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from engine.identity.permissions import public
from engine.web import current_brand

bp = Blueprint("matching", __name__)


@bp.route("/")
@public
def index() -> Any:
    settings = current_brand.config.module_settings("matching")
    return render_template("matching/intake.html", settings=settings)
