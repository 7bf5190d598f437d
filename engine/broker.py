"""A small publish/subscribe broker for live fan-out (video signaling, live messages).

Two implementations behind one interface:

- :class:`MemoryBroker`: in-process, the embedded default; reaches subscribers of this process
  only.
- :class:`RedisBroker`: Redis pub/sub, chosen when ``REDIS_URL`` is set, so that subscribers
  connected to different web processes (or machines) receive each other's messages.

``broker_for(runtime)`` returns the one broker of a runtime (built on first use). Messages are
JSON-able dicts, read-only once published (subscribers may share one copy); channels are plain
strings that callers namespace (``video:<brand>:<id>``).
Delivery is at most once and only to subscribers present when the message is published: the
broker is for live traffic, never for anything that must survive a restart (that goes to the
database).

Use::

    sub = broker.subscribe("video:acme-clinic:12")
    try:
        broker.publish("video:acme-clinic:12", {"type": "hello"})
        message = sub.get(timeout=1.0)   # a dict, or None after the timeout
    finally:
        sub.close()
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import weakref
from collections.abc import Iterator
from typing import Any, Protocol

log = logging.getLogger(__name__)

# A subscriber that falls this far behind loses its oldest messages rather than growing memory
# without bound (a stalled browser must not take the process down).
MAX_PENDING = 1000


class Subscription(Protocol):
    """Messages of one channel for one subscriber, in publication order."""

    channel: str

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message, waiting up to ``timeout`` seconds (None: forever); None when the
        timeout passes or the subscription is closed."""

    def close(self) -> None:
        """Stop receiving; idempotent."""

    @property
    def closed(self) -> bool: ...

    def __iter__(self) -> Iterator[dict[str, Any]]: ...


class Broker(Protocol):
    def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Deliver ``message`` to every current subscriber of ``channel``."""

    def subscribe(self, channel: str) -> Subscription:
        """A subscription receiving the messages published on ``channel`` from now on."""

    def close(self) -> None:
        """Release connections; subscriptions stop."""


class _QueueSubscription:
    """A subscription fed by its broker through a bounded queue."""

    _CLOSED = object()

    def __init__(self, channel: str, on_close: Any):
        self.channel = channel
        self._queue: queue.Queue[Any] = queue.Queue(MAX_PENDING)
        self._on_close = on_close
        self._closed = False

    def _deliver(self, message: dict[str, Any]) -> None:
        if self._closed:
            return
        while True:
            try:
                self._queue.put_nowait(message)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()  # drop the oldest
                except queue.Empty:
                    pass

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        if self._closed:
            return None
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is self._CLOSED:
            return None
        return item  # type: ignore[no-any-return]

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._on_close(self)
        try:
            self._queue.put_nowait(self._CLOSED)  # wake a reader blocked in get()
        except queue.Full:
            pass

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while not self._closed:
            message = self.get()
            if message is not None:
                yield message


class MemoryBroker:
    """In-process broker: subscribers of this process only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, set[_QueueSubscription]] = {}

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        # A round trip through JSON: the same messages (and the same failures on values that
        # are not JSON-able) as through Redis, and no subscriber shares the sender's dict.
        # Subscribers share the one decoded copy: messages are read-only once published.
        delivered = json.loads(json.dumps(message))
        with self._lock:
            subscribers = list(self._channels.get(channel, ()))
        for sub in subscribers:
            sub._deliver(delivered)

    def subscribe(self, channel: str) -> _QueueSubscription:
        sub = _QueueSubscription(channel, self._unsubscribe)
        with self._lock:
            self._channels.setdefault(channel, set()).add(sub)
        return sub

    def _unsubscribe(self, sub: _QueueSubscription) -> None:
        with self._lock:
            subs = self._channels.get(sub.channel)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._channels[sub.channel]

    def subscriber_count(self, channel: str) -> int:
        with self._lock:
            return len(self._channels.get(channel, ()))

    def close(self) -> None:
        with self._lock:
            subs = [s for group in self._channels.values() for s in group]
        for sub in subs:
            sub.close()


