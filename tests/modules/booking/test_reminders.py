"""Reminders: due by the brand's offsets, once (also across two concurrent sweeps), following a
rescheduled appointment, none for a cancelled one or a missed offset, in the patient's language
and zone; the CLI's dry run and the scheduler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from engine import clock
from engine.brand_context import brand_apps, rendering
from engine.cli import main
from engine.config import BrandConfig
from engine.db import brand_session, make_sessionmaker
from engine.identity.models import User
from engine.migrate import upgrade
from engine.notify import Email
from engine.platform import Platform
from engine.runtime import set_current
from engine.settings import ROOT
from engine.sms import SmsMessage
from modules.booking import changes, services
from modules.booking.models import Appointment, AppointmentType
from modules.booking.models_reminders import ReminderSent
from modules.booking.reminders import DueReminder, due_offset, send_due_reminders
from tests.modules.booking.conftest import Practice

# Monday 7 December 2026, 10:00 in Madrid (CET, UTC+1); acme-clinic reminds 24 h and 2 h before
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
BOOKED = START - timedelta(days=7)
H = timedelta(hours=1)


@pytest.fixture
def sweep(platform: Platform, db: Session) -> Callable[[datetime], list[DueReminder]]:
    """Run the sweep at ``now`` the way the job does: its own platform-wide session."""

    def run(now: datetime) -> list[DueReminder]:
        db.commit()  # the test's own writes are the committed data the sweep reads
        with clock.freeze(now), brand_session(platform.runtime.sessions, None) as session:
            return send_due_reminders(session, now)

    return run


@pytest.fixture
def booked(db: Session, brands: dict[str, BrandConfig], practice: Callable[..., Practice],
           create_user: Callable[..., User]) -> Callable[..., Appointment]:
    """Factory: an appointment booked at ``booked_at`` on acme-clinic for a new patient."""

    def make(start: datetime = START, booked_at: datetime = BOOKED, *, locale: str | None = None,
             zone: str | None = None, brand: str = "acme-clinic") -> Appointment:
        p = practice()
        patient = create_user(role="patient", brand=brand, name="Ana Pérez")
        patient.locale, patient.timezone = locale, zone
        kind = p.appointment_type
        if brand != "acme-clinic":  # the practice's type is offered on acme-clinic
            kind = AppointmentType(brand_id=brand, specialist_id=p.specialist.id,
                                   name="Session", duration_minutes=60, modality="video",
                                   currency="USD")
            db.add(kind)
        db.flush()
        with clock.freeze(booked_at):
            return services.book(db, patient, brands[brand], p.specialist.id, kind.id, start)

    return make


def _mail_to(db: Session, appointment: Appointment) -> list[Email]:
    """The reminders the appointment's patient was emailed."""
    patient = db.get(User, appointment.patient_id)
    assert patient is not None
    return list(db.scalars(select(Email).where(Email.recipient == patient.email,
                                               Email.template == "booking/mail/reminder")
                           .order_by(Email.id)))


def test_due_offset_is_the_latest_passed_offset_within_its_grace() -> None:
    offsets = (24, 2)
    assert due_offset(offsets, START, BOOKED, START - 25 * H) is None
    assert due_offset(offsets, START, BOOKED, START - 24 * H) == 24
    assert due_offset(offsets, START, BOOKED, START - 12 * H) == 24  # 12 h late: still sent
    assert due_offset(offsets, START, BOOKED, START - 11 * H) is None  # later: stale
    assert due_offset(offsets, START, BOOKED, START - 2 * H + timedelta(minutes=1)) == 2
    assert due_offset(offsets, START, BOOKED, START - timedelta(minutes=59)) is None
    assert due_offset(offsets, START, BOOKED, START) is None  # started: never
    # booked after the 24-h moment: the confirmation was the reminder
    assert due_offset(offsets, START, START - 20 * H, START - 19 * H) is None


def test_reminders_go_out_at_each_offset_once(db: Session, booked: Callable[..., Appointment],
                                              sweep: Callable[[datetime], list[DueReminder]],
                                              ) -> None:
    appointment = booked()
    assert sweep(START - 25 * H) == []
    sent = sweep(START - 24 * H + timedelta(minutes=1))
    assert [(r.appointment_id, r.channel, r.offset_hours) for r in sent] == [
        (appointment.id, "email", 24)]
    assert sweep(START - 24 * H + timedelta(minutes=2)) == []  # the next tick: already sent
    assert sweep(START - 3 * H) == []
    assert [r.offset_hours for r in sweep(START - 2 * H)] == [2]
    assert sweep(START - H) == []
    assert sweep(START + timedelta(minutes=1)) == []
    mails = _mail_to(db, appointment)
    assert len(mails) == 2
    assert db.scalar(select(func.count(ReminderSent.id))
                     .where(ReminderSent.appointment_id == appointment.id)) == 2


