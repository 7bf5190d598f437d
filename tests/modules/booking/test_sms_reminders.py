"""SMS reminders reach a patient who gave a mobile number, on a brand that sends SMS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.identity.models import User
from engine.sms import SmsMessage
from modules.booking.models import Appointment
from modules.booking.reminders import DueReminder
from tests.modules.booking.test_reminders import (  # noqa: F401
    START,
    H,
    _mail_to,
    booked,
    sweep,
)


def test_an_sms_brand_texts_the_reminder_to_a_patient_with_a_phone(
        db: Session, booked: Callable[..., Appointment],  # noqa: F811
        sweep: Callable[[datetime], list[DueReminder]]) -> None:  # noqa: F811
    # wellness-corp has communications.sms true; SMS_URL is unset: the log provider
    appointment = booked(brand="wellness-corp")
    patient = db.get(User, appointment.patient_id)
    assert patient is not None
    patient.phone = "+12125550100"
    sent = sweep(START - 48 * H)
    assert sorted((r.channel, r.offset_hours, r.recipient) for r in sent) == [
        ("email", 48, patient.email), ("sms", 48, "+12125550100")]
    [sms] = db.scalars(select(SmsMessage).where(SmsMessage.recipient == "+12125550100"))
    assert (sms.brand_id, sms.status, sms.provider) == ("wellness-corp", "logged", "log")
    assert sms.body
    assert len(_mail_to(db, appointment)) == 1
    assert sweep(START - 48 * H) == []  # each reminder once


def test_a_brand_without_sms_emails_a_patient_with_a_phone_only(
        db: Session, booked: Callable[..., Appointment],  # noqa: F811
        sweep: Callable[[datetime], list[DueReminder]]) -> None:  # noqa: F811
    appointment = booked()  # acme-clinic: sms false
    patient = db.get(User, appointment.patient_id)
    assert patient is not None
    patient.phone = "+34600123456"
    sent = sweep(START - 24 * H)
    assert [r.channel for r in sent] == ["email"]
    assert db.scalars(select(SmsMessage).where(
        SmsMessage.recipient == "+34600123456")).all() == []