class RedisBroker:
    """Redis pub/sub: one connection and one listener thread per process, shared by every
    subscription of the process (a connection per subscriber would not scale to many open
    calls). Local subscribers of a channel are fanned out from the one Redis subscription."""

    def __init__(self, url: str, *, prefix: str = "daraport:"):
        import redis

        self._redis = redis.Redis.from_url(url)
        self._prefix = prefix
        self._local = MemoryBroker()
        self._pubsub = self._redis.pubsub()
        self._lock = threading.Lock()
        self._confirmed: dict[str, threading.Event] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._outbox: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._publisher: threading.Thread | None = None

    def _key(self, channel: str) -> str:
        return self._prefix + channel

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Queue ``message`` for this process's publisher thread (in order), which sends what
        has queued up in one pipelined round trip: a request thread never waits for Redis, and
        a burst (ICE candidates) costs one round trip, not one each."""
        self._outbox.put((self._key(channel), json.dumps(message)))
        if self._publisher is None or not self._publisher.is_alive():
            with self._lock:
                if self._publisher is None or not self._publisher.is_alive():
                    self._publisher = threading.Thread(target=self._publish_loop,
                                                       name="daraport-broker-publish",
                                                       daemon=True)
                    self._publisher.start()

    def _publish_loop(self) -> None:
        while True:
            item = self._outbox.get()
            batch = [item]
            while item is not None and len(batch) < 500:
                try:
                    item = self._outbox.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
            pipe = self._redis.pipeline(transaction=False)
            for entry in batch:
                if entry is not None:
                    pipe.publish(*entry)
            try:
                pipe.execute()
            except Exception:  # live traffic: lost like a dropped packet, and said so
                log.exception("publishing %d message(s) to Redis failed", len(batch))
            if batch[-1] is None:  # close(): everything queued before it has gone out
                return

    def subscribe(self, channel: str) -> _QueueSubscription:
        with self._lock:
            first = self._local.subscriber_count(channel) == 0
            sub = self._local.subscribe(channel)
            sub._on_close = self._unsubscribe
            confirmed = self._confirmed.setdefault(channel, threading.Event())
            if first:
                confirmed.clear()
                self._pubsub.subscribe(self._key(channel))
            self._ensure_listener()
        # Subscribed before returning: once Redis confirms the SUBSCRIBE, a message published
        # by anyone after subscribe() returns reaches this subscriber.
        if not confirmed.wait(5.0):
            sub.close()
            raise ConnectionError(f"Redis did not confirm the subscription to {channel!r}")
        return sub

    def _unsubscribe(self, sub: _QueueSubscription) -> None:
        with self._lock:
            self._local._unsubscribe(sub)
            if self._local.subscriber_count(sub.channel) == 0:
                self._confirmed.pop(sub.channel, None)
                try:
                    self._pubsub.unsubscribe(self._key(sub.channel))
                except Exception:  # the listener reconnects and resubscribes what is left
                    pass

    def _ensure_listener(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._listen, name="daraport-broker",
                                            daemon=True)
            self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._pubsub.get_message(timeout=0.5)
            except Exception:
                if self._stop.wait(0.5):
                    return
                continue
            if item is None:
                continue
            channel = item["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            if item.get("type") == "subscribe":
                with self._lock:
                    event = self._confirmed.get(channel[len(self._prefix):])
                if event is not None:
                    event.set()
                continue
            if item.get("type") != "message":
                continue
            try:
                message = json.loads(item["data"])
            except ValueError:
                continue
            with self._lock:
                subs = list(self._local._channels.get(channel[len(self._prefix):], ()))
            for sub in subs:  # one decoded copy for all: messages are read-only
                sub._deliver(message)

    def close(self) -> None:
        if self._publisher is not None and self._publisher.is_alive():
            self._outbox.put(None)  # send what is queued, then stop
            self._publisher.join(5)
        self._stop.set()
        self._local.close()
        try:
            self._pubsub.close()
        finally:
            self._redis.close()


# id(runtime) -> its broker; a finalizer drops the entry (and closes the broker) when the
# runtime is collected (a Runtime is an unhashable dataclass, so no WeakKeyDictionary).
_brokers: dict[int, Broker] = {}
_brokers_lock = threading.Lock()


def make_broker(redis_url: str | None, namespace: str = "") -> Broker:
    """Redis pub/sub when ``redis_url`` is given, else the in-process broker. Redis pub/sub
    channels are server-wide (not per database number): ``namespace`` keeps platforms that
    share a Redis server but not a database apart."""
    if not redis_url:
        return MemoryBroker()
    return RedisBroker(redis_url, prefix=f"daraport:{namespace}:" if namespace else "daraport:")


def _forget(key: int) -> None:
    with _brokers_lock:
        found = _brokers.pop(key, None)
    if found is not None:
        found.close()


def broker_for(runtime: Any) -> Broker:
    """The broker of ``runtime`` (an ``engine.runtime.Runtime``): built once from its settings'
    ``redis_url`` and shared by every brand app of the runtime (and, through Redis, with every
    process of the same database)."""
    key = id(runtime)
    with _brokers_lock:
        found = _brokers.get(key)
        if found is None:
            # channels name rows (a visit id) of one database: one namespace per database
            namespace = hashlib.sha256(runtime.settings.database_url.encode()).hexdigest()[:12]
            found = make_broker(runtime.settings.redis_url, namespace)
            _brokers[key] = found
            weakref.finalize(runtime, _forget, key)
        return found


__all__ = ["Broker", "MemoryBroker", "RedisBroker", "Subscription", "broker_for",
           "make_broker"]
