"""SMS: the log provider by default, Twilio's REST shape against a real HTTP server on loopback,
delivery after commit, once."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy.orm import Session

from engine.runtime import current
from engine.sms import (
    LogProvider,
    SmsMessage,
    TwilioProvider,
    deliver_sms,
    provider_from_url,
    send_sms,
)


@dataclass
class FakeTwilio:
    """A real HTTP server on 127.0.0.1 that records what it is sent and answers like Twilio."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 201

    def url(self, sender: str = "+15550001111") -> str:
        return f"twilio+http://AC123:secret-token@127.0.0.1:{self.port}?from={sender}"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                  "type": self.headers.get("Content-Type"),
                                  "form": parse_qs(body, keep_blank_values=True)})
            answer = ({"sid": f"SM{len(fake.requests)}", "status": "queued"}
                      if fake.status < 400 else {"code": 21211, "message": "Invalid 'To'"})
            data = json.dumps(answer).encode()
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_sms_url_names_the_provider() -> None:
    assert isinstance(provider_from_url(None), LogProvider)
    assert isinstance(provider_from_url("log://"), LogProvider)
    twilio = provider_from_url("twilio://AC9:tok@api.twilio.com?from=+34600111222")
    assert twilio == TwilioProvider("AC9", "tok", base_url="https://api.twilio.com",
                                    sender="+34600111222")
    with pytest.raises(ValueError, match="unknown SMS provider"):
        provider_from_url("nexmo://key:secret@rest.nexmo.com")
    with pytest.raises(ValueError, match="ACCOUNT_SID"):
        provider_from_url("twilio://api.twilio.com?from=+1555")


def test_log_provider_is_the_default_and_keeps_the_message_without_sending(
        db: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("SMS_URL", raising=False)
    caplog.set_level("INFO", logger="daraport.sms")
    message = send_sms(db, brand_id="acme-clinic", to="+34600111222", body="Hola",
                       template="test")
    assert message.status == "queued"
    db.commit()  # delivery runs once the unit of work commits
    db.refresh(message)
    assert (message.status, message.provider, message.body) == ("logged", "log", "Hola")
    assert "SMS to +34600111222: Hola" in caplog.text


def test_a_rolled_back_message_is_never_delivered(
        db: Session, monkeypatch: pytest.MonkeyPatch, twilio: FakeTwilio) -> None:
    _use_sms_url(monkeypatch, twilio.url())
    send_sms(db, brand_id="acme-clinic", to="+34600111222", body="Hola", template="test")
    db.rollback()
    db.commit()
    assert twilio.requests == []
    assert db.query(SmsMessage).count() == 0


def test_twilio_adapter_posts_the_form_with_basic_auth_once(
        db: Session, monkeypatch: pytest.MonkeyPatch, twilio: FakeTwilio) -> None:
    _use_sms_url(monkeypatch, twilio.url())
    message = send_sms(db, brand_id="wellness-corp", to="+15557654321",
                       body="Reminder: 10:00 tomorrow", template="test")
    db.commit()
    db.refresh(message)
    assert len(twilio.requests) == 1
    request = twilio.requests[0]
    assert request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request["auth"] == "Basic " + base64.b64encode(b"AC123:secret-token").decode()
    assert request["type"] == "application/x-www-form-urlencoded"
    assert request["form"] == {"To": ["+15557654321"], "From": ["+15550001111"],
                               "Body": ["Reminder: 10:00 tomorrow"]}
    assert (message.status, message.provider, message.provider_id) == ("sent", "twilio", "SM1")
    assert message.body is None  # delivered: the content is not kept
    deliver_sms(message.id)  # a job run twice sends once
    assert len(twilio.requests) == 1


def test_a_refused_message_is_marked_failed_and_a_retry_sends_it(
        db: Session, monkeypatch: pytest.MonkeyPatch, twilio: FakeTwilio) -> None:
    _use_sms_url(monkeypatch, twilio.url())
    twilio.status = 400
    message = send_sms(db, brand_id="wellness-corp", to="+15557654321", body="Hi",
                       template="test")
    db.commit()  # the in-process job fails, logs, and leaves the message for a retry
    db.refresh(message)
    assert message.status == "failed"
    assert "HTTP 400" in (message.error or "") and "Invalid 'To'" in (message.error or "")
    twilio.status = 201
    deliver_sms(message.id)
    db.refresh(message)
    assert (message.status, message.attempts, message.error) == ("sent", 2, None)
    assert len(twilio.requests) == 2


def _use_sms_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """SMS_URL is a platform setting read at start-up: set it on the running runtime."""
    rt = current()
    monkeypatch.setattr(rt, "settings", replace(rt.settings, sms_url=url))
