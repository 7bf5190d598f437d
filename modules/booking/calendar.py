"""A specialist's calendar: its time zone, weekly availability rules, date overrides and
appointment types. Only the specialist (a member of the brand) manages them."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING

from babel.numbers import get_currency_precision
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from engine.identity.services import is_member
from engine.web import UserError
from modules.booking.models import AppointmentType, Calendar, DateOverride, WeeklyRule
from modules.booking.schemas import (
    AppointmentTypeInput,
    OverrideInput,
    WeeklyRangeInput,
    parse_zone,
)

if TYPE_CHECKING:
    from modules.booking import BookingSettings

MAX_RANGES_A_DAY = 12


def booking_settings(brand: BrandConfig) -> BookingSettings:
    """The brand's booking settings; 404 where the module is off."""
    settings = brand.module_settings("booking")
    if settings is None:
        raise UserError(str(_l("Booking is not available here.")), code="not_found", status=404)
    return settings  # type: ignore[return-value]


def _require_specialist(session: Session, actor: User, brand: BrandConfig) -> None:
    if actor.role != "specialist" or not is_member(session, brand, actor):
        raise UserError(str(_l("Only specialists of this brand manage availability.")),
                        code="forbidden", status=403)


# --- the specialist's calendar ----------------------------------------------------------------


def calendar_of(session: Session, specialist_id: int) -> Calendar | None:
    """The specialist's calendar, if they have set one up."""
    return session.scalar(select(Calendar).where(Calendar.specialist_id == specialist_id))


def set_calendar_zone(session: Session, actor: User, brand: BrandConfig,
                      timezone: str) -> Calendar:
    """Create the actor's calendar, or change the zone its rules are read in."""
    booking_settings(brand)
    _require_specialist(session, actor, brand)
    zone = parse_zone(timezone)
    calendar = calendar_of(session, actor.id)
    if calendar is None:
        calendar = Calendar(specialist_id=actor.id, timezone=zone)
        session.add(calendar)
    calendar.timezone = zone
    session.flush()
    return calendar


def _own_calendar(session: Session, actor: User, brand: BrandConfig) -> Calendar:
    booking_settings(brand)
    _require_specialist(session, actor, brand)
    calendar = calendar_of(session, actor.id)
    if calendar is None:
        calendar = Calendar(specialist_id=actor.id,
                            timezone=actor.timezone or brand.timezone)
        session.add(calendar)
        session.flush()
    return calendar


def weekly_rules(session: Session, calendar: Calendar) -> list[WeeklyRule]:
    """The calendar's weekly ranges, by weekday and start."""
    return list(session.scalars(select(WeeklyRule).where(WeeklyRule.calendar_id == calendar.id)
                                .order_by(WeeklyRule.weekday, WeeklyRule.start_minute)))


def set_weekly_rules(session: Session, actor: User, brand: BrandConfig,
                     ranges: list[WeeklyRangeInput]) -> list[WeeklyRule]:
    """Replace the actor's weekly availability with ``ranges`` (local times of the calendar)."""
    calendar = _own_calendar(session, actor, brand)
    per_day = Counter(r.weekday for r in ranges)
    if per_day and max(per_day.values()) > MAX_RANGES_A_DAY:
        raise UserError(str(_l("At most %(n)d ranges a day.", n=MAX_RANGES_A_DAY)), code="too_many",
                        field="ranges")
    ordered = sorted(ranges, key=lambda r: (r.weekday, r.start_minute))
    if any(a.weekday == b.weekday and b.start_minute < a.end_minute
           for a, b in zip(ordered, ordered[1:], strict=False)):
        raise UserError(str(_l("Two ranges of the same day overlap.")), code="overlap",
                        field="ranges")
    session.execute(delete(WeeklyRule).where(WeeklyRule.calendar_id == calendar.id))
    session.add_all(WeeklyRule(calendar_id=calendar.id, weekday=r.weekday,
                               start_minute=r.start_minute, end_minute=r.end_minute)
                    for r in ranges)
    session.flush()
    return weekly_rules(session, calendar)


def overrides(session: Session, calendar: Calendar) -> list[DateOverride]:
    """The calendar's date overrides, oldest first."""
    return list(session.scalars(select(DateOverride)
                                .where(DateOverride.calendar_id == calendar.id)
                                .order_by(DateOverride.on_date, DateOverride.start_at,
                                          DateOverride.id)))


