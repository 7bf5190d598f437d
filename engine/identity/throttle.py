"""Sign-in throttle: counters of failed attempts per account and per client address.

The counters live in the database (``identity_sign_in_throttle``) so that every web process
enforces the same limits. A key that reaches its limit inside the window is locked for a short
while, and each further lockout in a row twice as long (up to an hour); a successful sign-in
clears the account's counter. The address counter is not cleared by a
success, or an attacker could reset it by signing in to an account of their own between guesses.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.identity.models import SignInThrottle


@dataclass(frozen=True)
class Limit:
    failures: int
    window: timedelta
    lockout: timedelta
    # progressive: each lockout in a row lasts twice the last, up to this
    max_lockout: timedelta = timedelta(hours=1)
    # a key that stayed out of trouble this long after its last lockout starts over
    forgive_after: timedelta = timedelta(hours=24)

    def lockout_for(self, lockouts: int) -> timedelta:
        """How long the ``lockouts``-th lockout in a row lasts (1: the first)."""
        return min(self.lockout * 2 ** max(0, min(lockouts - 1, 16)), self.max_lockout)


ACCOUNT_LIMIT = Limit(failures=5, window=timedelta(minutes=15), lockout=timedelta(minutes=5))
IP_LIMIT = Limit(failures=30, window=timedelta(minutes=15), lockout=timedelta(minutes=5))
LIMITS = {"account": ACCOUNT_LIMIT, "ip": IP_LIMIT}


def account_key(realm: str, email: str) -> str:
    """The throttle key of ``email`` in ``realm`` (whether or not such an account exists).

    ``realm`` is where the sign-in happens: ``brand_realm(slug)`` on a brand, the platform realm
    on the operator console.
    """
    return _digest(f"account:{realm}:{email.strip().lower()}")


def ip_key(ip: str | None) -> str:
    """The throttle key of a client address (shared by every brand)."""
    return _digest(f"ip:{ip or 'unknown'}")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def locked_for(session: Session, realm: str, email: str, ip: str | None) -> int:
    """Seconds until sign-in is allowed again for this email in ``realm`` from ``ip`` (0: now)."""
    now = clock.now()
    rows = session.scalars(select(SignInThrottle).where(
        SignInThrottle.key_hash.in_([account_key(realm, email), ip_key(ip)]),
        SignInThrottle.locked_until > now,
    )).all()
    if not rows:
        return 0
    until = max(r.locked_until for r in rows if r.locked_until is not None)
    return max(1, math.ceil((until - now).total_seconds()))


def record_failure(session: Session, realm: str, email: str, ip: str | None) -> int:
    """Count one failed attempt; returns the seconds of lockout it caused (0: none yet)."""
    locks = [_count(session, "account", account_key(realm, email)),
             _count(session, "ip", ip_key(ip))]
    now = clock.now()
    return max((math.ceil((u - now).total_seconds()) for u in locks if u is not None), default=0)


def clear_account(session: Session, realm: str, email: str) -> None:
    """Forget the failures of this email in ``realm`` (after a successful sign-in)."""
    session.execute(delete(SignInThrottle).where(
        SignInThrottle.key_hash == account_key(realm, email)))


def _row(session: Session, scope: str, key: str) -> SignInThrottle:
    """The counter row of ``key``, locked for update, created when missing (race-safe)."""
    query = select(SignInThrottle).where(SignInThrottle.key_hash == key).with_for_update()
    row = session.scalar(query)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = SignInThrottle(scope=scope, key_hash=key, failures=0)
            session.add(row)
    except IntegrityError:  # another process created it first
        row = session.scalar(query.execution_options(populate_existing=True))
        assert row is not None
    return row


def _count(session: Session, scope: str, key: str) -> datetime | None:
    limit = LIMITS[scope]
    now = clock.now()
    row = _row(session, scope, key)
    if row.locked_until is not None and row.locked_until + limit.forgive_after <= now:
        row.lockouts = 0
    if row.window_started_at is None or row.window_started_at + limit.window <= now:
        row.window_started_at, row.failures = now, 0
    row.failures += 1
    if row.failures >= limit.failures:
        row.lockouts = (row.lockouts or 0) + 1
        row.locked_until = now + limit.lockout_for(row.lockouts)
        row.failures, row.window_started_at = 0, None
    session.flush()
    return row.locked_until if row.locked_until and row.locked_until > now else None
