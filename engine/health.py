"""``GET /healthz`` on every brand: what an operator or a load balancer needs to know.

Load balancers ask many times a second, so the platform answers it before any brand app runs
(:func:`wsgi_health`); the Flask route gives the same answer to an app used on its own (tests,
``cli.py routes``). Both build it with :func:`health_payload`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, jsonify

from engine.identity.permissions import public
from engine.web import BrandContext, current_brand

bp = Blueprint("health", __name__)

HEALTH_PATH = "/healthz"


def health_payload(ctx: BrandContext) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of the brand's health."""
    database = ctx.runtime.database_status()
    errors = ctx.runtime.config_errors.get(ctx.slug) or []
    body = {
        "brand": ctx.slug,
        "revision": ctx.revision,
        "modules": list(ctx.config.enabled_modules()),
        "database": database,
        "config_error": "\n".join(errors) or None,
        "status": "ok" if database == "ok" and not errors else "degraded",
    }
    return (200 if database == "ok" else 503), body


@bp.route(HEALTH_PATH)
@public
def healthz() -> Any:
    status, body = health_payload(current_brand)
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    resp.status_code = status
    return resp


_REASONS = {200: "200 OK", 503: "503 Service Unavailable"}


def wsgi_health(ctx: BrandContext, environ: dict[str, Any],
                start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The health answer as a bare WSGI response (no session, locale or user loading)."""
    status, body = health_payload(ctx)
    data = json.dumps(body, separators=(",", ":")).encode() + b"\n"
    start_response(_REASONS[status], [
        ("Content-Type", "application/json"), ("Content-Length", str(len(data))),
        ("Cache-Control", "no-store"), ("Vary", "Host"), ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"),
    ])
    return [data] if environ.get("REQUEST_METHOD") != "HEAD" else [b""]
