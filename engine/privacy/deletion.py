"""Account deletion (GDPR art. 17): requested -> confirmed by the user (the emailed link, or
their password) -> a grace period (``retention.deletion_grace_days``), cancellable -> executed
by the job: every enabled module's ``erase_data`` hook, then the engine's own data (the account
is pseudonymized; records under a legal retention duty stay, restricted to the pseudonym).

Scoped deletion ("messages", "marketing") runs the same hooks with that scope and leaves the
account. A legal hold on the user or the brand keeps a due request waiting.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.config import BrandConfig
from engine.identity import services as identity
from engine.identity.models import User
from engine.privacy import holds
from engine.privacy.hooks import brand_modules
from engine.privacy.identity_data import erase_identity
from engine.privacy.models import DELETION_SCOPES, DeletionRequest
from engine.web import UserError

CONFIRM_TTL = timedelta(days=2)
OPEN = ("requested", "scheduled")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _not_found() -> UserError:
    return UserError(str(_l("No such deletion request.")), code="not_found", status=404)


def open_requests(session: Session, user: User) -> list[DeletionRequest]:
    return list(session.scalars(select(DeletionRequest).where(
        DeletionRequest.user_id == user.id, DeletionRequest.status.in_(OPEN))
        .order_by(DeletionRequest.id).execution_options(all_brands=True)))


def request_deletion(session: Session, user: User, brand: BrandConfig,
                     scope: str) -> tuple[DeletionRequest, str]:
    """Open a deletion request; returns it and the token of its emailed confirmation link."""
    if scope not in DELETION_SCOPES:
        raise UserError(str(_l("Choose what to delete.")), code="invalid", field="scope")
    if user.brand_id != brand.slug or user.role != "patient":
        raise UserError(str(_l("Only patients' accounts are deleted from this page.")),
                        code="forbidden", status=403)
    if any(r.scope == scope for r in open_requests(session, user)):
        raise UserError(str(_l("You already asked for this deletion. Confirm or cancel it "
                               "below.")), code="duplicate", field="scope")
    token = secrets.token_urlsafe(32)
    row = DeletionRequest(brand_id=brand.slug, user_id=user.id, scope=scope,
                          status="requested", confirm_hash=_hash(token),
                          requested_at=clock.now())
    session.add(row)
    session.flush()
    audit.record(session, action="privacy.deletion.request", brand_id=brand.slug, actor=user,
                 target_type="deletion_request", target_id=row.id, patient_id=user.id,
                 details={"scope": scope})
    return row, token


def _schedule(session: Session, row: DeletionRequest, user: User, brand: BrandConfig,
              how: str) -> DeletionRequest:
    if row.status != "requested":
        raise UserError(str(_l("This request is no longer waiting for confirmation.")),
                        code="not_open", status=409)
    if clock.now() > row.requested_at + CONFIRM_TTL:
        raise UserError(str(_l("This confirmation link has expired. Ask again from your "
                               "privacy page.")), code="expired", status=410)
    now = clock.now()
    row.status, row.confirmed_at, row.confirm_hash = "scheduled", now, None
    row.execute_after = now + timedelta(days=brand.retention.deletion_grace_days)
    audit.record(session, action="privacy.deletion.confirm", brand_id=brand.slug, actor=user,
                 target_type="deletion_request", target_id=row.id, patient_id=user.id,
                 details={"scope": row.scope, "by": how})
    return row


def confirm_with_token(session: Session, user: User, brand: BrandConfig,
                       token: str) -> DeletionRequest:
    """Confirm by the emailed link (signed in as the request's owner)."""
    row = session.scalar(select(DeletionRequest).where(
        DeletionRequest.confirm_hash == _hash(token)).execution_options(all_brands=True))
    if row is None or row.user_id != user.id or row.brand_id != brand.slug:
        raise _not_found()
    return _schedule(session, row, user, brand, "email")


def confirm_with_password(session: Session, user: User, brand: BrandConfig, request_id: int,
                          password: str) -> DeletionRequest:
    """Confirm by re-entering the password."""
    row = session.get(DeletionRequest, request_id)
    if row is None or row.user_id != user.id or row.brand_id != brand.slug:
        raise _not_found()
    if not identity.verify_password(user, password):
        raise UserError(str(_l("That password is not right.")), code="bad_password",
                        field="password", status=401)
    return _schedule(session, row, user, brand, "password")


def cancel(session: Session, user: User, brand: BrandConfig, request_id: int) -> DeletionRequest:
    """Cancel a request that has not run yet."""
    row = session.get(DeletionRequest, request_id)
    if row is None or row.user_id != user.id or row.brand_id != brand.slug:
        raise _not_found()
    if row.status not in OPEN:
        raise UserError(str(_l("This request can no longer be cancelled.")), code="not_open",
                        status=409)
    row.status, row.cancelled_at, row.confirm_hash = "cancelled", clock.now(), None
    audit.record(session, action="privacy.deletion.cancel", brand_id=brand.slug, actor=user,
                 target_type="deletion_request", target_id=row.id, patient_id=user.id)
    return row


def execute(session: Session, row: DeletionRequest, brand: BrandConfig,
            data_dir: Path) -> dict[str, int] | None:
    """Run one due request through every enabled module's hook and the engine's own data.
    None (nothing done) when the user or brand is held or the request is not due."""
    if row.status != "scheduled" or row.execute_after is None \
            or row.execute_after > clock.now():
        return None
    if holds.is_held(session, brand.slug, row.user_id):
        return None
    user = session.get(User, row.user_id)
    assert user is not None
    counts: dict[str, int] = {}
    for module in brand_modules(brand):
        if module.erase_data is not None:
            for what, n in module.erase_data(session, user, row.scope).items():
                counts[f"{module.name}.{what}"] = n
    for what, n in erase_identity(session, user, brand, row.scope, data_dir).items():
        counts[f"engine.{what}"] = n
    row.status, row.executed_at, row.result = "executed", clock.now(), counts
    if row.scope == "all":  # the account is gone: its other open requests with it
        for other in open_requests(session, user):
            other.status, other.cancelled_at = "cancelled", clock.now()
    audit.record(session, action="privacy.deletion.execute", brand_id=brand.slug, actor=None,
                 target_type="deletion_request", target_id=row.id, patient_id=row.user_id,
                 details={"scope": row.scope, "rows": sum(counts.values())})
    session.flush()
    return counts


def due_requests(session: Session, brand_id: str) -> list[DeletionRequest]:
    return list(session.scalars(select(DeletionRequest).where(
        DeletionRequest.brand_id == brand_id, DeletionRequest.status == "scheduled",
        DeletionRequest.execute_after <= clock.now()).order_by(DeletionRequest.id)
        .execution_options(all_brands=True)))


def execute_due(session: Session, brand: BrandConfig, data_dir: Path) -> tuple[int, int]:
    """Execute every due request of ``brand``; returns (executed, held back)."""
    done = held = 0
    for row in due_requests(session, brand.slug):
        if execute(session, row, brand, data_dir) is None:
            held += 1
        else:
            done += 1
    return done, held
