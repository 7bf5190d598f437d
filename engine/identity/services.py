"""Account rules: sign-up, sign-in, emailed tokens, passwords. Shared by views, CLI and jobs."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext as _ln
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.config import BrandConfig
from engine.identity import throttle
from engine.identity.models import (
    PLATFORM_REALM,
    SpecialistMembership,
    Token,
    User,
    brand_realm,
    network_realm,
)
from engine.runtime import current
from engine.web import UserError, network_id

MIN_PASSWORD = 10
TOKEN_TTL = {"reset": timedelta(hours=1), "verify": timedelta(days=3)}


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding blanks."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    """An argon2 hash of ``password`` with the runtime's parameters."""
    return current().hasher.hash(password)


def check_password_policy(password: str) -> None:
    """Refuse passwords that are too short or absurdly long (UserError on field password)."""
    if len(password) < MIN_PASSWORD:
        raise UserError(str(_l("Use at least %(n)d characters.", n=MIN_PASSWORD)),
                        code="weak_password", field="password")
    if len(password) > 256:
        raise UserError(str(_l("Use at most 256 characters.")), code="weak_password",
                        field="password")


def verify_password(user: User, password: str) -> bool:
    """Whether ``password`` is the user's; upgrades the stored hash when parameters changed."""
    hasher = current().hasher
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


_DUMMY_HASH: str | None = None


def spend_hash_time(password: str) -> None:
    """Spend a hash verification so that unknown emails take as long as wrong passwords."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = current().hasher.hash(secrets.token_hex(8))
    try:
        current().hasher.verify(_DUMMY_HASH, password)
    except VerificationError:
        pass


def sign_up_patient(session: Session, brand: BrandConfig, *, email: str, name: str,
                    password: str, locale: str | None = None,
                    organization: str | None = None) -> User:
    """Create a patient account on ``brand``. The same email may hold accounts on other brands."""
    email = normalize_email(email)
    check_password_policy(password)
    realm = brand_realm(brand.slug)
    if session.scalar(select(User.id).where(User.realm == realm, User.email == email)):
        raise UserError(str(_l("An account with this email already exists here. Sign in, or "
                               "reset your password.")), code="email_taken", field="email")
    if organization is None:
        domain = email.rpartition("@")[2]
        organization = next((o.slug for o in brand.organizations if domain in o.email_domains),
                            None)
    user = User(realm=realm, role="patient", brand_id=brand.slug, email=email, name=name.strip(),
                password_hash=hash_password(password), locale=locale, organization=organization)
    session.add(user)
    session.flush()
    return user


def create_user(session: Session, brand: BrandConfig | None, *, role: str, email: str,
                name: str, password: str, organization: str | None = None,
                network: str | None = None) -> User:
    """Create an account of any role (CLI, demo, operators). Specialists join ``brand``."""
    email = normalize_email(email)
    check_password_policy(password)
    if role == "operator":
        realm, brand_id, net = PLATFORM_REALM, None, None
    elif role == "specialist":
        if brand is None and network is None:
            raise UserError("a specialist needs a brand or a network")
        net = network or network_id(brand)  # type: ignore[arg-type]
        realm, brand_id = network_realm(net), None
    else:
        if brand is None:
            raise UserError(f"role {role} belongs to a brand")
        realm, brand_id, net = brand_realm(brand.slug), brand.slug, None
        if organization and organization not in {o.slug for o in brand.organizations}:
            raise UserError(f"unknown organization '{organization}'", field="organization")
    existing = session.scalar(select(User).where(User.realm == realm, User.email == email))
    if existing is not None:
        raise UserError(f"{email} already has an account in {realm}", code="email_taken")
    user = User(realm=realm, role=role, brand_id=brand_id, network=net, email=email,
                name=name, password_hash=hash_password(password), organization=organization,
                email_verified_at=clock.now())
    session.add(user)
    session.flush()
    if role == "specialist" and brand is not None:
        add_membership(session, brand, user)
    from engine import audit

    audit.record(session, action="user.create", brand_id=brand.slug if brand else None,
                 target_type="user", target_id=user.id, details={"role": role})
    return user


def add_membership(session: Session, brand: BrandConfig, user: User) -> SpecialistMembership:
    """List a specialist of the brand's network on ``brand`` (idempotent)."""
    if user.role != "specialist" or user.network != network_id(brand):
        raise UserError(f"{user.email} is not a specialist of network {network_id(brand)}")
    found = session.scalar(select(SpecialistMembership).where(
        SpecialistMembership.brand_id == brand.slug, SpecialistMembership.user_id == user.id
    ).execution_options(all_brands=True))
    if found is None:
        found = SpecialistMembership(brand_id=brand.slug, user_id=user.id)
        session.add(found)
        session.flush()
    return found


