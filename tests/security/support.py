"""Helpers of the security tests (also used by the console fixtures): TOTP for test accounts."""

from __future__ import annotations

from typing import Any

import pyotp

from engine import clock
from engine.identity import totp
from engine.identity.models import User


def code_at(secret: str, offset_steps: int = 0) -> str:
    """The TOTP code of ``secret`` at engine time, ``offset_steps`` steps of 30 s away."""
    at = int(clock.now().timestamp()) + offset_steps * totp.STEP_SECONDS
    return str(pyotp.TOTP(secret, interval=totp.STEP_SECONDS).at(at))


def enroll(db: Any, user: User) -> list[str]:
    """Turn on the second factor of ``user`` (as the set-up page would); its recovery codes."""
    factor = totp.start_enrollment(db, user)
    codes = totp.confirm_enrollment(db, user, code_at(factor.secret))
    db.flush()
    return codes


def next_code(db: Any, user: User) -> str:
    """A code the server has not seen yet: as if the next 30-second step had come (the factor
    forgets its last step). For tests that sign in repeatedly; replay tests never use it."""
    factor = totp.factor_of(db, user)
    assert factor is not None, f"{user} has no second factor"
    db.refresh(factor)
    factor.last_step = None
    db.flush()
    return code_at(factor.secret)
