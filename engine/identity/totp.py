"""TOTP second factor (RFC 6238): enrollment, verification, recovery codes. No request state.

- The shared secret is encrypted at rest (``SecondFactor.secret``, engine.crypto).
- A code is accepted for the current 30-second step or one step either side (clock drift), and
  only for a step later than the last accepted one: the same code never works twice.
- Recovery codes (ten, shown once) are kept as argon2 hashes and each works once.
- Wrong codes count against the sign-in throttle (per account and per address), like passwords.
"""

from __future__ import annotations

import hmac
import secrets

import pyotp
import segno
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity import services, throttle
from engine.identity.models import RecoveryCode, SecondFactor, User
from engine.runtime import current
from engine.web import UserError

STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i look-alikes
# roles that may turn the second factor on (operators: on the console, where it is required)
OPTIONAL_ROLES = frozenset({"specialist", "org_admin", "coordinator", "operator"})


def factor_of(session: Session, user: User) -> SecondFactor | None:
    """The user's authenticator row, confirmed or not."""
    return session.scalar(select(SecondFactor).where(SecondFactor.user_id == user.id))


def is_enabled(session: Session, user: User) -> bool:
    """Whether sign-in asks this user for a code."""
    factor = factor_of(session, user)
    return factor is not None and factor.confirmed_at is not None


def is_required(brand: BrandConfig | None, user: User) -> bool:
    """Whether the user must have a second factor: operators always, and the roles the brand's
    ``security.totp_required_for`` names."""
    if user.role == "operator":
        return True
    return brand is not None and user.role in brand.security.totp_required_for


def may_enroll(user: User) -> bool:
    return user.role in OPTIONAL_ROLES


def start_enrollment(session: Session, user: User) -> SecondFactor:
    """A new unconfirmed secret for ``user`` (replacing an unconfirmed one). A confirmed factor
    must be turned off first, so enrollment cannot silently replace a working authenticator."""
    if not may_enroll(user):
        raise UserError(str(_l("Two-step sign-in is not available for this account.")),
                        code="totp_not_available", status=403)
    factor = factor_of(session, user)
    if factor is not None and factor.confirmed_at is not None:
        raise UserError(str(_l("Two-step sign-in is already on for this account.")),
                        code="totp_enabled", status=409)
    if factor is None:
        factor = SecondFactor(user_id=user.id)
        session.add(factor)
    factor.secret = pyotp.random_base32(length=32)
    factor.last_step = None
    session.flush()
    return factor


def provisioning_uri(factor: SecondFactor, user: User, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return str(pyotp.TOTP(factor.secret, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=issuer))


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` URI (allowed by the CSP's img-src)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=4, border=2))


def grouped_secret(factor: SecondFactor) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    secret = factor.secret
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _step_now() -> int:
    return int(clock.now().timestamp()) // STEP_SECONDS


def _matching_step(factor: SecondFactor, code: str) -> int | None:
    """The time step ``code`` belongs to (within the drift), later than the last one used."""
    totp = pyotp.TOTP(factor.secret, interval=STEP_SECONDS)
    now = _step_now()
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if factor.last_step is not None and step <= factor.last_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _clean_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def confirm_enrollment(session: Session, user: User, code: str) -> list[str]:
    """Turn the factor on with a first code from the app; returns new recovery codes (shown
    once). A wrong code leaves the factor unconfirmed (UserError on field ``code``)."""
    factor = factor_of(session, user)
    if factor is None or factor.confirmed_at is not None:
        raise UserError(str(_l("Start the set-up again.")), code="totp_not_pending",
                        status=409)
    step = _matching_step(factor, _clean_code(code))
    if step is None:
        raise UserError(str(_l("That code is not right. Check the time on your phone and use "
                               "the newest code.")), code="bad_code", field="code")
    factor.last_step = step
    factor.confirmed_at = clock.now()
    return new_recovery_codes(session, user)


def new_recovery_codes(session: Session, user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones; returns them in clear (once)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    hasher = current().hasher
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user.id, code_hash=hasher.hash(raw)))
    session.flush()
    return codes


def remaining_recovery_codes(session: Session, user: User) -> int:
    return len(session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all())


def _use_recovery_code(session: Session, user: User, code: str) -> bool:
    hasher = current().hasher
    for row in session.scalars(select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
            .with_for_update()):
        try:
            hasher.verify(row.code_hash, code)
        except (VerificationError, InvalidHashError):
            continue
        row.used_at = clock.now()
        return True
    return False


def _realm(realm: str) -> str:
    return f"totp:{realm}"


def verify_sign_in(session: Session, user: User, code: str, *, realm: str,
                   ip: str | None) -> str:
    """Check the second step of a sign-in: a current TOTP code or an unused recovery code.

    Returns ``"totp"`` or ``"recovery"``. Wrong codes count against the throttle of this
    account (in ``realm``) and of ``ip``; a locked key answers 429 without checking the code.
    """
    key = str(user.id)
    wait = throttle.locked_for(session, _realm(realm), key, ip)
    if wait:
        raise services._throttled(wait)
    factor = factor_of(session, user)
    if factor is None or factor.confirmed_at is None:
        raise UserError(str(_l("Start the set-up again.")), code="totp_not_pending",
                        status=409)
    cleaned = _clean_code(code)
    used: str | None = None
    if cleaned.isdigit() and len(cleaned) == 6:
        step = _matching_step(factor, cleaned)
        if step is not None:
            factor.last_step = step
            used = "totp"
    elif len(cleaned) == 10 and _use_recovery_code(session, user, cleaned):
        used = "recovery"
    if used is None:
        wait = throttle.record_failure(session, _realm(realm), key, ip)
        if wait:
            raise services._throttled(wait)
        raise UserError(str(_l("That code is not right.")), code="bad_code", field="code",
                        status=401, keep_writes=True)
    throttle.clear_account(session, _realm(realm), key)
    return used


def disable(session: Session, user: User, password: str) -> None:
    """Turn the second factor off (needs the password); refused where it is required."""
    if not services.verify_password(user, password):
        raise UserError(str(_l("The current password is not right.")), code="wrong_password",
                        field="password")
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.execute(delete(SecondFactor).where(SecondFactor.user_id == user.id))
    user.session_epoch += 1  # sessions signed in with the old factor end

