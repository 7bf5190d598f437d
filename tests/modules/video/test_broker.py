"""The pub/sub broker: in-process and through Redis, the same behaviour."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from engine.broker import Broker, MemoryBroker, RedisBroker, broker_for, make_broker
from tests.modules.video.conftest import REDIS_URL, redis_answers

needs_redis = pytest.mark.skipif(not redis_answers(), reason="TEST_REDIS_URL does not answer")


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    made: Broker = MemoryBroker() if request.param == "memory" else RedisBroker(REDIS_URL or "")
    yield made
    made.close()


def channel() -> str:
    return f"test:{uuid.uuid4().hex}"


def test_every_subscriber_of_a_channel_gets_each_message_in_order(broker: Broker) -> None:
    name = channel()
    subs = [broker.subscribe(name) for _ in range(3)]
    other = broker.subscribe(channel())
    for i in range(5):
        broker.publish(name, {"n": i})
    for sub in subs:
        assert [sub.get(timeout=2) for _ in range(5)] == [{"n": i} for i in range(5)]
    assert other.get(timeout=0.2) is None
    for sub in [*subs, other]:
        sub.close()


def test_a_closed_subscription_receives_nothing_and_wakes_its_reader(broker: Broker) -> None:
    name = channel()
    sub = broker.subscribe(name)
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(sub.get(timeout=5)))
    reader.start()
    sub.close()
    reader.join(2)
    assert not reader.is_alive() and got == [None]
    broker.publish(name, {"late": True})
    assert sub.get(timeout=0.2) is None and sub.closed
    sub.close()  # idempotent


def test_subscribers_get_copies_not_the_publishers_dict(broker: Broker) -> None:
    name = channel()
    a, b = broker.subscribe(name), broker.subscribe(name)
    message = {"list": [1]}
    broker.publish(name, message)
    got_a, got_b = a.get(timeout=2), b.get(timeout=2)
    assert got_a == got_b == message
    assert got_a is not message
    a.close()
    b.close()


def test_a_message_that_is_not_json_is_refused_at_publish(broker: Broker) -> None:
    with pytest.raises(TypeError):
        broker.publish(channel(), {"when": object()})


def test_memory_broker_drops_the_oldest_for_a_subscriber_that_never_reads() -> None:
    from engine import broker as module

    b = MemoryBroker()
    sub = b.subscribe("c")
    for i in range(module.MAX_PENDING + 10):
        b.publish("c", {"n": i})
    assert sub.get(timeout=1) == {"n": 10}


@needs_redis
def test_two_redis_brokers_are_two_processes_sharing_one_channel() -> None:
    first, second = RedisBroker(REDIS_URL or ""), RedisBroker(REDIS_URL or "")
    try:
        name = channel()
        sub = second.subscribe(name)
        first.publish(name, {"from": "first"})
        assert sub.get(timeout=2) == {"from": "first"}
        sub.close()
    finally:
        first.close()
        second.close()


def test_the_runtime_chooses_redis_only_when_redis_url_is_set() -> None:
    assert isinstance(make_broker(None), MemoryBroker)
    assert isinstance(make_broker("redis://127.0.0.1:1/0"), RedisBroker)

    class Settings:
        redis_url = None
        database_url = "sqlite://"

    class Rt:
        settings = Settings()

    rt = Rt()
    assert broker_for(rt) is broker_for(rt)
    assert isinstance(broker_for(rt), MemoryBroker)
