"""Signaling of one participant's WebSocket, relayed through the broker.

Each open link holds one WebSocket. Its messages go to the visit's broker channel and the other
participant's connection (in this process or another, through Redis) forwards them to its
browser. The server understands just enough to keep the rules: only the specialist admits and
ends; offers, answers and ICE candidates pass only once the patient is admitted; a second
connection of the same participant replaces the first (a reload or another tab).

Protocol (JSON text frames). Browser -> server: ``present``, ``offer`` {sdp, gen},
``answer`` {sdp, gen}, ``candidate`` {candidate, gen}, ``media`` {audio, video, screen},
``admit``, ``end``, ``leave``. Server -> browser: ``welcome`` {role, admitted, iceServers},
the other side's messages with ``from`` (its role) and ``sender`` (its connection), plus
``joined``, ``left``, ``admitted``, ``ended``, ``replaced``, ``error``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.broker import Broker, Subscription

MAX_MESSAGE_CHARS = 64 * 1024
RELAYED = {"offer": ("sdp", "gen"), "answer": ("sdp", "gen"), "candidate": ("candidate", "gen"),
           "media": ("audio", "video", "screen"), "present": ()}
NEEDS_ADMISSION = frozenset({"offer", "answer", "candidate"})


def channel_of(brand: str, visit_id: int) -> str:
    return f"video:{brand}:{visit_id}"


class Socket(Protocol):
    def send(self, data: str) -> None: ...

    def receive(self, timeout: float | None = None) -> str | bytes | None: ...

    def close(self, reason: int | None = None, message: str | None = None) -> None: ...


@dataclass
class Actions:
    """What the connection does to the database (each in its own short transaction)."""

    admit: Callable[[], None]
    end: Callable[[], None]
    left: Callable[[], None]


@dataclass
class Connection:
    socket: Socket
    broker: Broker
    channel: str
    role: str
    admitted: bool
    actions: Actions
    welcome: dict[str, Any]
    conn_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _send_lock: threading.Lock = field(default_factory=threading.Lock)
    _done: threading.Event = field(default_factory=threading.Event)

    # --- sending ---------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        with self._send_lock:
            if not self._done.is_set():
                self.socket.send(json.dumps(message))

    def _publish(self, message: dict[str, Any]) -> None:
        self.broker.publish(self.channel, {**message, "from": self.role,
                                           "sender": self.conn_id})

    def _finish(self) -> None:
        if not self._done.is_set():
            self._done.set()
            try:
                self.socket.close()
            except Exception:  # already closed by the browser
                pass

    # --- the two directions ----------------------------------------------------------------

    def run(self) -> None:
        """Serve the connection until the browser leaves or the visit ends."""
        subscription = self.broker.subscribe(self.channel)
        pump = threading.Thread(target=self._pump, args=(subscription,), daemon=True,
                                name=f"video-pump-{self.conn_id[:8]}")
        try:
            self._send({"type": "welcome", **self.welcome, "role": self.role,
                        "admitted": self.admitted, "conn": self.conn_id})
            pump.start()
            self._publish({"type": "joined", "admitted": self.admitted})
            self._receive_loop()
        finally:
            ended = self._done.is_set()
            self._done.set()
            subscription.close()
            try:
                self._publish({"type": "left"})
            finally:
                self.actions.left()
                if not ended:
                    self._finish_socket_quietly()
            pump.join(2)

    def _finish_socket_quietly(self) -> None:
        try:
            self.socket.close()
        except Exception:
            pass

    def _receive_loop(self) -> None:
        while not self._done.is_set():
            try:
                raw = self.socket.receive(timeout=1.0)
            except Exception:  # the browser went away (ConnectionClosed and friends)
                return
            if raw is None:
                continue
            if isinstance(raw, bytes) or len(raw) > MAX_MESSAGE_CHARS:
                self._send({"type": "error", "code": "invalid"})
                continue
            try:
                message = json.loads(raw)
                kind = message["type"]
            except (ValueError, KeyError, TypeError):
                self._send({"type": "error", "code": "invalid"})
                continue
            if kind == "leave":
                return
            self._handle(kind, message)

    def _handle(self, kind: str, message: dict[str, Any]) -> None:
        if kind == "admit" and self.role == "specialist":
            self.actions.admit()
            self.admitted = True  # before the broadcast comes back: an offer may follow at once
            self.broker.publish(self.channel, {"type": "admitted", "from": self.role,
                                               "sender": self.conn_id})
        elif kind == "end" and self.role == "specialist":
            self.actions.end()
            self.broker.publish(self.channel, {"type": "ended", "from": self.role,
                                               "sender": self.conn_id})
        elif kind in RELAYED:
            if kind in NEEDS_ADMISSION and not self.admitted:
                self._send({"type": "error", "code": "not_admitted"})
                return
            self._publish({"type": kind, **{k: message.get(k) for k in RELAYED[kind]},
                           **({"admitted": self.admitted} if kind == "present" else {})})
        else:
            self._send({"type": "error", "code": "unknown_type"})

    def _pump(self, subscription: Subscription) -> None:
        """Broker -> browser."""
        while not self._done.is_set():
            message = subscription.get(timeout=1.0)
            if message is None:
                continue
            kind = message.get("type")
            own = message.get("sender") == self.conn_id
            try:
                if kind == "admitted":
                    self.admitted = True
                    self._send(message)
                elif kind == "ended":
                    self._send(message)
                    self._finish()
                elif own:
                    continue
                elif message.get("from") == self.role:
                    if kind == "joined":  # the same participant opened the link again
                        self._send({"type": "replaced"})
                        self._finish()
                elif kind in NEEDS_ADMISSION and not self.admitted:
                    continue
                else:
                    self._send(message)
            except Exception:  # the socket closed under us: the receive loop ends too
                self._finish()


__all__ = ["Actions", "Connection", "channel_of"]