def add_override(session: Session, actor: User, brand: BrandConfig,
                 data: OverrideInput) -> DateOverride:
    """Add extra hours, a day off or a time-off period to the actor's calendar."""
    calendar = _own_calendar(session, actor, brand)
    row = DateOverride(calendar_id=calendar.id, kind=data.kind, on_date=data.on_date,
                       start_minute=data.start_minute, end_minute=data.end_minute,
                       start_at=data.start_at, end_at=data.end_at)
    session.add(row)
    session.flush()
    return row


def remove_override(session: Session, actor: User, brand: BrandConfig, override_id: int) -> None:
    """Delete one of the actor's overrides (someone else's answers 404)."""
    calendar = _own_calendar(session, actor, brand)
    row = session.get(DateOverride, override_id)
    if row is None or row.calendar_id != calendar.id:
        raise UserError(str(_l("This override does not exist.")), code="not_found", status=404)
    session.delete(row)
    session.flush()


# --- appointment types ------------------------------------------------------------------------


def _minor_units(amount: Decimal, currency: str) -> int:
    scaled = amount * (10 ** get_currency_precision(currency))
    if scaled != scaled.to_integral_value():
        raise UserError(str(_l("%(currency)s has no amounts that small.", currency=currency)),
                        code="invalid_price", field="price")
    return int(scaled)


def _price_minor(brand: BrandConfig, data: AppointmentTypeInput) -> int:
    """The type's price under the brand's pricing rules, in minor units of its currency."""
    pricing = brand.pricing
    if data.catalog_key is not None:
        entry = next((t for t in pricing.appointment_types if t.key == data.catalog_key), None)
        if entry is None:
            raise UserError(str(_l("%(brand)s has no appointment type “%(key)s”.",
                                   brand=brand.name, key=data.catalog_key)),
                            code="invalid", field="catalog_key")
        if entry.price is not None:
            if data.price is not None and data.price != entry.price:
                raise UserError(str(_l("The price of this type is set by %(brand)s.",
                                       brand=brand.name)),
                                code="price_fixed", field="price")
            return _minor_units(entry.price, brand.currency)
    elif pricing.strategy != "specialist_defined":
        # only a specialist_defined brand lets specialists name their own price
        raise UserError(str(_l("%(brand)s sets prices: choose one of its appointment types.",
                               brand=brand.name)),
                        code="price_fixed", field="catalog_key")
    if data.price is None:
        raise UserError(str(_l("Give a price.")), code="invalid", field="price")
    low, high = pricing.specialist_price_min, pricing.specialist_price_max
    if (low is not None and data.price < low) or (high is not None and data.price > high):
        raise UserError(str(_l("The price is between %(low)s and %(high)s %(currency)s here.",
                               low=low, high=high, currency=brand.currency)),
                        code="invalid_price", field="price")
    return _minor_units(data.price, brand.currency)


def save_appointment_type(session: Session, actor: User, brand: BrandConfig,
                          data: AppointmentTypeInput,
                          appointment_type_id: int | None = None) -> AppointmentType:
    """Create one of the actor's appointment types on ``brand``, or update it."""
    _own_calendar(session, actor, brand)
    price_minor = _price_minor(brand, data)
    if appointment_type_id is None:
        row = AppointmentType(specialist_id=actor.id, brand_id=brand.slug)
        session.add(row)
    else:
        row = appointment_type_for(session, brand, appointment_type_id, actor.id)
    for field in ("name", "duration_minutes", "modality", "location", "buffer_before_minutes",
                  "buffer_after_minutes", "min_notice_minutes", "max_days_ahead",
                  "slot_interval_minutes", "daily_cap", "weekly_cap", "needs_confirmation",
                  "bookable_by"):
        setattr(row, field, getattr(data, field))
    row.price_minor, row.currency = price_minor, brand.currency
    session.flush()
    return row


def appointment_types(session: Session, brand: BrandConfig, specialist_id: int) -> list[
        AppointmentType]:
    """The specialist's active appointment types on ``brand``."""
    return list(session.scalars(select(AppointmentType).where(
        AppointmentType.brand_id == brand.slug, AppointmentType.specialist_id == specialist_id,
        AppointmentType.active.is_(True)).order_by(AppointmentType.name, AppointmentType.id)))


def appointment_type_for(session: Session, brand: BrandConfig, appointment_type_id: int,
                      specialist_id: int) -> AppointmentType:
    row = session.scalar(select(AppointmentType).where(
        AppointmentType.id == appointment_type_id, AppointmentType.brand_id == brand.slug,
        AppointmentType.active.is_(True)))
    if row is None or row.specialist_id != specialist_id:
        raise UserError(str(_l("This specialist offers no such appointment type here.")),
                        code="not_found", field="appointment_type", status=404)
    return row