def is_member(session: Session, brand: BrandConfig, user: User) -> bool:
    """Whether ``user`` may use ``brand`` (its own account, or a specialist working there)."""
    if user.role == "specialist":
        return user.network == network_id(brand) and bool(session.scalar(
            select(SpecialistMembership.id).where(
                SpecialistMembership.brand_id == brand.slug,
                SpecialistMembership.user_id == user.id,
                SpecialistMembership.active.is_(True),
            ).execution_options(all_brands=True)))
    return user.realm == brand_realm(brand.slug)


def authenticate(session: Session, brand: BrandConfig, email: str, password: str) -> User | None:
    """The account of ``brand`` matching these credentials, or None. Operators never match."""
    email = normalize_email(email)
    candidates = session.scalars(select(User).where(
        User.email == email,
        User.realm.in_([brand_realm(brand.slug), network_realm(network_id(brand))]),
    )).all()
    hashed = False
    for user in candidates:
        if not is_member(session, brand, user):
            continue
        hashed = True
        if verify_password(user, password):
            user.last_sign_in_at = clock.now()
            return user
    if not hashed:  # one verification either way: an unknown email takes as long as a known one
        spend_hash_time(password)
    return None


def sign_in(session: Session, brand: BrandConfig, email: str, password: str,
            ip: str | None) -> User:
    """Sign-in with the throttle: the account of ``brand`` for these credentials.

    Raises a 429 UserError while the email (on this brand) or the client address is locked out
    after repeated failures, and a 401 UserError, the same whether or not the email has an
    account, for wrong credentials. A success clears the account's failure counter.
    """
    return throttled_sign_in(session, brand_realm(brand.slug), email, ip,
                             lambda: authenticate(session, brand, email, password))


def throttled_sign_in(session: Session, realm: str, email: str, ip: str | None,
                      attempt: Callable[[], User | None]) -> User:
    """Run ``attempt`` (a credential check) under the sign-in throttle of ``realm``.

    The one throttled path for brand sign-in and the operator console alike.
    """
    wait = throttle.locked_for(session, realm, email, ip)
    if wait:
        raise _throttled(wait)
    user = attempt()
    if user is None:
        wait = throttle.record_failure(session, realm, email, ip)
        if wait:
            raise _throttled(wait)
        # keep_writes: the counted failure is the point of the answer; it must be committed
        raise UserError(str(_l("Email or password is not right.")), code="bad_credentials",
                        field="password", status=401, keep_writes=True)
    throttle.clear_account(session, realm, email)
    return user


