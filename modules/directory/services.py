"""Directory rules: who is listed on a brand, search and filters, profile edits.

Every query names its brand explicitly (``brand_id``) on top of the session's brand scoping, so
the rules hold in a platform-wide session too (CLI, demo, jobs, another module's service).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.identity.models import SpecialistMembership, User
from engine.web import UserError
from modules.directory.models import Listing, Profile, Tag
from modules.directory.schemas import DirectoryQuery, ProfileInput


@dataclass(frozen=True, slots=True)
class Card:
    """What a directory page shows of a listed profile: plain read-only values, no ORM object.

    Tag values are sorted within each kind (as :attr:`Profile.tags` are).
    """

    id: int
    specialist_id: int  # the profile's user: what other modules' card hooks key on
    display_name: str
    headline: str
    has_photo: bool
    specialties: tuple[str, ...]
    languages: tuple[str, ...]
    modalities: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    items: list[Card]
    total: int
    page: int
    pages: int


def _brand_id(session: Session, brand: BrandConfig | str | None) -> str:
    """The brand a query is about: given explicitly, else the session's brand."""
    if isinstance(brand, str):
        return brand
    if brand is not None:
        return brand.slug
    brand_id = session.info.get("brand_id")
    if not brand_id:
        raise ValueError("a directory query needs a brand (or a brand-scoped session)")
    return str(brand_id)


def _listed(session: Session, brand: BrandConfig | str | None = None) -> Select[tuple[Profile]]:
    """Profiles listed on a brand: an active member there whose listing is not hidden.

    No listing row means shown (a new member is listed until they hide their profile).
    """
    brand_id = _brand_id(session, brand)
    return (
        select(Profile)
        .join(SpecialistMembership, and_(SpecialistMembership.user_id == Profile.user_id,
                                         SpecialistMembership.brand_id == brand_id,
                                         SpecialistMembership.active.is_(True)))
        .outerjoin(Listing, and_(Listing.profile_id == Profile.id,
                                 Listing.brand_id == brand_id))
        .where(or_(Listing.id.is_(None), Listing.visible.is_(True)))
    )


# Accented letters of the brands' languages fold to their base letter for search and sort:
# SQLite's lower() only knows ASCII, and "Álvaro" should sort among the A's and be found by
# "alvaro" on every database. Spanish letters only: SQLite's parser overflows on a few dozen
# nested replace() calls inside the search query.
_FOLD = dict(zip("áéíóúñÁÉÍÓÚÑ", "aeiounaeioun", strict=True))


def fold(text: str) -> str:
    """``text`` lowercased with the accents of :data:`_FOLD` removed (as :func:`_folded`)."""
    return "".join(_FOLD.get(c, c) for c in text).lower()


def _folded(column: ColumnElement[str]) -> ColumnElement[str]:
    """SQL for :func:`fold` of ``column``."""
    expr = column
    for accented, plain in _FOLD.items():
        expr = func.replace(expr, accented, plain)
    return func.lower(expr)


