"""Demo data of the directory: a profile for each demo specialist and their listing per brand.

Called by ``cli.py demo`` as ``demo(session, brand, people)`` for every brand where the
directory is on. Idempotent: an existing profile is left as its owner edited it, and a brand's
listing row is only added when missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import User
from modules.directory import services
from modules.directory.schemas import ProfileInput


@dataclass(frozen=True)
class DemoProfile:
    headline: str
    bio: str
    specialties: tuple[str, ...]
    languages: tuple[str, ...]
    modalities: tuple[str, ...]


# Shared specialists (listed on both example brands) carry their specialties in Spanish and in
# English, and a bilingual bio, because one profile serves a Spanish and an English brand. The
# English specialty values are those the matching questionnaire asks about.
DEMO_PROFILES: Mapping[str, DemoProfile] = {
    "lucia.moreno@care-collective.example": DemoProfile(
        headline="Psicóloga clínica · Clinical psychologist",
        bio=("Psicóloga clínica con doce años de experiencia acompañando a adultos con ansiedad "
             "y estrés laboral. Trabajo con terapia cognitivo-conductual y mindfulness.\n\n"
             "Clinical psychologist with twelve years of experience helping adults with anxiety "
             "and work stress. I use cognitive behavioural therapy and mindfulness."),
        specialties=("ansiedad", "anxiety", "estrés", "stress"),
        languages=("es", "en"), modalities=("video", "in_person")),
    "daniel.okafor@care-collective.example": DemoProfile(
        headline="Counselling psychologist · Psicólogo sanitario",
        bio=("I work with individuals and couples through low mood, conflict and big life "
             "changes, in English or Spanish, by video.\n\n"
             "Acompaño a personas y parejas en momentos de ánimo bajo, conflictos y grandes "
             "cambios vitales, en inglés o en español, por videollamada."),
        specialties=("depression", "depresión", "relationships", "relaciones"),
        languages=("en", "es"), modalities=("video",)),
    "carmen.ruiz@care-collective.example": DemoProfile(
        headline="Psiquiatra",
        bio=("Médica psiquiatra. Atiendo depresión, trastornos de ansiedad y problemas de "
             "sueño, con una mirada que combina tratamiento farmacológico y psicoterapia.\n\n"
             "Paso consulta en la clínica de Madrid los martes y jueves."),
        specialties=("depresión", "ansiedad", "trastornos del sueño"),
        languages=("es",), modalities=("in_person", "video")),
    "javier.santos@care-collective.example": DemoProfile(
        headline="Psicólogo infantil y familiar",
        bio=("Trabajo con niños, adolescentes y sus familias: dificultades de atención, "
             "conducta y emociones, y orientación a madres y padres.\n\n"
             "Atiendo en castellano y en catalán."),
        specialties=("infancia y adolescencia", "terapia familiar", "tdah"),
        languages=("es", "ca"), modalities=("in_person",)),
    "alvaro.gil@care-collective.example": DemoProfile(
        headline="Médico de familia",
        bio=("Medicina de familia y seguimiento de enfermedades crónicas: hipertensión, "
             "diabetes y colesterol. También consultas breves por vídeo para resultados y "
             "recetas."),
        specialties=("medicina general", "hipertensión", "nutrición"),
        languages=("es",), modalities=("in_person", "video")),
    "emily.carter@care-collective.example": DemoProfile(
        headline="Licensed clinical social worker",
        bio=("I help busy professionals who feel stretched thin: anxiety, burnout and the "
             "stress that follows them home.\n\n"
             "Sessions are practical and collaborative; you leave each one with something to "
             "try."),
        specialties=("anxiety", "stress", "burnout"),
        languages=("en",), modalities=("video",)),
    "priya.raman@care-collective.example": DemoProfile(
        headline="Marriage and family therapist",
        bio=("Relationships, grief and low mood are at the heart of my work. I see "
             "individuals and couples by video across time zones.\n\n"
             "My approach draws on emotionally focused therapy."),
        specialties=("relationships", "depression", "grief"),
        languages=("en",), modalities=("video",)),
}


def _generic(user: User, brand: BrandConfig) -> DemoProfile:
    """A plain profile for a specialist the demo data above does not describe."""
    return DemoProfile(headline="", bio="", specialties=(), languages=(brand.locale,),
                       modalities=("video",))


def demo(session: Session, brand: BrandConfig, people: Mapping[str, Sequence[User]]) -> None:
    """Give every demo specialist of ``brand`` a profile and list it there (idempotent)."""
    for user in people.get("specialists", ()):
        profile = services.own_profile(session, user)
        if profile is None:
            spec = DEMO_PROFILES.get(user.email) or _generic(user, brand)
            data = ProfileInput(display_name=user.name, headline=spec.headline, bio=spec.bio,
                                specialties=spec.specialties, languages=spec.languages,
                                modalities=spec.modalities, visible=True)
            services.save_profile(session, user, brand, data)
        elif services.listing(session, profile, brand) is None:
            services.set_visible(session, profile, brand, True)
