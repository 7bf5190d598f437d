"""``GET /healthz`` on every brand: what an operator or a load balancer needs to know."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from engine.identity.permissions import public
from engine.web import current_brand

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@public
def healthz() -> Any:
    ctx = current_brand
    database = ctx.runtime.database_status()
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
