"""Consent: documents per brand (brand YAML ``consent:``), immutable once published, and the
users' records of giving and withdrawing them. The latest record of a document is its state;
every record is kept (history).

A document version is *published* the first time it is used: its text's SHA-256 is stored.
From then on a changed text for that version is refused loudly (:class:`ConsentDocumentChanged`,
also reported by ``cli.py privacy consent check``): a new text needs a new version, which asks
every user again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.config.models import ConsentDocument
from engine.identity.models import User
from engine.privacy.models import CONSENT_METHODS, ConsentRecord, PublishedConsentDocument
from engine.web import UserError

log = logging.getLogger(__name__)

ACTIONS = ("signup", "booking", "video", "employer_sharing")


class ConsentDocumentChanged(Exception):
    """A published consent document's text changed without a new version (a config error)."""


class ConsentRequired(UserError):
    """The action needs consents the user has not given (or gave to an older version)."""

    status = 403

    def __init__(self, documents: list[ConsentDocument], action: str):
        keys = ", ".join(d.key for d in documents)
        super().__init__(str(_l("This needs your consent first (%(documents)s). Give it on your "
                                "privacy page: /account/privacy/consent?for=%(action)s",
                                documents=keys, action=action)),
                         code="consent_required")
        self.documents, self.action = documents, action
        self.link = f"/account/privacy/consent?for={action}"


@dataclass(frozen=True)
class ConsentState:
    document: ConsentDocument
    granted: bool            # the latest record grants the current version
    granted_version: int | None  # the version the latest grant was for (may be older)
    recorded_at: object | None

    @property
    def outdated(self) -> bool:
        """Granted before, for an older version: the user is asked again."""
        return self.granted_version is not None and not self.granted


def document_text_path(brands_dir: Path, doc: ConsentDocument) -> Path:
    return brands_dir / doc.file


def current_documents(brand: BrandConfig, locale: str | None = None) -> list[ConsentDocument]:
    """The brand's documents, one per key: the highest version, in ``locale`` if listed."""
    by_key: dict[str, ConsentDocument] = {}
    for doc in sorted(brand.consent, key=lambda d: (d.key, d.version, d.locale != locale)):
        best = by_key.get(doc.key)
        if best is None or doc.version > best.version:
            by_key[doc.key] = doc
    return list(by_key.values())


def required_for(brand: BrandConfig, action: str) -> list[ConsentDocument]:
    if action not in ACTIONS:
        raise ValueError(f"unknown consent action {action!r}")
    return [d for d in current_documents(brand) if action in d.required_for]


def publish(session: Session, brand: BrandConfig, brands_dir: Path) -> list[str]:
    """Record the hash of every document version not yet published; raise
    :class:`ConsentDocumentChanged` for a published version whose text changed. Returns the
    versions published now ("key vN locale")."""
    published = {(r.key, r.version, r.locale): r for r in session.scalars(
        select(PublishedConsentDocument).where(PublishedConsentDocument.brand_id == brand.slug)
        .execution_options(all_brands=True))}
    new: list[str] = []
    for doc in brand.consent:
        path = document_text_path(brands_dir, doc)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        row = published.get((doc.key, doc.version, doc.locale))
        if row is None:
            try:
                with session.begin_nested():
                    session.add(PublishedConsentDocument(
                        brand_id=brand.slug, key=doc.key, version=doc.version,
                        locale=doc.locale, type=doc.type, sha256=digest))
            except IntegrityError:  # published by a concurrent request: compare with it
                row = session.scalar(select(PublishedConsentDocument).where(
                    PublishedConsentDocument.brand_id == brand.slug,
                    PublishedConsentDocument.key == doc.key,
                    PublishedConsentDocument.version == doc.version,
                    PublishedConsentDocument.locale == doc.locale)
                    .execution_options(all_brands=True))
            else:
                new.append(f"{doc.key} v{doc.version} {doc.locale}")
                continue
        if row is not None and row.sha256 != digest:
            log.error("consent document %s/%s v%d changed after publication", brand.slug,
                      doc.key, doc.version)
            raise ConsentDocumentChanged(
                f"{brand.slug}: consent document '{doc.key}' version {doc.version} "
                f"({doc.file}) changed after it was published; publish the new text as "
                f"version {doc.version + 1} instead")
    return new


