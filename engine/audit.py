"""Audit log: append-only, HMAC-chained events of who did what, where, to whom and when.

API (the one every module calls)::

    from engine import audit
    audit.record(session, action="keys.rotate", brand_id=None, actor=None, details={...})
    audit.record_request("booking.appointment.view", target_type="appointment",
                         target_id=appt.id, patient_id=appt.patient_id)

:func:`record` appends at once to ``session``'s transaction (CLI commands, jobs, services that
own their session); the caller commits. :func:`record_request` fills brand, actor, IP and
request id from the current request and appends at the request's boundary: events of a request
that commits are written in the same transaction as what they describe; after a rollback (an
error, a 403, a crash) the events whose outcome is ``failure`` or ``denied`` are still written,
in a transaction of their own, so attempts are never lost with the writes they failed to make.

Chain: there is one chain per brand (``brand:<slug>``) and one for the platform. Each event has
``seq`` (1, 2, 3 ... in its chain) and ``mac = HMAC-SHA256(key, prev_mac | canonical JSON of the
event)``. Appends lock the chain's head row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has
one writer), so concurrent requests in any number of processes never fork a chain. The keys
live outside the database, each with an id (``DARAPORT_AUDIT_KEYS``, ``DARAPORT_AUDIT_KEY`` or,
in development, ``<data_dir>/audit.key`` created 0600): the newest signs, and each event stores
its id (``key_id``), so a key can be rotated without rewriting history (:mod:`engine.audit_keys`).
Verification, listing and retention are in :mod:`engine.audit_chain`.

Details are for identifiers and small facts (a permission name, a module, a count), never health
data, passwords or tokens: :func:`check_details` refuses keys on a deny-list and long text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit_keys, clock
from engine.audit_keys import KEY_ENV, KEYS_ENV, AuditKeyring  # noqa: F401 (re-exported)
from engine.audit_models import OUTCOMES, AuditChainHead, AuditEvent

GENESIS_MAC = "0" * 64
PLATFORM_CHAIN = "platform"

# Substrings of detail keys that would carry secrets or health data (compared lower-cased,
# without "_" and "-").
DENIED_KEY_PARTS = (
    "password", "passwd", "passphrase", "secret", "token", "otp", "cookie", "session",
    "authorization", "apikey", "privatekey", "credential", "ciphertext", "plaintext",
    "answer", "note", "body", "message", "diagnos", "symptom", "health", "medical",
    "condition", "medication", "prescription", "treatment", "intake", "content", "text",
    "comment", "reason_for_visit", "attachment",
)
MAX_DETAIL_STRING = 200
MAX_DETAILS_JSON = 2000
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class AuditDetailsError(ValueError):
    """Details that could hold a secret or health data, or are not small JSON."""


# --- key ---------------------------------------------------------------------------------------


def audit_keyring(data_dir: Path | None = None) -> AuditKeyring:
    """The keyring (every key by id, the newest signs): see :mod:`engine.audit_keys`."""
    return audit_keys.load(data_dir)


def audit_key(data_dir: Path | None = None) -> bytes:
    """The key that signs new events: the newest of the keyring (``DARAPORT_AUDIT_KEYS``,
    ``DARAPORT_AUDIT_KEY`` or the 0600 key file ``<data_dir>/audit.key``)."""
    return audit_keys.load(data_dir).current_key


# --- canonical content and MAC -----------------------------------------------------------------


def chain_of(brand_id: str | None) -> str:
    return f"brand:{brand_id}" if brand_id else PLATFORM_CHAIN


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(chain: str, seq: int, occurred_at: datetime, brand_id: str | None,
              actor_id: int | None, actor_role: str | None, ip: str | None, action: str,
              outcome: str, target_type: str | None, target_id: str | None,
              patient_id: int | None, request_id: str | None, details: str | None) -> bytes:
    """The bytes the MAC covers: every column but ``id`` and the MACs, as canonical JSON."""
    return json.dumps(
        [1, chain, seq, _time(occurred_at), brand_id, actor_id, actor_role, ip, action, outcome,
         target_type, target_id, patient_id, request_id, details],
        separators=(",", ":"), ensure_ascii=False).encode()


def compute_mac(key: bytes, prev_mac: str, content: bytes) -> str:
    return hmac.new(key, prev_mac.encode() + b"|" + content, hashlib.sha256).hexdigest()


def event_content(ev: AuditEvent) -> bytes:
    return canonical(ev.chain, ev.seq, ev.occurred_at, ev.brand_id, ev.actor_id, ev.actor_role,
                     ev.ip, ev.action, ev.outcome, ev.target_type, ev.target_id, ev.patient_id,
                     ev.request_id, ev.details)


# --- details ----------------------------------------------------------------------------------


def check_details(details: dict[str, Any] | None) -> str | None:
    """Canonical JSON of ``details``, or :class:`AuditDetailsError` for a denied key or value."""
    if details is None:
        return None
    if not isinstance(details, dict):
        raise AuditDetailsError("audit details must be a dict")

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    raise AuditDetailsError(f"audit detail key {k!r} is not a string")
                norm = k.lower().replace("_", "").replace("-", "")
                for part in DENIED_KEY_PARTS:
                    if part.replace("_", "") in norm:
                        raise AuditDetailsError(
                            f"audit detail '{path}{k}' may hold a secret or health data")
                walk(v, f"{path}{k}.")
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item, path)
        elif isinstance(value, str):
            if len(value) > MAX_DETAIL_STRING:
                raise AuditDetailsError(f"audit detail '{path.rstrip('.')}' is free text "
                                        f"({len(value)} characters): keep details to ids")
        elif value is not None and not isinstance(value, (bool, int, float)):
            raise AuditDetailsError(f"audit detail '{path.rstrip('.')}' is not JSON")

    walk(details, "")
    text = json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(text) > MAX_DETAILS_JSON:
        raise AuditDetailsError("audit details are too long")
    return text


# --- appending ----------------------------------------------------------------------------------


def _lock_head(session: Session, chain: str) -> AuditChainHead:
    """The chain's head row, locked for this transaction (created on the chain's first event)."""
    locked = (select(AuditChainHead).where(AuditChainHead.chain == chain).with_for_update()
              .execution_options(populate_existing=True))
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        head = session.execute(locked).scalar_one_or_none()
        if head is not None:
            return head
    else:
        # SQLite: write first, so this transaction takes the one write lock (waiting for it)
        # before it reads the head; a read first could not be upgraded once another writer
        # committed (SQLITE_BUSY_SNAPSHOT)
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    # two first events at once: one inserts, the other waits on its row lock, then finds it
    session.execute(insert(AuditChainHead).values(chain=chain, seq=0, mac=GENESIS_MAC)
                    .on_conflict_do_nothing(index_elements=["chain"]))
    return session.execute(locked).scalar_one()


def record(session: Session, *, action: str, brand_id: str | None, actor: Any = None,
           outcome: str = "success", target_type: str | None = None, target_id: Any = None,
           patient_id: int | None = None, ip: str | None = None, request_id: str | None = None,
           details: dict[str, Any] | None = None,
           occurred_at: datetime | None = None) -> AuditEvent:
    """Append one event to ``brand_id``'s chain (None: the platform's) in ``session``'s
    transaction. The caller commits; a rollback removes the event with everything else."""
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    if not action or len(action) > 80:
        raise ValueError("audit action must be 1 to 80 characters")
    details_json = check_details(details)
    if has_request_context():  # a service called from a view: the request's address and id
        ip = ip or request.remote_addr
        request_id = request_id or g.get("request_id")
    chain = chain_of(brand_id)
    at = (occurred_at or clock.now()).astimezone(UTC)
    head = _lock_head(session, chain)
    # the keyring is read after the head is locked: an event appended after the first event a
    # rotated key signed (in any process) is signed with that key or a newer one
    ring = audit_keyring()
    ev = AuditEvent(
        chain=chain, seq=head.seq + 1, occurred_at=at, brand_id=brand_id,
        actor_id=getattr(actor, "id", None) if actor is not None else None,
        actor_role=getattr(actor, "role", None) if actor is not None else None,
        ip=(ip or None) and ip[:45], action=action, outcome=outcome,
        target_type=target_type, target_id=None if target_id is None else str(target_id)[:64],
        patient_id=patient_id, request_id=request_id, details=details_json,
        prev_mac=head.mac, key_id=ring.current,
    )
    ev.mac = compute_mac(ring.current_key, head.mac, event_content(ev))
    session.add(ev)
    head.seq, head.mac = ev.seq, ev.mac
    session.flush()
    return ev


# --- request side -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActorRef:
    """Who acted, as the log keeps it (a queued event outlives the request's User object)."""

    id: int
    role: str


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def _current_actor() -> Any:
    from flask_login import current_user

    try:
        user = current_user._get_current_object()  # type: ignore[attr-defined]
    except Exception:  # no login manager on this app
        return None
    return user if getattr(user, "is_authenticated", False) else None


def record_request(action: str, **fields: Any) -> None:
    """Queue an event of this request (brand, actor, IP and request id filled in unless given);
    written at the request's boundary, see the module docstring."""
    if not has_request_context():
        raise RuntimeError("audit.record_request needs a request; use audit.record(session, ...)")
    if "brand_id" not in fields:
        from flask import current_app

        ctx = current_app.extensions.get("daraport")
        fields["brand_id"] = ctx.slug if ctx is not None else None
    if "actor" not in fields:
        fields["actor"] = _current_actor()
    if fields["actor"] is not None:  # read now: a rollback expires the user before the boundary
        fields["actor"] = ActorRef(fields["actor"].id, fields["actor"].role)
    fields.setdefault("ip", request.remote_addr)
    fields.setdefault("request_id", request_id())
    fields.setdefault("occurred_at", clock.now())
    if fields.get("outcome", "success") not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {', '.join(OUTCOMES)}")
    check_details(fields.get("details"))  # fail at the call, not at the boundary
    g.setdefault("audit_queue", []).append({"action": action, **fields})


def record_signin_failure(code: str, email: str) -> None:
    """A refused sign-in of this request: never the password, and the account only as its
    throttle key (a hash of realm and email), so the log names no address that has no account.
    ``too_many_attempts`` is a lockout (outcome "denied"), anything else a failure."""
    from flask import current_app

    from engine.identity import throttle
    from engine.identity.models import PLATFORM_REALM, brand_realm

    ctx = current_app.extensions.get("daraport")
    realm = brand_realm(ctx.slug) if ctx is not None else PLATFORM_REALM
    lockout = code == "too_many_attempts"
    record_request("auth.lockout" if lockout else "auth.signin",
                   outcome="denied" if lockout else "failure", actor=None,
                   target_type="account", target_id=throttle.account_key(realm, email),
                   details={"reason": code})


def flush_queue(session: Session, *, survivors_only: bool = False) -> int:
    """Append this request's queued events to ``session``; the caller commits."""
    queue = g.pop("audit_queue", None) or []
    n = 0
    for fields in queue:
        if survivors_only and fields.get("outcome", "success") == "success":
            continue
        record(session, **fields)
        n += 1
    return n


def init_app(app: Flask, *, session: Any, factory: Any) -> None:
    """Request ids and the audit boundary for ``app``. Call it *after* the app's own request
    cycle is wired: Flask runs after-request functions in reverse order, so the queue is
    appended to the request's session (``session()``) just before that cycle commits it.
    ``factory()`` gives a fresh platform-wide session for the events that survive a rollback.
    """

    @app.before_request
    def _request_id() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def _append(resp: Response) -> Response:
        if g.get("audit_queue") and resp.status_code < 500 and not g.get("request_failed"):
            flush_queue(session())
        if rid := g.get("request_id"):
            resp.headers["X-Request-Id"] = rid
        return resp

    @app.teardown_request
    def _survivors(exc: BaseException | None) -> None:
        if not g.get("audit_queue"):
            return
        for name in ("db_session", "console_db"):  # a crash skipped the boundary: release
            if (open_session := g.get(name)) is not None:  # its locks before appending
                open_session.rollback()
        s = factory()
        try:
            if flush_queue(s, survivors_only=True):
                s.commit()
        except Exception:
            s.rollback()
            app.logger.exception("audit events of a failed request could not be written")
        finally:
            s.close()
