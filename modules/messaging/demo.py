"""Demo data of messaging: a short conversation between the brand's first demo patient and its
first demo specialist. Idempotent: a thread that exists is left as it is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity.models import User
from modules.messaging.models import Message, Thread

LINES = {
    "es": ("Hola, ¿podemos pasar la próxima sesión a vídeo? Esa semana estoy de viaje.",
           "Claro, sin problema. Te envío el enlace el día antes.\nMás información: "
           "https://example.com/videoconsulta"),
    "en": ("Hi, could we make the next session a video call? I am travelling that week.",
           "Of course. I will send you the link the day before.\nMore about video sessions: "
           "https://example.com/video-sessions"),
}


def demo(session: Session, brand: BrandConfig, people: Mapping[str, Sequence[User]]) -> None:
    """One thread with two messages between the first demo patient and specialist."""
    patients, specialists = people.get("patients", ()), people.get("specialists", ())
    if not patients or not specialists:
        return
    patient, specialist = patients[0], specialists[0]
    counterpart = f"specialist:{specialist.id}"
    if session.scalar(select(Thread.id).where(Thread.brand_id == brand.slug,
                                              Thread.patient_id == patient.id,
                                              Thread.counterpart == counterpart)):
        return
    thread = Thread(brand_id=brand.slug, kind="specialist", patient_id=patient.id,
                    specialist_id=specialist.id, counterpart=counterpart)
    session.add(thread)
    session.flush()
    first, second = LINES.get(brand.locale, LINES["en"])
    for sender, body in ((patient, first), (specialist, second)):
        session.add(Message(brand_id=brand.slug, thread_id=thread.id, sender_id=sender.id,
                            body=body))
    thread.last_message_at = clock.now()
    session.flush()
