"""The one notification service. Email goes out by SMTP when SMTP_URL is set; otherwise it stays
in the outbox table, where operators read it (development). Rendering uses the brand's themed,
localized templates (``mail/<name>.subject.txt``, ``.txt`` and optional ``.html``; a module's
mail names its own folder: ``booking/mail/confirmed``). Small text attachments (an ``.ics``)
travel with the email row, so the outbox shows them and delivery attaches them."""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, TypedDict
from urllib.parse import unquote, urlsplit

from flask import render_template
from flask_babel import force_locale
from jinja2 import TemplateNotFound
from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import clock, jobs
from engine.db import Base

# an attachment is kept in the email row: only small text files (an .ics) belong there
MAX_ATTACHMENT_CHARS = 64 * 1024


class Attachment(TypedDict):
    """A small text attachment: ``{"filename", "content_type", "content"}``."""

    filename: str
    content_type: str
    content: str


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
    attachments: Mapped[list[Attachment] | None] = mapped_column(JSON)
    # outbox (no SMTP configured) | queued | sent | failed
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]


def _template_path(template: str) -> str:
    """'verify' -> 'mail/verify' (the theme's mail); 'booking/mail/confirmed' stays as is."""
    return template if "/" in template else f"mail/{template}"


def _checked(attachments: list[Attachment] | None) -> list[Attachment] | None:
    if not attachments:
        return None
    for a in attachments:
        if set(a) != {"filename", "content_type", "content"} or "/" not in a["content_type"]:
            raise ValueError(f"an attachment is {{filename, content_type, content}}: {a!r}")
        if len(a["content"]) > MAX_ATTACHMENT_CHARS:
            raise ValueError(f"attachment {a['filename']!r} is too large for the email row")
    return [Attachment(filename=a["filename"], content_type=a["content_type"],
                       content=a["content"]) for a in attachments]


def send_email(session: Session, *, brand_id: str | None, sender: str, to: str, template: str,
               locale: str, attachments: list[Attachment] | None = None,
               **context: Any) -> Email:
    """Render ``template`` in ``locale`` with the current app's templates and queue it.

    ``attachments`` are small text files (e.g. ``text/calendar``) kept with the email.
    Must run inside the brand's app context. Delivery happens after the session commits.
    """
    from engine.runtime import current

    path = _template_path(template)
    with force_locale(locale):
        subject = render_template(f"{path}.subject.txt", **context).strip()
        text = render_template(f"{path}.txt", **context)
        try:
            html: str | None = render_template(f"{path}.html", **context)
        except TemplateNotFound:
            html = None
    smtp = current().settings.smtp_url
    email = Email(brand_id=brand_id, sender=sender, recipient=to, subject=subject,
                  template=template[:80], body_text=text, body_html=html,
                  attachments=_checked(attachments),
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
        for a in email.attachments or []:
            maintype, _, subtype = a["content_type"].partition("/")
            if maintype == "text":
                params = {"method": _ics_method(a["content"])} if subtype == "calendar" else {}
                msg.add_attachment(a["content"], subtype=subtype, filename=a["filename"],
                                   params=params)
            else:
                msg.add_attachment(a["content"].encode(), maintype=maintype, subtype=subtype,
                                   filename=a["filename"])
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
        email.attachments = None
        session.commit()


def _ics_method(content: str) -> str:
    """The METHOD of an iCalendar text (mail clients read it from the part's parameters)."""
    for line in content.splitlines():
        if line.upper().startswith("METHOD:"):
            return line.split(":", 1)[1].strip()
    return "PUBLISH"
