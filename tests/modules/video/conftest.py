"""Video fixtures: live servers (real HTTP and WebSockets, committed data) with or without
Redis, and committed video appointments on them."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from werkzeug.serving import make_server

from engine.db import brand_session
from engine.platform import Platform
from engine.runtime import Runtime
from engine.settings import PlatformSettings
from tests.conftest import LiveServer
from tests.modules.video.helpers import VideoAppointment, video_appointment

REDIS_URL = os.environ.get("TEST_REDIS_URL")


def redis_answers() -> bool:
    if not REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except Exception:
        return False


@pytest.fixture
def video_server(settings: PlatformSettings, live_db_engine: Engine,
                 ) -> Iterator[Callable[..., LiveServer]]:
    """Factory: a live server (its own platform and runtime, like a web process) on the live
    database; ``redis_url`` gives its runtime a Redis broker."""
    started: list[tuple[Any, threading.Thread]] = []

    def start(redis_url: str | None = None) -> LiveServer:
        s = replace(settings, redis_url=redis_url, reload=False)
        platform = Platform(Runtime.create(s, bind=live_db_engine))
        server = make_server("127.0.0.1", 0, platform, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return LiveServer(platform, server.server_port)

    yield start
    for server, thread in started:
        server.shutdown()
        thread.join(5)


def committed_appointment(server: LiveServer, brand: str = "acme-clinic",
                          start_in: timedelta = timedelta(minutes=5),
                          **kwargs: Any) -> VideoAppointment:
    """A video appointment committed in the live database (its users' emails and ids stay
    readable after the session closes)."""
    cfg = server.platform.brands[brand].loaded.config
    session = brand_session(server.platform.runtime.sessions, None)
    try:
        made = video_appointment(session, cfg, start_in=start_in, **kwargs)
        session.commit()
        for row in (made.appointment, made.specialist, made.patient):
            session.refresh(row)
            session.expunge(row)
    finally:
        session.close()
    return made
