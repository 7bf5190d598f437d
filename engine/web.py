"""Request-side helpers shared by engine and module views: the brand, the db session, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from flask import current_app, g, jsonify, render_template, request
from sqlalchemy.orm import Session
from werkzeug.local import LocalProxy

from engine.config import BrandConfig
from engine.db import brand_session
from engine.modules import NavEntry
from engine.runtime import Runtime


@dataclass
class BrandContext:
    """Everything a brand app knows about its brand; ``app.extensions['daraport']``."""

    config: BrandConfig
    revision: str
    path: Path
    runtime: Runtime
    role_permissions: dict[str, frozenset[str]]
    nav: dict[str, list[NavEntry]] = field(default_factory=dict)
    journey_endpoint: str | None = None

    @property
    def slug(self) -> str:
        return self.config.slug

    @property
    def network(self) -> str:
        return network_id(self.config)


def network_id(config: BrandConfig) -> str:
    """The specialist network of a brand: a shared network's name or the brand's own."""
    net = config.specialists.network
    return f"own-{config.slug}" if net == "own" else net


def _brand() -> BrandContext:
    return cast(BrandContext, current_app.extensions["daraport"])


current_brand: BrandContext = cast(BrandContext, LocalProxy(_brand))


def db() -> Session:
    """This request's session, scoped to the current brand; committed once at the boundary."""
    if "db_session" not in g:
        g.db_session = brand_session(_brand().runtime.sessions, _brand().slug)
    return cast(Session, g.db_session)


def discard_writes() -> None:
    """The request failed: roll back what it wrote, now and at the boundary.

    The session stays open, so rendering the error page (which may read the signed-in user)
    works; whatever it reads is rolled back too.
    """
    g.request_failed = True
    session = g.get("db_session")
    if session is not None:
        session.rollback()


def finish_request(*, commit: bool) -> None:
    """The one commit of a request (or its rollback, after an error); closes the session."""
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        if commit and not g.get("request_failed", False):
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


class UserError(Exception):
    """An error the user caused and can act on; rendered as a page or a JSON problem.

    Like every error it rolls back what the request wrote, unless ``keep_writes`` says the
    writes are part of the answer (a counted failed sign-in must survive its 401).
    """

    status = 400

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None,
                 status: int | None = None, keep_writes: bool = False):
        super().__init__(message)
        self.message, self.code, self.field = message, code, field
        self.keep_writes = keep_writes
        if status is not None:
            self.status = status


def wants_json() -> bool:
    """Whether an error answers as a JSON problem: the client asked for JSON, or the URL is a
    JSON resource (the API, or any path ending ``.json``, whatever the Accept header says)."""
    return request.is_json or request.accept_mimetypes.best == "application/json" \
        or request.path.startswith("/api/") or request.path.endswith(".json")


def problem(status: int, code: str, message: str, field: str | None = None) -> Any:
    """A JSON problem or a localized error page, by what the client asked for."""
    if wants_json():
        resp = jsonify({"error": code, "message": str(message), "field": field})
        resp.status_code = status
        return resp
    return render_template("error.html", status=status, code=code, message=message), status
