"""`cli.py demo` leaves a video appointment both sides can join right away, on each brand,
without duplicating it on a second run or blocking `--reset`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.demo import DEMO_PASSWORD, seed
from engine.platform import Platform
from modules.booking.models import Appointment
from modules.video import services
from tests.conftest import BrandClient

SECRET = "test-secret"


def demo_video_appointments(db: Any) -> list[Appointment]:
    db.expire_all()
    return list(db.scalars(select(Appointment).where(
        Appointment.modality == "video", Appointment.status == "confirmed")
        .order_by(Appointment.brand_id).execution_options(all_brands=True)))


def test_the_demo_leaves_a_joinable_video_visit_on_each_brand(
        platform: Platform, db: Any, client_for: Any) -> None:
    brands = {slug: served.loaded.config for slug, served in platform.brands.items()}
    seed(platform.runtime, brands)
    seed(platform.runtime, brands)  # idempotent: still one per brand
    made = demo_video_appointments(db)
    assert [a.brand_id for a in made] == ["acme-clinic", "wellness-corp"]
    for appointment in made:
        cfg = brands[appointment.brand_id]
        from engine.identity.models import User

        patient = db.get(User, appointment.patient_id)
        client: BrandClient = client_for(appointment.brand_id)
        assert client.submit("/account/signin", {"email": patient.email,
                                                 "password": DEMO_PASSWORD}).status_code == 302
        token = services.join_token(SECRET, cfg, appointment, patient.id)
        page = client.get(f"/video/join/{token}")
        assert page.status_code == 200, page.get_data(as_text=True)[:500]
    seed(platform.runtime, brands, reset=True)  # the appointments do not block a reset
    assert len(demo_video_appointments(db)) == 2
