"""Background jobs: rq on Redis when REDIS_URL is set, in-process otherwise.

Jobs take ids, never objects, and are idempotent. A job enqueued inside a unit of work runs only
after that unit commits (so it can see what the request wrote, and never runs for a rollback).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def _path(func: Callable[..., Any] | str) -> str:
    return func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"


def resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


QUEUES = ("default", "mail")
# rq retries a failed job after these delays (seconds); in-process jobs run once.
RETRY_INTERVALS = (30, 300, 1800)


def enqueue(func: Callable[..., Any] | str, *args: Any, queue: str = "default") -> str | None:
    """Run ``func(*args)`` in the background (rq) or now (in-process). Returns the rq job id."""
    from engine.runtime import current

    redis_url = current().settings.redis_url
    if redis_url:
        from redis import Redis
        from rq import Queue, Retry

        with Redis.from_url(redis_url) as conn:
            job = Queue(queue, connection=conn).enqueue(
                _path(func), *args, job_timeout=600, result_ttl=3600, failure_ttl=7 * 86400,
                retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
            )
        return str(job.id)
    try:
        resolve(_path(func))(*args)
    except Exception:  # in-process jobs must not break the request that enqueued them
        log.exception("in-process job %s%r failed", _path(func), args)
    return None


def enqueue_after_commit(session: Session, func: Callable[..., Any] | str, *args: Any,
                         queue: str = "default") -> None:
    """Enqueue once ``session``'s outermost transaction commits; dropped if it rolls back.

    Releasing a savepoint (``begin_nested``) also fires ``after_commit``: that is not the commit
    the job waits for, since the row it needs may still be rolled back. (Listeners cannot be
    removed while SQLAlchemy dispatches the event, so a flag retires them; sessions are short.)
    """
    state = {"done": False}

    def _go(sess: Session) -> None:
        if state["done"] or sess.in_nested_transaction():
            return
        state["done"] = True
        enqueue(func, *args, queue=queue)

    def _drop(sess: Session, previous: Any) -> None:
        # A rolled-back savepoint inside the unit of work does not cancel the job; only the
        # rollback of the outermost transaction does.
        if previous.nested or previous.parent is not None:
            return
        state["done"] = True

    event.listen(session, "after_commit", _go)
    event.listen(session, "after_soft_rollback", _drop)


def run_worker(queues: list[str], burst: bool = False, *, worker_class: Any = None) -> bool:
    """`cli.py worker`: an rq worker on REDIS_URL. Returns whether it did any work."""
    from redis import Redis
    from rq import Queue, Worker

    from engine.runtime import current

    url = current().settings.redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set: without Redis, jobs run in the web process")
    conn = Redis.from_url(url)
    cls = worker_class or Worker
    worker = cls([Queue(q, connection=conn) for q in queues], connection=conn)
    # The scheduler runs the delayed retries; a burst worker exits before they are due.
    return bool(worker.work(burst=burst, with_scheduler=not burst))
