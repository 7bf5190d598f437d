"""What the JSON API answers: directory, appointment types, availability and appointments, as
output models. Every rule lives in the directory and booking services; these functions only
check scope (out-of-scope ids are 404) and shape the answers."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from engine.web import UserError
from modules.api.schemas import (
    MAX_WINDOW_DAYS,
    AppointmentList,
    AppointmentOut,
    AppointmentsQuery,
    AppointmentTypeList,
    AppointmentTypeOut,
    Availability,
    AvailabilityQuery,
    BookInput,
    DirectoryPage,
    Money,
    RescheduleInput,
    SlotOut,
    SpecialistCard,
    SpecialistProfile,
)
from modules.booking import changes
from modules.booking import services as booking
from modules.booking.models import Appointment, AppointmentType
from modules.directory import services as directory
from modules.directory.models import Profile
from modules.directory.schemas import DirectoryQuery

APPOINTMENTS_PAGE_SIZE = 50


def directory_page(session: Session, actor: User | None, brand: BrandConfig,
                   query: DirectoryQuery, page_size: int, default_sort: str) -> DirectoryPage:
    """One page of the brand's directory, as the HTML list shows it, with specialist ids."""
    page = directory.search(session, brand, query, page_size, default_sort)
    owners = dict(session.execute(select(Profile.id, Profile.user_id)
                                  .where(Profile.id.in_([c.id for c in page.items]))).all())
    return DirectoryPage(
        items=[SpecialistCard(id=c.id, specialist_id=owners[c.id], display_name=c.display_name,
                              headline=c.headline, has_photo=c.has_photo,
                              specialties=list(c.specialties), languages=list(c.languages),
                              modalities=list(c.modalities)) for c in page.items],
        total=page.total, page=page.page, pages=page.pages)


def specialist_profile(session: Session, actor: User | None, brand: BrandConfig,
                       profile_id: int) -> SpecialistProfile:
    """A profile listed on the brand (404 otherwise)."""
    p = directory.listed_profile(session, profile_id, brand)
    return SpecialistProfile(id=p.id, specialist_id=p.user_id, display_name=p.display_name,
                             headline=p.headline, has_photo=bool(p.photo),
                             specialties=p.values("specialty"), languages=p.values("language"),
                             modalities=p.values("modality"), bio=p.bio)


def _type_out(row: AppointmentType) -> AppointmentTypeOut:
    return AppointmentTypeOut(
        id=row.id, specialist_id=row.specialist_id, name=row.name,
        duration_minutes=row.duration_minutes, modality=row.modality,  # type: ignore[arg-type]
        location=row.location, price=Money(amount_minor=row.price_minor, currency=row.currency),
        needs_confirmation=row.needs_confirmation,
        bookable_by=row.bookable_by,  # type: ignore[arg-type]
        min_notice_minutes=row.min_notice_minutes, max_days_ahead=row.max_days_ahead)


def offered_types(session: Session, actor: User | None, brand: BrandConfig,
                  specialist_id: int) -> AppointmentTypeList:
    """The specialist's active appointment types on ``brand`` that patients book themselves
    (the same list as the booking pages)."""
    changes.bookable_specialist(session, brand, specialist_id)
    return AppointmentTypeList(items=[_type_out(t) for t in
                                      changes.bookable_types(session, brand, specialist_id)])


def free_slots(session: Session, actor: User | None, brand: BrandConfig, specialist_id: int,
               query: AvailabilityQuery) -> Availability:
    """Free slots of one of the specialist's types, starting in ``[from, to)`` (at most
    :data:`MAX_WINDOW_DAYS` days), against the specialist's appointments on every brand."""
    if query.to <= query.from_:
        raise UserError(str(_l("“to” must be after “from”.")), code="invalid_window",
                        field="to")
    if query.to - query.from_ > timedelta(days=MAX_WINDOW_DAYS):
        raise UserError(ngettext("Ask for at most %(num)d day at a time.",
                                 "Ask for at most %(num)d days at a time.", MAX_WINDOW_DAYS),
                        code="invalid_window", field="to")
    changes.bookable_specialist(session, brand, specialist_id)
    slots = booking.available_slots(session, brand, specialist_id, query.type, query.from_,
                                    query.to)
    return Availability(specialist_id=specialist_id, appointment_type_id=query.type,
                        slots=[SlotOut(start=s.start_at, end=s.end_at) for s in slots])


def appointment_out(row: Appointment) -> AppointmentOut:
    """The API's view of an appointment."""
    return AppointmentOut(
        id=row.id, specialist_id=row.specialist_id, patient_id=row.patient_id,
        appointment_type_id=row.appointment_type_id,
        modality=row.modality,  # type: ignore[arg-type]
        start=row.start_at, end=row.end_at, status=row.status,
        price=Money(amount_minor=row.price_minor, currency=row.currency),
        created_at=row.created_at)


def own_appointments(session: Session, actor: User, brand: BrandConfig,
                     query: AppointmentsQuery) -> AppointmentList:
    """The actor's appointments on ``brand``, soonest first: a patient's own, or those with a
    specialist. Nobody else's, whatever the query says."""
    mine = Appointment.specialist_id if actor.role == "specialist" else Appointment.patient_id
    stmt = select(Appointment).where(Appointment.brand_id == brand.slug, mine == actor.id)
    if query.status is not None:
        stmt = stmt.where(Appointment.status == query.status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // APPOINTMENTS_PAGE_SIZE))
    page = min(query.page, pages)
    rows = session.scalars(stmt.order_by(Appointment.start_at, Appointment.id)
                           .limit(APPOINTMENTS_PAGE_SIZE)
                           .offset((page - 1) * APPOINTMENTS_PAGE_SIZE))
    return AppointmentList(items=[appointment_out(r) for r in rows], total=total, page=page,
                           pages=pages)


def book_appointment(session: Session, actor: User, brand: BrandConfig,
                     data: BookInput) -> AppointmentOut:
    """Book for the actor (a patient of ``brand``), under every rule of the booking service,
    and email the confirmation.

    Nothing is read first: the booking service takes the specialist's calendar lock as its
    first statement (see ``modules.booking.services._lock_calendar``)."""
    made = changes.book_appointment(session, actor, brand, data.specialist_id,
                                    data.appointment_type_id, data.start, data.modality)
    return appointment_out(made)


def cancel_appointment(session: Session, actor: User, brand: BrandConfig,
                       appointment_id: int) -> AppointmentOut:
    """Cancel the actor's appointment under the brand's cancellation policy."""
    return appointment_out(changes.cancel(session, actor, brand, appointment_id))


def reschedule_appointment(session: Session, actor: User, brand: BrandConfig,
                           appointment_id: int, data: RescheduleInput) -> AppointmentOut:
    """Move the actor's appointment to another free time of the same type."""
    return appointment_out(changes.reschedule(session, actor, brand, appointment_id,
                                              data.start))
