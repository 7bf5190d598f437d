"""The one notification service. Email goes out by SMTP when SMTP_URL is set; otherwise it stays
in the outbox table, where operators read it (development). Rendering uses the brand's themed,
localized templates (``mail/<name>.subject.txt``, ``.txt`` and optional ``.html``)."""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import render_template
from flask_babel import force_locale
from jinja2 import TemplateNotFound
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import clock, jobs
from engine.db import Base


class Email(Base):
    __tablename__ = "notify_email"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[str | None] = mapped_column(String(63), index=True)
    sender: Mapped[str] = mapped_column(String(254))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    template: Mapped[str] = mapped_column(String(80))
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # outbox (no SMTP configured) | queued | sent | failed
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]


def send_email(session: Session, *, brand_id: str | None, sender: str, to: str, template: str,
               locale: str, **context: Any) -> Email:
    """Render ``template`` in ``locale`` with the current app's templates and queue it.

    Must run inside the brand's app context. Delivery happens after the session commits.
    """
    from engine.runtime import current

    with force_locale(locale):
        subject = render_template(f"mail/{template}.subject.txt", **context).strip()
        text = render_template(f"mail/{template}.txt", **context)
        try:
            html: str | None = render_template(f"mail/{template}.html", **context)
        except TemplateNotFound:
            html = None
    smtp = current().settings.smtp_url
    email = Email(brand_id=brand_id, sender=sender, recipient=to, subject=subject,
                  template=template, body_text=text, body_html=html,
                  status="queued" if smtp else "outbox")
    session.add(email)
    session.flush()
    if smtp:
        jobs.enqueue_after_commit(session, deliver_email, email.id, queue="mail")
    return email


def _smtp_connect(url: str) -> smtplib.SMTP:
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port
    if parts.scheme == "smtps":
        conn: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=20,
                                              context=ssl.create_default_context())
    else:
        conn = smtplib.SMTP(host, port or 25, timeout=20)
        if parts.scheme == "smtp+starttls":
            conn.starttls(context=ssl.create_default_context())
    if parts.username:
        conn.login(unquote(parts.username), unquote(parts.password or ""))
    return conn


def deliver_email(email_id: int) -> None:
    """Job: send one queued email by SMTP. Idempotent: a sent email is not sent again."""
    from engine.db import brand_session
    from engine.runtime import current

    rt = current()
    with brand_session(rt.sessions, None) as session:
        email = session.get(Email, email_id, with_for_update=True)
        # Only mail waiting for SMTP goes out: a sent one is never sent twice, and outbox mail
        # (written while no SMTP was configured) stays for operators to read.
        if email is None or email.status not in ("queued", "failed") or not rt.settings.smtp_url:
            return
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = email.sender, email.recipient, email.subject
        msg["Message-ID"] = make_msgid(domain="daraport")
        msg.set_content(email.body_text or "")
        if email.body_html:
            msg.add_alternative(email.body_html, subtype="html")
        email.attempts += 1
        try:
            with _smtp_connect(rt.settings.smtp_url) as conn:
                conn.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            email.status, email.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
            session.commit()
            raise
        email.status, email.sent_at, email.error = "sent", clock.now(), None
        # Sent mail may carry single-use links: keep the record, drop the content.
        email.body_text = email.body_html = None
        session.commit()
