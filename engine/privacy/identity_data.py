"""The engine's own personal data of a user: the account row, emailed tokens, mail and text
messages kept in the outbox, the sign-in throttle row, consent records and exports.

Exported as the ``profile``/``consents``/``notifications`` sections; erased by deleting what
only served the account and pseudonymizing the account row (other tables reference it, and
records kept under a legal duty stay attached to the pseudonym).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity import throttle
from engine.identity.models import SignInThrottle, Token, User, brand_realm
from engine.notify import Email
from engine.privacy import consent
from engine.privacy.models import ConsentRecord, DataExport
from engine.sms import SmsMessage

REDACTED = "[deleted]"
ALL = {"all_brands": True}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_identity(session: Session, user: User, brand: BrandConfig) -> dict[str, Any]:
    """The account, its consent history and the notifications kept for it."""
    profile = {"id": user.id, "name": user.name, "email": user.email, "phone": user.phone,
               "role": user.role, "organization": user.organization, "locale": user.locale,
               "timezone": user.timezone, "created_at": _iso(user.created_at),
               "email_verified_at": _iso(user.email_verified_at),
               "last_sign_in_at": _iso(user.last_sign_in_at)}
    consents = [{"document": r.document_key, "version": r.version,
                 "state": "granted" if r.granted else "withdrawn", "method": r.method,
                 "recorded_at": _iso(r.recorded_at)}
                for r in reversed(consent.history(session, user, brand))]
    mails = session.scalars(select(Email).where(Email.brand_id == brand.slug,
                                                Email.recipient == user.email)
                            .order_by(Email.id))
    notifications = [{"channel": "email", "subject": m.subject, "status": m.status,
                      "created_at": _iso(m.created_at)} for m in mails]
    if user.phone:
        texts = session.scalars(select(SmsMessage).where(SmsMessage.brand_id == brand.slug,
                                                         SmsMessage.recipient == user.phone)
                                .order_by(SmsMessage.id))
        notifications += [{"channel": "sms", "body": t.body, "status": t.status,
                           "created_at": _iso(t.created_at)} for t in texts]
    return {"profile": profile, "consents": consents, "notifications": notifications}


def export_dir(data_dir: Path) -> Path:
    """Where export ZIPs are kept: the platform's data dir, never a static folder."""
    return data_dir / "privacy-exports"


def remove_exports(session: Session, user: User, data_dir: Path) -> int:
    """Delete the user's export files and rows."""
    rows = list(session.scalars(select(DataExport).where(DataExport.user_id == user.id)
                                .execution_options(**ALL)))
    for row in rows:
        if row.file_name:
            (export_dir(data_dir) / row.file_name).unlink(missing_ok=True)
        session.delete(row)
    return len(rows)


def _redact(text: str | None, needles: list[str]) -> str | None:
    if text is None:
        return None
    for needle in needles:
        text = text.replace(needle, REDACTED)
    return text


def erase_identity(session: Session, user: User, brand: BrandConfig, scope: str,
                   data_dir: Path) -> dict[str, int]:
    """Erase the engine's data of ``user`` for ``scope`` ("all" pseudonymizes the account;
    "marketing" withdraws marketing consents; "messages" holds nothing of the engine's)."""
    if scope == "marketing":
        withdrawn = 0
        for state in consent.states(session, user, brand):
            if state.document.type == "marketing" and state.granted_version is not None:
                consent.record(session, user, brand, state.document.key, granted=False,
                               method="web", brands_dir=_brands_dir())
                withdrawn += 1
        return {"marketing_consents_withdrawn": withdrawn}
    if scope != "all":
        return {}
    counts: dict[str, int] = {}
    email, name, phone = user.email, user.name.strip(), user.phone
    needles = [email] + ([name] if len(name) >= 3 else [])
    counts["tokens"] = session.execute(delete(Token).where(Token.user_id == user.id)).rowcount
    counts["emails"] = session.execute(delete(Email).where(
        Email.brand_id == brand.slug, Email.recipient == email)).rowcount
    # mail to others that names the user (a specialist's "new appointment with ...")
    redacted = 0
    like = [Email.body_text.contains(n) for n in needles] + \
        [Email.subject.contains(n) for n in needles] + \
        [Email.body_html.contains(n) for n in needles]
    for mail in session.scalars(select(Email).where(Email.brand_id == brand.slug, or_(*like))):
        mail.subject = _redact(mail.subject, needles) or REDACTED
        mail.body_text = _redact(mail.body_text, needles)
        mail.body_html = _redact(mail.body_html, needles)
        redacted += 1
    counts["emails_redacted"] = redacted
    if phone:
        counts["texts"] = session.execute(delete(SmsMessage).where(
            SmsMessage.brand_id == brand.slug, SmsMessage.recipient == phone)).rowcount
    for sms in session.scalars(select(SmsMessage).where(
            SmsMessage.brand_id == brand.slug,
            or_(*[SmsMessage.body.contains(n) for n in needles]))):
        sms.body = _redact(sms.body, needles)
    counts["throttle"] = session.execute(delete(SignInThrottle).where(
        SignInThrottle.key_hash == throttle.account_key(brand_realm(brand.slug), email))
    ).rowcount
    counts["exports"] = remove_exports(session, user, data_dir)
    # the pseudonym: unique, unusable, and no trace of who it was
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.name = ""
    user.phone = None
    user.password_hash = "!deleted:" + secrets.token_hex(8)
    user.locale = user.timezone = user.organization = None
    user.email_verified_at = user.last_sign_in_at = None
    user.session_epoch += 1  # every signed-in session of the account ends
    counts["account_pseudonymized"] = 1
    session.flush()
    return counts


def consent_records_of(session: Session, user_id: int) -> int:
    """Delete what remains of a closed account's consent history (retention)."""
    return session.execute(delete(ConsentRecord).where(ConsentRecord.user_id == user_id)
                           .execution_options(**ALL)).rowcount


def _brands_dir() -> Path:
    from engine.runtime import current

    return current().settings.brands_dir
