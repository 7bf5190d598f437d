"""Fixtures of the identity tests: a real SMTP server on loopback and runtime settings edits."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller

from engine.platform import Platform


@dataclass
class SmtpSink:
    """Messages an aiosmtpd server on 127.0.0.1 received."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.received.set()
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=_free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def runtime_settings(platform: Platform, db: Any) -> Iterator[Callable[..., None]]:
    """``runtime_settings(smtp_url=..., redis_url=...)`` for one test; restored afterwards."""
    rt = platform.runtime
    original = rt.settings

    def change(**values: Any) -> None:
        rt.settings = replace(rt.settings, **values)

    try:
        yield change
    finally:
        rt.settings = original


@pytest.fixture
def client_ip() -> str:
    """A client address of this test alone, so sign-in failure counters never meet another
    test's (on SQLite, rows written by requests outlive the per-test rollback; see report)."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "no text part"
    return str(part.get_content())