def _like(text: str) -> str:
    """A LIKE pattern matching folded ``text`` anywhere, with its wildcards taken literally."""
    escaped = fold(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(session: Session, brand: BrandConfig, query: DirectoryQuery,
           page_size: int, default_sort: str) -> Page:
    """One page of the brand's listed specialists matching ``query``.

    A page past the end answers the last page. The cost is constant in the number of
    specialists: a count, the page's columns and one query for their tags; no ORM object is
    built (a page of 50 cards used to build some 300).
    """
    stmt = _listed(session, brand)
    if query.q:
        like = _like(query.q)
        stmt = stmt.where(or_(
            _folded(Profile.display_name).like(like, escape="\\"),
            _folded(Profile.headline).like(like, escape="\\"),
            Profile.id.in_(select(Tag.profile_id).where(
                Tag.kind == "specialty", _folded(Tag.value).like(like, escape="\\"))),
        ))
    for kind, value in (("specialty", query.specialty.lower()), ("language", query.language),
                        ("modality", query.modality)):
        if value:
            stmt = stmt.where(Profile.id.in_(select(Tag.profile_id).where(
                Tag.kind == kind, Tag.value == value)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // page_size))
    page = min(query.page, pages)
    order = (Profile.created_at.desc(), Profile.id.desc()) \
        if (query.sort or default_sort) == "newest" \
        else (_folded(Profile.display_name), Profile.id)
    rows = session.execute(
        stmt.with_only_columns(Profile.id, Profile.user_id, Profile.display_name, Profile.headline,
                               Profile.photo)
        .order_by(*order).limit(page_size).offset((page - 1) * page_size)).all()
    tags = _tags_of(session, [row.id for row in rows])
    items = [Card(id=row.id, specialist_id=row.user_id, display_name=row.display_name,
                  headline=row.headline, has_photo=bool(row.photo),
                  specialties=tuple(tags.get((row.id, "specialty"), ())),
                  languages=tuple(tags.get((row.id, "language"), ())),
                  modalities=tuple(tags.get((row.id, "modality"), ())))
             for row in rows]
    return Page(items, total, page, pages)


def _tags_of(session: Session, profile_ids: list[int]) -> dict[tuple[int, str], list[str]]:
    """(profile id, kind) -> tag values sorted by value, for ``profile_ids`` (one query)."""
    out: dict[tuple[int, str], list[str]] = {}
    if not profile_ids:
        return out
    rows = session.execute(select(Tag.profile_id, Tag.kind, Tag.value)
                           .where(Tag.profile_id.in_(profile_ids)).order_by(Tag.value))
    for profile_id, kind, value in rows:
        out.setdefault((profile_id, kind), []).append(value)
    return out


def facets(session: Session, brand: BrandConfig | str | None = None) -> dict[str, list[str]]:
    """The specialty, language and modality values present among the brand's listed profiles."""
    listed_ids = _listed(session, brand).with_only_columns(Profile.id)
    rows = session.execute(select(Tag.kind, Tag.value).where(Tag.profile_id.in_(listed_ids))
                           .distinct().order_by(Tag.kind, Tag.value))
    out: dict[str, list[str]] = {"specialty": [], "language": [], "modality": []}
    for kind, value in rows:
        out[kind].append(value)
    return out


def listed_profiles(session: Session, brand: BrandConfig | str | None = None) -> list[Profile]:
    """Every profile listed on the brand (default: the session's brand), tags loaded, by name.

    For modules that rank or export the whole list (matching); pages use :func:`search`.
    """
    stmt = _listed(session, brand).order_by(_folded(Profile.display_name), Profile.id)
    return list(session.scalars(stmt))


def listed_profile(session: Session, profile_id: int,
                   brand: BrandConfig | str | None = None) -> Profile:
    """A profile listed on the brand; a 404 UserError when not, whatever the reason (absent,
    hidden, on another brand only), so ids of other brands reveal nothing."""
    profile = session.scalar(_listed(session, brand).where(Profile.id == profile_id))
    if profile is None:
        raise UserError(str(_l("This specialist is not listed here.")), code="not_found",
                        status=404)
    return profile


def own_profile(session: Session, actor: User) -> Profile | None:
    """The actor's profile (one per specialist, shared by every brand of the network)."""
    return session.scalar(select(Profile).where(Profile.user_id == actor.id))


def is_visible(session: Session, profile: Profile,
               brand: BrandConfig | str | None = None) -> bool:
    """Whether the profile's owner wants it listed on the brand (no listing row: yes)."""
    found = listing(session, profile, brand)
    return found is None or found.visible


def listing(session: Session, profile: Profile,
            brand: BrandConfig | str | None = None) -> Listing | None:
    """The profile's listing row on the brand, if its owner ever chose to show or hide it."""
    return session.scalar(select(Listing).where(Listing.profile_id == profile.id,
                                                Listing.brand_id == _brand_id(session, brand)))


def set_visible(session: Session, profile: Profile, brand: BrandConfig | str,
                visible: bool) -> Listing:
    """Show or hide ``profile`` on one brand (idempotent)."""
    found = listing(session, profile, brand)
    if found is None:
        found = Listing(profile_id=profile.id, brand_id=_brand_id(session, brand),
                        visible=visible)
        session.add(found)
    found.visible = visible
    session.flush()
    return found


def save_profile(session: Session, actor: User, brand: BrandConfig, data: ProfileInput) -> Profile:
    """Create or update the actor's own profile and its visibility on ``brand``."""
    if actor.role != "specialist":
        raise UserError(str(_l("Only specialists have a profile.")), code="forbidden",
                        status=403)
    profile = own_profile(session, actor)
    if profile is None:
        profile = Profile(user_id=actor.id, display_name=data.display_name)
        session.add(profile)
    profile.display_name = data.display_name
    profile.headline = data.headline
    profile.bio = data.bio
    wanted = {("specialty", v) for v in data.specialties} \
        | {("language", v) for v in data.languages} | {("modality", v) for v in data.modalities}
    have = {(t.kind, t.value) for t in profile.tags}
    profile.tags = [t for t in profile.tags if (t.kind, t.value) in wanted] + [
        Tag(kind=k, value=v) for k, v in sorted(wanted - have)]
    session.flush()
    set_visible(session, profile, brand, data.visible)
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


def check_photo(data: bytes, max_kb: int) -> str:
    """The extension of an acceptable photo; a UserError (field ``photo``) otherwise."""
    if len(data) > max_kb * 1024:
        raise UserError(str(_l("The photo is larger than %(n)d KB. Choose a smaller image.",
                               n=max_kb)), code="too_large", field="photo")
    ext = photo_kind(data)
    if ext is None:
        raise UserError(str(_l("The photo must be a PNG, JPEG or WebP image.")),
                        code="bad_type", field="photo")
    return ext


def save_photo(session: Session, actor: User, data: bytes, photos_dir: Path,
               max_kb: int) -> Profile:
    """Store an uploaded photo under a random name outside the web root (served by the app)."""
    ext = check_photo(data, max_kb)
    profile = own_profile(session, actor)
    if profile is None:
        raise UserError(str(_l("Save your profile before adding a photo.")), code="no_profile",
                        field="photo")
    photos_dir.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + ext
    (photos_dir / name).write_bytes(data)
    old = profile.photo
    profile.photo = name
    session.flush()
    if old:
        (photos_dir / old).unlink(missing_ok=True)
    return profile