def _latest(session: Session, user: User, brand: BrandConfig) -> dict[str, ConsentRecord]:
    rows = session.scalars(select(ConsentRecord).where(
        ConsentRecord.brand_id == brand.slug, ConsentRecord.user_id == user.id)
        .order_by(ConsentRecord.id).execution_options(all_brands=True))
    latest: dict[str, ConsentRecord] = {}
    for row in rows:
        latest[row.document_key] = row
    return latest


def states(session: Session, user: User, brand: BrandConfig) -> list[ConsentState]:
    """The user's state of each of the brand's current documents."""
    latest = _latest(session, user, brand)
    out = []
    for doc in current_documents(brand, user.locale):
        rec = latest.get(doc.key)
        granted_version = rec.version if rec is not None and rec.granted else None
        out.append(ConsentState(doc, granted_version == doc.version, granted_version,
                                rec.recorded_at if rec else None))
    return out


def missing(session: Session, user: User, brand: BrandConfig, action: str
            ) -> list[ConsentDocument]:
    """Documents ``action`` needs that the user has not granted in their current version."""
    needed = required_for(brand, action)
    if not needed:
        return []
    latest = _latest(session, user, brand)
    return [d for d in needed if not ((rec := latest.get(d.key)) is not None and rec.granted
                                      and rec.version == d.version)]


def outdated(session: Session, user: User, brand: BrandConfig) -> list[ConsentDocument]:
    """Required documents the user granted in an older version (asked again on next action)."""
    latest = _latest(session, user, brand)
    return [d for d in current_documents(brand)
            if d.required_for and (rec := latest.get(d.key)) is not None and rec.granted
            and rec.version < d.version]


def consenting(session: Session, brand: BrandConfig, action: str,
               users: list[User]) -> list[User]:
    """Those of ``users`` holding every consent ``action`` needs (e.g. ``employer_sharing``
    before an organization sees a member), in one query; all of them when none is needed."""
    needed = required_for(brand, action)
    if not needed or not users:
        return list(users)
    rows = session.scalars(select(ConsentRecord).where(
        ConsentRecord.brand_id == brand.slug,
        ConsentRecord.user_id.in_([u.id for u in users]),
        ConsentRecord.document_key.in_([d.key for d in needed]))
        .order_by(ConsentRecord.id).execution_options(all_brands=True))
    latest: dict[tuple[int, str], ConsentRecord] = {}
    for row in rows:
        latest[(row.user_id, row.document_key)] = row
    return [u for u in users
            if all((r := latest.get((u.id, d.key))) is not None and r.granted
                   and r.version == d.version for d in needed)]


def require(session: Session, user: User, brand: BrandConfig, action: str) -> None:
    """Raise :class:`ConsentRequired` (403, with the link to give consent) unless the user
    holds every consent ``action`` needs on ``brand``, in its current version."""
    lacking = missing(session, user, brand, action)
    if lacking:
        raise ConsentRequired(lacking, action)


def record(session: Session, user: User, brand: BrandConfig, key: str, *, granted: bool,
           method: str, brands_dir: Path) -> ConsentRecord:
    """Record that ``user`` gives (``granted``) or withdraws consent to the current version of
    document ``key``. Takes effect at once; earlier records stay as history."""
    if method not in CONSENT_METHODS:
        raise ValueError(f"unknown consent method {method!r}")
    if user.brand_id != brand.slug:
        raise UserError(str(_l("This account does not belong to this site.")), status=404,
                        code="not_found")
    doc = next((d for d in current_documents(brand, user.locale) if d.key == key), None)
    if doc is None:
        raise UserError(str(_l("There is no such consent document here.")), code="not_found",
                        status=404, field="document")
    publish(session, brand, brands_dir)
    row = ConsentRecord(brand_id=brand.slug, user_id=user.id, document_key=key,
                        version=doc.version, granted=granted, method=method,
                        recorded_at=clock.now())
    session.add(row)
    session.flush()
    return row


def history(session: Session, user: User, brand: BrandConfig) -> list[ConsentRecord]:
    """Every consent record of the user on the brand, newest first."""
    return list(session.scalars(select(ConsentRecord).where(
        ConsentRecord.brand_id == brand.slug, ConsentRecord.user_id == user.id)
        .order_by(ConsentRecord.id.desc()).execution_options(all_brands=True)))


def document_text(brands_dir: Path, doc: ConsentDocument) -> str:
    return document_text_path(brands_dir, doc).read_text(encoding="utf-8")
