"""Listeners on appointments, for modules that build on booking without booking importing them
(payments prices an appointment when it is booked and refunds it when it is cancelled).

A listener registered with :func:`on_booked` runs inside :func:`modules.booking.services.book`
after the appointment is written, in the same transaction: raising a ``UserError`` refuses the
booking and writes nothing. One registered with :func:`on_cancelled` runs when an appointment's
time is freed (patient or specialist cancellation, a withdrawn offer, an expired hold); it must
be idempotent (a freed appointment may be reported twice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from modules.booking.models import Appointment

BookedListener = Callable[[Session, User, BrandConfig, Appointment], Any]
CancelledListener = Callable[[Session, BrandConfig, Appointment], Any]

_booked: list[BookedListener] = []
_cancelled: list[CancelledListener] = []


def on_booked(listener: BookedListener) -> BookedListener:
    """Call ``listener(session, actor, brand, appointment)`` after each booking (once per
    listener, however often it is registered)."""
    if listener not in _booked:
        _booked.append(listener)
    return listener


def on_cancelled(listener: CancelledListener) -> CancelledListener:
    """Call ``listener(session, brand, appointment)`` when an appointment's time is freed."""
    if listener not in _cancelled:
        _cancelled.append(listener)
    return listener


def appointment_booked(session: Session, actor: User, brand: BrandConfig,
                       appointment: Appointment) -> None:
    for listener in _booked:
        listener(session, actor, brand, appointment)


def appointment_cancelled(session: Session, brand: BrandConfig, appointment: Appointment) -> None:
    for listener in _cancelled:
        listener(session, brand, appointment)
