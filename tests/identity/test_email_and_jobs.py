"""Email through the one notification service: outbox, SMTP in process, rq on Redis; jobs."""

from __future__ import annotations

import os
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine import jobs
from engine.cli import main
from engine.db import brand_session
from engine.notify import Email, deliver_email
from tests.conftest import link_in
from tests.identity.conftest import body_of, path_of

# What in-process jobs of these tests ran (a real job function, called through jobs.enqueue).
RAN: list[int] = []


def record_run(value: int) -> None:
    RAN.append(value)


def _email(db: Any, email_id: int) -> Email:
    db.expire_all()
    found = db.get(Email, email_id)
    assert found is not None
    return found


def test_without_smtp_the_email_stays_in_the_outbox_with_its_body(client, create_user, outbox):
    user = create_user()
    client.submit("/account/reset", {"email": user.email})
    mail = outbox()[-1]
    assert (mail.recipient, mail.status, mail.attempts, mail.sent_at) == \
        (user.email, "outbox", 0, None)
    assert "/account/reset/" in link_in(mail)


def test_with_smtp_the_reset_mail_arrives_with_its_link_and_the_stored_body_is_purged(
        client, db, create_user, outbox, runtime_settings, smtp_server):
    runtime_settings(smtp_url=smtp_server.url)
    user = create_user()
    assert client.submit("/account/reset", {"email": user.email}).status_code == 200
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == user.email
    assert message["From"] == "Acme Clinic <citas@acme-clinic.example>"
    stored = _email(db, outbox()[-1].id)
    assert (stored.status, stored.attempts) == ("sent", 1)
    assert stored.sent_at is not None
    assert stored.body_text is None and stored.body_html is None
    link = next(w for w in body_of(message).split() if "/account/reset/" in w)
    assert link.startswith("http://acme.localhost/account/reset/")
    assert client.get(path_of(link)).status_code == 200


def test_delivering_the_same_email_twice_sends_it_once(client, db, create_user, outbox,
                                                       runtime_settings, smtp_server):
    runtime_settings(smtp_url=smtp_server.url)
    user = create_user()
    client.submit("/account/reset", {"email": user.email})
    email_id = outbox()[-1].id
    assert len(smtp_server.messages) == 1
    deliver_email(email_id)
    jobs.enqueue(deliver_email, email_id)
    assert len(smtp_server.messages) == 1
    assert _email(db, email_id).attempts == 1


def test_a_failed_delivery_is_kept_and_a_retry_sends_it(client, db, create_user, outbox,
                                                        runtime_settings, smtp_server):
    runtime_settings(smtp_url=f"smtp://127.0.0.1:{_closed_port()}")  # nothing listens
    user = create_user()
    client.submit("/account/reset", {"email": user.email})
    email_id = outbox()[-1].id
    failed = _email(db, email_id)
    assert failed.status == "failed" and failed.error and failed.body_text
    runtime_settings(smtp_url=smtp_server.url)
    deliver_email(email_id)
    sent = _email(db, email_id)
    assert (sent.status, sent.attempts, sent.error, sent.body_text) == ("sent", 2, None, None)
    assert len(smtp_server.messages) == 1


def test_outbox_mail_is_not_sent_when_smtp_appears_later(client, db, create_user, outbox,
                                                         runtime_settings, smtp_server):
    user = create_user()
    client.submit("/account/reset", {"email": user.email})
    email_id = outbox()[-1].id
    runtime_settings(smtp_url=smtp_server.url)
    deliver_email(email_id)
    assert smtp_server.messages == []
    assert _email(db, email_id).status == "outbox"


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed when the block ends: nothing listens there


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"),
                    reason="TEST_REDIS_URL is not set: no Redis server for the rq worker test")
def test_with_redis_an_rq_worker_delivers_the_mail(client, db, create_user, outbox,
                                                   runtime_settings, smtp_server):
    from redis import Redis
    from rq import Queue, SimpleWorker

    url = os.environ["TEST_REDIS_URL"]
    runtime_settings(smtp_url=smtp_server.url, redis_url=url)
    with Redis.from_url(url) as conn:
        queue = Queue("mail", connection=conn)
        queue.empty()
        user = create_user()
        assert client.submit("/account/reset", {"email": user.email}).status_code == 200
        email_id = outbox()[-1].id
        assert _email(db, email_id).status == "queued"
        assert smtp_server.messages == []  # not sent by the web request
        assert queue.count == 1
        assert jobs.run_worker(["mail"], burst=True, worker_class=SimpleWorker)
        assert queue.count == 0
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["To"] == user.email
    assert _email(db, email_id).status == "sent"


# --- jobs and the unit of work -----------------------------------------------------------------


def test_a_job_enqueued_in_a_unit_of_work_runs_after_its_commit(platform, db):
    RAN.clear()
    session = brand_session(platform.runtime.sessions, None)
    jobs.enqueue_after_commit(session, record_run, 1)
    session.execute(select(1))
    assert RAN == []
    session.commit()
    assert RAN == [1]
    session.close()


def test_a_job_of_a_rolled_back_unit_of_work_never_runs(platform, db):
    RAN.clear()
    session = brand_session(platform.runtime.sessions, None)
    jobs.enqueue_after_commit(session, record_run, 2)
    session.execute(select(1))
    session.rollback()
    session.commit()
    assert RAN == []
    session.close()


def test_a_rolled_back_savepoint_does_not_cancel_the_job(platform, db):
    RAN.clear()
    session = brand_session(platform.runtime.sessions, None)
    jobs.enqueue_after_commit(session, record_run, 3)
    nested = session.begin_nested()
    session.execute(select(1))
    nested.rollback()
    session.commit()
    assert RAN == [3]
    session.close()


def test_worker_command_without_redis_says_so(db):
    result = CliRunner().invoke(main, ["worker", "--burst"])
    assert result.exit_code == 1
    assert "REDIS_URL is not set" in result.output


def test_a_released_savepoint_does_not_run_the_job_before_the_commit(db, platform):
    from sqlalchemy import text

    from engine import jobs
    from engine.db import brand_session

    ran: list[int] = []
    session = brand_session(platform.runtime.sessions, None)
    try:
        session.execute(text("SELECT 1"))
        jobs.enqueue_after_commit(session, _record, 7)
        _RAN.clear()
        with session.begin_nested():
            session.execute(text("SELECT 1"))
        ran.extend(_RAN)
        assert ran == []  # the savepoint was released, the unit of work is still open
        session.commit()
        assert _RAN == [7]
        session.execute(text("SELECT 1"))
        session.commit()
        assert _RAN == [7]  # once
    finally:
        session.close()


_RAN: list[int] = []


def _record(value: int) -> None:
    _RAN.append(value)