def test_a_worker_down_for_a_day_sends_no_stale_reminders(
        db: Session, booked: Callable[..., Appointment],
        sweep: Callable[[datetime], list[DueReminder]]) -> None:
    appointment = booked()
    # back 90 minutes before the start: the 24-h reminder is stale, the 2-h one still useful
    assert [r.offset_hours for r in sweep(START - 90 * timedelta(minutes=1))] == [2]
    week_later = START + 7 * 24 * H
    other = booked(week_later)
    # back 30 minutes before: even the 2-h reminder is too late
    assert sweep(week_later - timedelta(minutes=30)) == []
    assert len(_mail_to(db, appointment)) == 1 and _mail_to(db, other) == []


def test_a_cancelled_appointment_gets_no_reminder(
        db: Session, booked: Callable[..., Appointment],
        sweep: Callable[[datetime], list[DueReminder]]) -> None:
    appointment = booked()
    appointment.status = "cancelled"
    assert sweep(START - 24 * H) == []
    assert _mail_to(db, appointment) == []


def test_a_patient_cancelled_appointment_gets_no_reminder(
        db: Session, brands: dict[str, BrandConfig], booked: Callable[..., Appointment],
        sweep: Callable[[datetime], list[DueReminder]]) -> None:
    appointment = booked()
    patient = db.get(User, appointment.patient_id)
    with clock.freeze(BOOKED + H), rendering(brand_apps()["acme-clinic"]):
        changes.cancel(db, patient, brands["acme-clinic"], appointment.id)
    assert sweep(START - 24 * H) == [] and sweep(START - 2 * H) == []
    assert _mail_to(db, appointment) == []


def test_a_patient_rescheduled_appointment_is_reminded_at_the_new_time_only(
        db: Session, brands: dict[str, BrandConfig], booked: Callable[..., Appointment],
        sweep: Callable[[datetime], list[DueReminder]]) -> None:
    appointment = booked()
    patient = db.get(User, appointment.patient_id)
    later = START + 7 * 24 * H
    with clock.freeze(BOOKED + H), rendering(brand_apps()["acme-clinic"]):
        changes.reschedule(db, patient, brands["acme-clinic"], appointment.id, later)
    assert sweep(START - 24 * H) == []
    assert [(r.offset_hours, r.start_at) for r in sweep(later - 24 * H)] == [(24, later)]
    assert len(_mail_to(db, appointment)) == 1


def test_an_appointment_moved_after_its_reminder_is_reminded_again_for_its_new_time(
        db: Session, booked: Callable[..., Appointment],
        sweep: Callable[[datetime], list[DueReminder]]) -> None:
    appointment = booked()
    assert len(sweep(START - 24 * H)) == 1
    later = START + 7 * 24 * H
    shift = later - appointment.start_at
    appointment.start_at += shift
    appointment.end_at += shift
    appointment.blocked_start_at += shift
    appointment.blocked_end_at += shift
    assert sweep(START - 2 * H) == []  # the old time's reminders are gone
    sent = sweep(later - 24 * H)
    assert [(r.offset_hours, r.start_at) for r in sent] == [(24, later)]
    mails = _mail_to(db, appointment)
    assert len(mails) == 2
    assert "14 de diciembre" in mails[-1].subject


def test_the_reminder_speaks_the_patients_language_and_zone(
        db: Session, booked: Callable[..., Appointment],
        sweep: Callable[[datetime], list[DueReminder]]) -> None:
    # acme-clinic is in Madrid; the patient reads Spanish in Santiago (UTC-3 in December)
    appointment = booked(locale="es", zone="America/Santiago")
    sweep(START - 24 * H)
    [mail] = _mail_to(db, appointment)
    body = mail.body_text or ""
    assert "lunes, 7 de diciembre de 2026" in mail.subject and "6:00" in mail.subject
    assert body.startswith("Hola, Ana Pérez:")  # the catalogue's Spanish greeting
    assert "lunes, 7 de diciembre de 2026" in body and "6:00" in body and "10:00" not in body
    assert "America/Santiago" in body
    assert "Dr Vega" in body
    assert mail.sender == "Acme Clinic <citas@acme-clinic.example>"


def test_an_english_patient_on_a_spanish_brand_reads_english(
        db: Session, booked: Callable[..., Appointment],
        sweep: Callable[[datetime], list[DueReminder]]) -> None:
    appointment = booked(locale="en", zone="Europe/London")
    sweep(START - 24 * H)
    [mail] = _mail_to(db, appointment)
    assert "Monday, December 7, 2026" in mail.subject
    assert "9:00" in (mail.body_text or "") and "Europe/London" in (mail.body_text or "")


def test_sms_brand_without_a_patient_phone_sends_the_email_only(
        db: Session, booked: Callable[..., Appointment],
        sweep: Callable[[datetime], list[DueReminder]]) -> None:
    # wellness-corp has sms: true and reminds 48, 24 and 1 h before; accounts hold no phone
    appointment = booked(brand="wellness-corp")
    sent = sweep(START - 48 * H)
    assert [(r.channel, r.offset_hours) for r in sent] == [("email", 48)]
    assert db.scalar(select(func.count(SmsMessage.id))) == 0
    assert len(_mail_to(db, appointment)) == 1