def _throttled(seconds: int) -> UserError:
    minutes = max(1, -(-seconds // 60))
    return UserError(str(_ln("Too many failed attempts to sign in. Wait %(num)d minute and "
                             "try again, or reset your password.",
                             "Too many failed attempts to sign in. Wait %(num)d minutes and "
                             "try again, or reset your password.", minutes)),
                     code="too_many_attempts", field="password", status=429, keep_writes=True)


def issue_token(session: Session, user: User, purpose: str) -> str:
    """A new single-use token for ``user``; earlier unused tokens of that purpose die."""
    for old in session.scalars(select(Token).where(Token.user_id == user.id,
                                                   Token.purpose == purpose,
                                                   Token.used_at.is_(None))):
        old.used_at = clock.now()
    raw = secrets.token_urlsafe(32)
    session.add(Token(user_id=user.id, purpose=purpose, token_hash=_digest(raw),
                      expires_at=clock.now() + TOKEN_TTL[purpose]))
    session.flush()
    return raw


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def peek_token(session: Session, brand: BrandConfig, raw: str, purpose: str) -> User:
    """The user a valid token belongs to on ``brand``; UserError when invalid, used or expired."""
    token = session.scalar(select(Token).where(Token.token_hash == _digest(raw),
                                               Token.purpose == purpose))
    if token is None:
        raise UserError(str(_l("This link is not valid.")), code="invalid_token", status=404)
    user = session.get(User, token.user_id)
    if user is None or not is_member(session, brand, user):
        raise UserError(str(_l("This link is not valid.")), code="invalid_token", status=404)
    if token.used_at is not None:
        raise UserError(str(_l("This link has already been used. Ask for a new one.")),
                        code="used_token", status=410)
    if token.expires_at <= clock.now():
        raise UserError(str(_l("This link has expired. Ask for a new one.")),
                        code="expired_token", status=410)
    return user


def _consume(session: Session, raw: str) -> None:
    token = session.scalar(select(Token).where(Token.token_hash == _digest(raw))
                           .with_for_update())
    if token is None or token.used_at is not None:
        raise UserError(str(_l("This link has already been used. Ask for a new one.")),
                        code="used_token", status=410)
    token.used_at = clock.now()


def reset_password(session: Session, brand: BrandConfig, raw: str, new_password: str) -> User:
    """Set a new password from a reset link; the link dies and other sessions end."""
    user = peek_token(session, brand, raw, "reset")
    check_password_policy(new_password)
    _consume(session, raw)
    user.password_hash = hash_password(new_password)
    user.session_epoch += 1
    if user.email_verified_at is None:
        user.email_verified_at = clock.now()  # the reset mail reached them
    return user


def verify_email(session: Session, brand: BrandConfig, raw: str) -> User:
    """Confirm the email address of the account a verification link belongs to (single use)."""
    user = peek_token(session, brand, raw, "verify")
    _consume(session, raw)
    user.email_verified_at = user.email_verified_at or clock.now()
    return user


def change_password(session: Session, user: User, current_password: str,
                    new_password: str) -> None:
    """Change ``user``'s password; every other signed-in session of the user ends."""
    if not verify_password(user, current_password):
        raise UserError(str(_l("The current password is not right.")), code="wrong_password",
                        field="current_password")
    check_password_policy(new_password)
    user.password_hash = hash_password(new_password)
    user.session_epoch += 1


def find_for_reset(session: Session, brand: BrandConfig, email: str) -> User | None:
    """The account of ``brand`` a reset link for ``email`` should go to, if any."""
    email = normalize_email(email)
    for user in session.scalars(select(User).where(
        User.email == email,
        User.realm.in_([brand_realm(brand.slug), network_realm(network_id(brand))]),
    )):
        if is_member(session, brand, user):
            return user
    return None


def organization_roster(session: Session, actor: User, brand: BrandConfig) -> list[User]:
    """Members of the actor's organization on ``brand``: accounts only, never health data, and
    only members who consented to sharing with their employer where the brand asks for it."""
    from engine.privacy.consent import consenting

    if actor.role != "org_admin" or not actor.organization:
        raise UserError(str(_l("Only organization administrators see the roster.")),
                        code="forbidden", status=403)
    members = list(session.scalars(select(User).where(
        User.brand_id == brand.slug, User.role == "patient",
        User.organization == actor.organization,
    ).order_by(User.name)))
    return consenting(session, brand, "employer_sharing", members)


def brand_users(session: Session, actor: User | None, brand: BrandConfig) -> list[User]:
    """Every account that can sign in on ``brand``: its own accounts and its specialists.

    ``actor`` None is the platform operator at the command line; a signed-in actor must be an
    operator.
    """
    if actor is not None and actor.role != "operator":
        raise UserError(str(_l("Only operators list the accounts of a brand.")),
                        code="forbidden", status=403)
    specialists = select(SpecialistMembership.user_id).where(
        SpecialistMembership.brand_id == brand.slug).execution_options(all_brands=True)
    return list(session.scalars(select(User).where(
        (User.realm == brand_realm(brand.slug))
        | ((User.realm == network_realm(network_id(brand))) & User.id.in_(specialists))
    ).order_by(User.role, User.email)))
