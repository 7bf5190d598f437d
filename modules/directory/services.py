"""Directory rules: who is listed on a brand, search and filters, profile edits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import SpecialistMembership, User
from engine.web import UserError
from modules.directory.models import Listing, Profile, Tag
from modules.directory.schemas import DirectoryQuery, ProfileInput


@dataclass(frozen=True)
class Page:
    items: list[Profile]
    total: int
    page: int
    pages: int


def _listed(session: Session) -> Select[tuple[Profile]]:
    """Profiles visible on the session's brand: an active member, not hidden there.

    The membership and listing tables are brand-scoped, so the session's brand applies.
    """
    return (
        select(Profile)
        .join(SpecialistMembership, and_(SpecialistMembership.user_id == Profile.user_id,
                                         SpecialistMembership.active.is_(True)))
        .outerjoin(Listing, Listing.profile_id == Profile.id)
        .where(or_(Listing.id.is_(None), Listing.visible.is_(True)))
    )


def search(session: Session, brand: BrandConfig, query: DirectoryQuery,
           page_size: int, default_sort: str) -> Page:
    """One page of the brand's listed specialists matching ``query``."""
    stmt = _listed(session)
    if query.q:
        like = f"%{query.q.lower()}%"
        stmt = stmt.where(or_(func.lower(Profile.display_name).like(like),
                              func.lower(Profile.headline).like(like),
                              Profile.id.in_(select(Tag.profile_id).where(
                                  Tag.kind == "specialty", Tag.value.like(like)))))
    for kind, value in (("specialty", query.specialty.lower()), ("language", query.language),
                        ("modality", query.modality)):
        if value:
            stmt = stmt.where(Profile.id.in_(select(Tag.profile_id).where(
                Tag.kind == kind, Tag.value == value)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // page_size))
    order = (Profile.created_at.desc(), Profile.id.desc()) \
        if (query.sort or default_sort) == "newest" \
        else (func.lower(Profile.display_name), Profile.id)
    items = list(session.scalars(stmt.order_by(*order).limit(page_size)
                                 .offset((min(query.page, pages) - 1) * page_size)))
    return Page(items, total, min(query.page, pages), pages)


def facets(session: Session) -> dict[str, list[str]]:
    """The specialty, language and modality values present among listed profiles."""
    listed_ids = _listed(session).with_only_columns(Profile.id).subquery()
    rows = session.execute(select(Tag.kind, Tag.value).where(Tag.profile_id.in_(
        select(listed_ids.c.id))).distinct().order_by(Tag.kind, Tag.value))
    out: dict[str, list[str]] = {"specialty": [], "language": [], "modality": []}
    for kind, value in rows:
        out[kind].append(value)
    return out


def listed_profiles(session: Session) -> list[Profile]:
    """Every profile listed on the session's brand, by id (for journeys that rank them all)."""
    return list(session.scalars(_listed(session).order_by(Profile.id)))


def listed_profile(session: Session, profile_id: int) -> Profile:
    """A profile listed on the session's brand; 404 when not (whatever the reason)."""
    profile = session.scalar(_listed(session).where(Profile.id == profile_id))
    if profile is None:
        raise UserError("This specialist is not listed here.", code="not_found", status=404)
    return profile


def own_profile(session: Session, actor: User) -> Profile | None:
    return session.scalar(select(Profile).where(Profile.user_id == actor.id))


def is_visible(session: Session, profile: Profile) -> bool:
    listing = session.scalar(select(Listing).where(Listing.profile_id == profile.id))
    return listing is None or listing.visible


def save_profile(session: Session, actor: User, brand: BrandConfig, data: ProfileInput) -> Profile:
    """Create or update the actor's own profile and its visibility on ``brand``."""
    if actor.role != "specialist":
        raise UserError("Only specialists have a profile.", code="forbidden", status=403)
    profile = own_profile(session, actor)
    if profile is None:
        profile = Profile(user_id=actor.id, display_name=data.display_name)
        session.add(profile)
    profile.display_name = data.display_name
    profile.headline = data.headline
    profile.bio = data.bio
    wanted = {("specialty", v) for v in data.specialties} \
        | {("language", v) for v in data.languages} | {("modality", v) for v in data.modalities}
    profile.tags = [t for t in profile.tags if (t.kind, t.value) in wanted] + [
        Tag(kind=k, value=v) for k, v in sorted(wanted)
        if (k, v) not in {(t.kind, t.value) for t in profile.tags}]
    session.flush()
    listing = session.scalar(select(Listing).where(Listing.profile_id == profile.id))
    if listing is None:
        listing = Listing(profile_id=profile.id, brand_id=brand.slug)
        session.add(listing)
    listing.visible = data.visible
    session.flush()
    return profile


PHOTO_TYPES = {b"\x89PNG\r\n\x1a\n": ".png", b"\xff\xd8\xff": ".jpg"}


def photo_kind(data: bytes) -> str | None:
    """The extension for image bytes, judged by content (PNG, JPEG, WebP); None otherwise."""
    for magic, ext in PHOTO_TYPES.items():
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


def save_photo(session: Session, actor: User, data: bytes, photos_dir: Path,
               max_kb: int) -> Profile:
    """Store an uploaded photo under a random name outside the web root."""
    profile = own_profile(session, actor)
    if profile is None:
        raise UserError("Save your profile before adding a photo.", code="no_profile")
    if len(data) > max_kb * 1024:
        raise UserError(f"The photo is larger than {max_kb} KB.", code="too_large",
                        field="photo")
    ext = photo_kind(data)
    if ext is None:
        raise UserError("The photo must be a PNG, JPEG or WebP image.", code="bad_type",
                        field="photo")
    photos_dir.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + ext
    (photos_dir / name).write_bytes(data)
    old = profile.photo
    profile.photo = name
    if old:
        (photos_dir / old).unlink(missing_ok=True)
    return profile