def test_send_reminders_dry_run_prints_and_sends_nothing(
        db: Session, booked: Callable[..., Appointment]) -> None:
    appointment = booked()
    db.commit()
    runner = CliRunner()
    with clock.freeze(START - 24 * H):
        dry = runner.invoke(main, ["booking", "send-reminders", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert f"would send acme-clinic appointment {appointment.id}" in dry.output
        assert "1 reminder(s) would be sent" in dry.output
        assert _mail_to(db, appointment) == []
        assert db.scalar(select(func.count(ReminderSent.id))) == 0
        real = runner.invoke(main, ["booking", "send-reminders"])
        assert real.exit_code == 0, real.output
        assert "1 reminder(s) sent" in real.output
    assert len(_mail_to(db, appointment)) == 1


def test_scheduler_sweeps_every_interval_and_sends_once(
        db: Session, booked: Callable[..., Appointment]) -> None:
    appointment = booked()
    db.commit()
    with clock.freeze(START - 2 * H):
        result = CliRunner().invoke(main, ["booking", "scheduler", "--interval", "1",
                                           "--max-runs", "2"])
    assert result.exit_code == 0, result.output
    assert "run by this process" in result.output and "after 2 run(s)" in result.output
    assert len(_mail_to(db, appointment)) == 1


# --- two workers, separate connections, committed data ----------------------------------------


def test_two_concurrent_sweeps_send_each_reminder_exactly_once(platform: Platform,
                                                               db_engine: Engine) -> None:
    rt = platform.runtime
    set_current(rt)
    factory = make_sessionmaker(db_engine)
    tag = uuid.uuid4().hex[:8]
    starts = [START + i * H for i in range(6)]
    now = starts[-1] - 24 * H + timedelta(minutes=1)  # every 24-h reminder is due
    with brand_session(factory, None) as s:
        specialist = User(realm="network:care-collective", role="specialist",
                          network="care-collective", email=f"spec-{tag}@example.com",
                          name="Dr Race", password_hash="x")
        patients = [User(realm="brand:acme-clinic", role="patient", brand_id="acme-clinic",
                         email=f"race-{tag}-{i}@example.com", name=f"P{i}", password_hash="x")
                    for i in range(len(starts))]
        s.add_all([specialist, *patients])
        s.flush()
        kind = AppointmentType(brand_id="acme-clinic", specialist_id=specialist.id,
                               name="Visit", duration_minutes=60, modality="video",
                               currency="EUR")
        s.add(kind)
        s.flush()
        s.add_all([Appointment(brand_id="acme-clinic", specialist_id=specialist.id,
                               patient_id=p.id, appointment_type_id=kind.id, booked_by_id=p.id,
                               modality="video", start_at=t, end_at=t + H, blocked_start_at=t,
                               blocked_end_at=t + H, status="confirmed", price_minor=0,
                               currency="EUR", created_at=BOOKED)
                   for p, t in zip(patients, starts, strict=True)])
        s.commit()
        user_ids = [specialist.id, *(p.id for p in patients)]
        recipients = [p.email for p in patients]
    apps = brand_apps(rt)
    barrier = threading.Barrier(2)
    results: list[list[DueReminder]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with brand_session(factory, None) as session:
                barrier.wait(10)
                results.append(send_due_reminders(session, now, brands=apps))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        sent = [r.appointment_id for batch in results for r in batch]
        assert len(results) == 2 and len(sent) == len(starts) == len(set(sent))
        with brand_session(factory, None) as s:
            assert s.scalar(select(func.count(Email.id))
                            .where(Email.recipient.in_(recipients))) == len(starts)
            assert s.scalar(select(func.count(ReminderSent.id))
                            .where(ReminderSent.appointment_id.in_(sent))) == len(starts)
            # a restart runs the sweep again: nothing more goes out
            assert send_due_reminders(s, now, brands=apps) == []
    finally:
        with brand_session(factory, None) as s:
            s.execute(delete(Email).where(Email.recipient.in_(recipients)))
            ids = select(Appointment.id).where(Appointment.specialist_id == user_ids[0])
            s.execute(delete(ReminderSent).where(ReminderSent.appointment_id.in_(ids)))
            s.execute(delete(Appointment).where(Appointment.specialist_id == user_ids[0]))
            s.execute(delete(AppointmentType).where(AppointmentType.specialist_id
                                                    == user_ids[0]))
            s.execute(delete(User).where(User.id.in_(user_ids)))
            s.commit()


def test_scheduler_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scheduler.db'}"
    upgrade(url)
    env = {**os.environ, "DATABASE_URL": url, "DARAPORT_INSTANCE_DIR": str(tmp_path),
           "SECRET_KEY": "test", "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "cli.py", "booking", "scheduler"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        assert proc.stdout is not None
        assert "Ctrl-C stops" in proc.stdout.readline()
        time.sleep(0.5)  # inside the minute's sleep
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=10)  # the sleep is bounded: it stops at once
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "scheduler stopped" in output and "Traceback" not in output
