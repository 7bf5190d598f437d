"""``GET /healthz`` on every brand: what an operator or a load balancer needs to know."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

from engine.identity.permissions import public
from engine.web import current_brand

bp = Blueprint("health", __name__)


def database_status() -> str:
    try:
        with current_brand.runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # reported, never raised: health must answer
        return f"error: {type(exc).__name__}"


@bp.route("/healthz")
@public
def healthz() -> Any:
    ctx = current_brand
    database = database_status()
    errors = ctx.runtime.config_errors.get(ctx.slug) or []
    resp = jsonify({
        "brand": ctx.slug,
        "revision": ctx.revision,
        "modules": list(ctx.config.enabled_modules()),
        "database": database,
        "config_error": "\n".join(errors) or None,
        "status": "ok" if database == "ok" and not errors else "degraded",
    })
    resp.headers["Cache-Control"] = "no-store"
    resp.status_code = 200 if database == "ok" else 503
    return resp
