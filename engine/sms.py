"""SMS: one provider interface, a log-only default and one real HTTP adapter (Twilio's REST API).

Like email, a text message is written to the ``notify_sms`` table inside the caller's unit of
work and delivered by a job after it commits, so a message is never sent for a rolled-back
change and a delivered one is never sent twice.

The provider is chosen by ``SMS_URL`` (read when a message is delivered):

- unset or ``log://``: the log provider. Nothing leaves the machine; the message is written to
  the ``daraport.sms`` log and kept in the table with status ``logged`` (development).
- ``twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?from=+15550001111``: Twilio's Messages API
  (``POST /2010-04-01/Accounts/{sid}/Messages.json``, form ``To``/``From``/``Body``, HTTP basic
  auth). ``twilio+http://SID:TOKEN@127.0.0.1:8099?from=...`` speaks plain HTTP to another base
  URL (a local test server or a gateway speaking Twilio's API). ``messaging_service_sid=MG...``
  may replace ``from``.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import unquote, urlencode, urlsplit

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import clock, jobs
from engine.db import Base

log = logging.getLogger("daraport.sms")

TIMEOUT_SECONDS = 20


class SmsMessage(Base):
    """A text message: queued, then ``logged`` (log provider), ``sent`` or ``failed``."""

    __tablename__ = "notify_sms"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[str | None] = mapped_column(String(63), index=True)
    recipient: Mapped[str] = mapped_column(String(32))
    body: Mapped[str | None] = mapped_column(Text)
    template: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<SmsMessage {self.id} {self.status} brand={self.brand_id}>"


class SmsError(Exception):
    """The provider refused the message or could not be reached."""


class SmsProvider(Protocol):
    name: str

    def send(self, to: str, body: str) -> str | None:
        """Send one message; return the provider's message id. Raises :class:`SmsError`."""


class LogProvider:
    """Development default: writes the message to the log and sends nothing."""

    name = "log"

    def send(self, to: str, body: str) -> str | None:
        log.info("SMS to %s: %s", to, body)
        return None


@dataclass(frozen=True)
class TwilioProvider:
    """Twilio's Messages API (or anything speaking its shape at ``base_url``)."""

    account_sid: str
    auth_token: str
    base_url: str = "https://api.twilio.com"
    sender: str | None = None
    messaging_service_sid: str | None = None
    name: str = "twilio"

    def send(self, to: str, body: str) -> str | None:
        form = {"To": to, "Body": body}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        elif self.sender:
            form["From"] = self.sender
        else:
            raise SmsError("SMS_URL names neither from= nor messaging_service_sid=")
        url = f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        auth = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        request = urllib.request.Request(
            url, data=urlencode(form).encode(), method="POST",
            headers={"Authorization": f"Basic {auth}", "Accept": "application/json",
                     "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as resp:
                answer = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise SmsError(f"HTTP {exc.code}: {detail}") from exc
        except (OSError, ValueError) as exc:
            raise SmsError(f"{type(exc).__name__}: {exc}") from exc
        sid = answer.get("sid") if isinstance(answer, dict) else None
        return str(sid) if sid else None


def _query(raw: str) -> dict[str, str]:
    # unquote, not unquote_plus: "from=+1555..." keeps its plus sign
    pairs = (part.split("=", 1) for part in raw.split("&") if "=" in part)
    return {unquote(k): unquote(v) for k, v in pairs}


def provider_from_url(url: str | None) -> SmsProvider:
    """The provider an ``SMS_URL`` names (None or empty: the log provider)."""
    if not url or url.startswith("log:"):
        return LogProvider()
    parts = urlsplit(url)
    if parts.scheme not in ("twilio", "twilio+http", "twilio+https"):
        raise ValueError(f"SMS_URL: unknown SMS provider {parts.scheme!r} (log, twilio)")
    if not parts.username or not parts.password or not parts.hostname:
        raise ValueError("SMS_URL: twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?from=+1555...")
    scheme = "http" if parts.scheme == "twilio+http" else "https"
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    query = _query(parts.query)
    return TwilioProvider(unquote(parts.username), unquote(parts.password),
                          base_url=f"{scheme}://{netloc}", sender=query.get("from"),
                          messaging_service_sid=query.get("messaging_service_sid"))


def configured_provider() -> SmsProvider:
    """The provider of this process's ``SMS_URL``."""
    from engine.runtime import current

    return provider_from_url(current().settings.sms_url)


def send_sms(session: Session, *, brand_id: str | None, to: str, body: str,
             template: str) -> SmsMessage:
    """Queue a text message to ``to``; it is delivered by a job once ``session`` commits."""
    message = SmsMessage(brand_id=brand_id, recipient=to, body=body, template=template)
    session.add(message)
    session.flush()
    jobs.enqueue_after_commit(session, deliver_sms, message.id)
    return message


def deliver_sms(message_id: int) -> None:
    """Job: deliver one queued message. Idempotent: a sent or logged message is not sent again."""
    from engine.db import brand_session
    from engine.runtime import current

    with brand_session(current().sessions, None) as session:
        message = session.get(SmsMessage, message_id, with_for_update=True)
        if message is None or message.status not in ("queued", "failed"):
            return
        provider = configured_provider()
        message.attempts += 1
        message.provider = provider.name
        try:
            message.provider_id = provider.send(message.recipient, message.body or "")
        except SmsError as exc:
            message.status, message.error = "failed", str(exc)[:500]
            session.commit()
            raise
        message.status = "logged" if provider.name == "log" else "sent"
        message.sent_at, message.error = clock.now(), None
        if message.status == "sent":
            message.body = None  # delivered: keep the record, drop the content
        session.commit()
