"""Console: the audit log of every brand and the platform, filtered (operators only)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, Literal

from flask import Blueprint, abort, render_template, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from engine import audit_chain
from engine.audit_models import AuditChainHead
from engine.console.auth import operator_required
from engine.console.state import console_db, console_platform

bp = Blueprint("console_audit", __name__)
PAGE_SIZE = 100


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand: str = Field("", max_length=63)  # "" all, "-" platform events, else a brand slug
    action: str = Field("", max_length=80)
    outcome: Literal["", "success", "failure", "denied"] = ""
    actor: int | None = Field(None, ge=1, le=2**53)
    patient: int | None = Field(None, ge=1, le=2**53)
    since: date | None = None
    until: date | None = None
    before: int | None = Field(None, ge=1, le=2**62)


def _parse() -> AuditQuery:
    args = {k: v for k, v in request.args.to_dict().items() if v != ""}
    try:
        return AuditQuery.model_validate(args)
    except ValidationError:
        abort(400)


def _day(d: date | None) -> datetime | None:
    return datetime.combine(d, time.min, tzinfo=UTC) if d else None


@bp.route("/audit")
@operator_required
def index() -> Any:
    query = _parse()
    platform = console_platform()
    if query.brand not in ("", "-") and query.brand not in platform.brands:
        abort(404)
    brand_filter: Any = ... if query.brand == "" else (None if query.brand == "-"
                                                       else query.brand)
    stmt = audit_chain.query(
        brand_id=brand_filter, action=query.action or None, outcome=query.outcome or None,
        actor_id=query.actor, patient_id=query.patient, since=_day(query.since),
        until=_day(query.until), before_id=query.before, limit=PAGE_SIZE)
    session = console_db()
    events = list(session.scalars(stmt))
    heads = list(session.scalars(select(AuditChainHead).order_by(AuditChainHead.chain)))
    args = {k: v for k, v in query.model_dump(exclude={"before"}).items()
            if v not in (None, "")}
    return render_template("console/audit.html", events=events, query=query, heads=heads,
                           brands=sorted(platform.brands), args=args,
                           next_before=events[-1].id if len(events) == PAGE_SIZE else None)
