"""Sign up, sign in, sign out, password reset, email verification and password change."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from engine import clock
from engine.identity.models import Token, User
from engine.identity.services import add_membership
from tests.conftest import PASSWORD, link_in, unique_email
from tests.identity.conftest import path_of

NEW_PASSWORD = "a brand new passphrase"


def _user(db: Any, email: str, brand: str = "acme-clinic") -> User | None:
    db.expire_all()
    return db.scalar(select(User).where(User.email == email, User.realm == f"brand:{brand}"))


def _location_path(resp: Any) -> str:
    return urlsplit(resp.location).path


def _sign_in_works(client: Any, email: str, password: str) -> bool:
    # each probe from its own address: failures must not add up to an address lockout
    ip = f"10.0.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
    resp = client.submit("/account/signin", {"email": email, "password": password},
                         environ_base={"REMOTE_ADDR": ip})
    assert resp.status_code in (302, 401), resp.status_code
    return resp.status_code == 302


def _without_tokens(html: str, *secrets: str) -> str:
    html = re.sub(r'name="csrf[-_]token"[^>]*', "", html)
    for s in secrets:
        html = html.replace(s, "")
    return html


# --- sign up and verification ------------------------------------------------------------------


def test_sign_up_creates_a_signed_in_patient_and_mails_a_verification_link(client, db, outbox):
    email = unique_email("new")
    resp = client.submit("/account/signup", {"name": "Ana Pérez", "email": email,
                                             "password": PASSWORD, "consent-privacy": "yes"})
    assert resp.status_code == 302
    assert _location_path(resp) == "/me"
    user = _user(db, email)
    assert user is not None
    assert (user.role, user.brand_id, user.email_verified_at) == ("patient", "acme-clinic", None)
    assert client.get("/me").status_code == 200
    mail = outbox()[-1]
    assert (mail.recipient, mail.template) == (email, "verify")
    assert "/account/verify/" in link_in(mail)


def test_sign_up_with_an_email_taken_on_this_brand_is_refused(client, db, create_user):
    user = create_user()
    resp = client.submit("/account/signup", {"name": "Copy", "email": user.email,
                                             "password": PASSWORD, "consent-privacy": "yes"})
    assert resp.status_code == 400
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(User)
                     .where(User.email == user.email)) == 1


def test_verification_link_confirms_the_email_once(client, db, outbox):
    email = unique_email("verify")
    client.submit("/account/signup", {"name": "Vera", "email": email, "password": PASSWORD,
                                      "consent-privacy": "yes"})
    link = path_of(link_in(outbox()[-1]))
    assert client.get(link).status_code == 302
    user = _user(db, email)
    assert user is not None and user.email_verified_at is not None
    assert client.get(link).status_code == 410


# --- sign in and out ---------------------------------------------------------------------------


def test_sign_in_with_the_right_password_opens_the_patient_portal(client, create_user, signin):
    user = create_user()
    resp = signin(client, user.email)
    assert resp.status_code == 302 and _location_path(resp) == "/me"
    assert client.get("/me").status_code == 200


def test_sign_out_ends_the_session(client, create_user, signin):
    user = create_user()
    signin(client, user.email)
    assert client.get("/me").status_code == 200
    resp = client.submit("/account/signout", {}, form_page="/me")
    assert resp.status_code == 302
    assert client.get("/me").status_code == 302


def test_failed_sign_in_answers_401_without_telling_whether_the_email_exists(
        client_for, create_user, client_ip):
    known, unknown = client_for("wellness-corp"), client_for("wellness-corp")
    user = create_user(brand="wellness-corp")
    other = unique_email("nobody")
    r_known, r_unknown = (
        c.submit("/account/signin", {"email": e, "password": "not the password"},
                 environ_base={"REMOTE_ADDR": client_ip})
        for c, e in ((known, user.email), (unknown, other)))
    assert r_known.status_code == r_unknown.status_code == 401
    page = r_known.get_data(as_text=True)
    assert "Email or password is not right." in page
    assert _without_tokens(page, user.email) == \
        _without_tokens(r_unknown.get_data(as_text=True), other)


# --- brands and the shared network -------------------------------------------------------------


def test_the_same_email_holds_separate_accounts_on_two_brands(client_for, create_user):
    email = unique_email("twice")
    create_user(brand="acme-clinic", email=email, password="acme password 1")
    create_user(brand="wellness-corp", email=email, password="wellness password 2")
    assert _sign_in_works(client_for("acme-clinic"), email, "acme password 1")
    assert not _sign_in_works(client_for("acme-clinic"), email, "wellness password 2")
    assert _sign_in_works(client_for("wellness-corp"), email, "wellness password 2")
    assert not _sign_in_works(client_for("wellness-corp"), email, "acme password 1")


def test_a_patient_of_one_brand_cannot_sign_in_on_the_other(client_for, create_user):
    user = create_user(brand="acme-clinic")
    assert _sign_in_works(client_for("acme-clinic"), user.email, PASSWORD)
    assert not _sign_in_works(client_for("wellness-corp"), user.email, PASSWORD)


def test_a_shared_network_specialist_signs_in_on_both_brands(platform, db, client_for,
                                                              create_user):
    specialist = create_user(role="specialist", brand="acme-clinic")
    assert not _sign_in_works(client_for("wellness-corp"), specialist.email, PASSWORD)
    add_membership(db, platform.brands["wellness-corp"].loaded.config, specialist)
    db.flush()
    for brand in ("acme-clinic", "wellness-corp"):
        client = client_for(brand)
        resp = client.submit("/account/signin", {"email": specialist.email,
                                                 "password": PASSWORD})
        assert resp.status_code == 302 and _location_path(resp) == "/specialist/"
        assert client.get("/specialist/").status_code == 200


# --- password reset ----------------------------------------------------------------------------


def _request_reset(client: Any, email: str) -> Any:
    return client.submit("/account/reset", {"email": email})


def test_password_reset_link_sets_a_new_password_and_signs_in(client, client_for, create_user,
                                                               outbox):
    user = create_user()
    assert _request_reset(client, user.email).status_code == 200
    mail = outbox()[-1]
    assert (mail.recipient, mail.template, mail.status) == (user.email, "reset", "outbox")
    link = path_of(link_in(mail))
    assert client.get(link).status_code == 200
    resp = client.submit(link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert resp.status_code == 302
    assert client.get("/me").status_code == 200
    assert not _sign_in_works(client_for("acme-clinic"), user.email, PASSWORD)
    assert _sign_in_works(client_for("acme-clinic"), user.email, NEW_PASSWORD)


def test_password_reset_link_is_refused_the_second_time(client, client_for, create_user, outbox):
    user = create_user()
    _request_reset(client, user.email)
    link = path_of(link_in(outbox()[-1]))
    assert client.submit(link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}) \
        .status_code == 302
    again = client_for("acme-clinic")
    resp = again.submit(link, {"password": "yet another password", "confirm":
                               "yet another password"}, form_page="/account/reset")
    assert resp.status_code == 410
    assert again.get(link).status_code == 410
    assert _sign_in_works(client_for("acme-clinic"), user.email, NEW_PASSWORD)


@pytest.mark.parametrize(("minutes", "status"), [(59, 200), (61, 410)])
def test_password_reset_link_expires_after_one_hour(client, create_user, outbox, minutes,
                                                     status):
    user = create_user()
    _request_reset(client, user.email)
    link = path_of(link_in(outbox()[-1]))
    with clock.freeze(clock.now() + timedelta(minutes=minutes)):
        assert client.get(link).status_code == status


def test_a_new_reset_link_kills_the_older_one(client, create_user, outbox):
    user = create_user()
    _request_reset(client, user.email)
    first = path_of(link_in(outbox()[-1]))
    _request_reset(client, user.email)
    second = path_of(link_in(outbox()[-1]))
    assert first != second
    assert client.get(first).status_code == 410
    assert client.submit(first, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                         form_page="/account/reset").status_code == 410
    assert client.get(second).status_code == 200


def test_reset_request_answers_the_same_for_known_and_unknown_emails(client_for, create_user,
                                                                     db, outbox):
    user = create_user(brand="wellness-corp")
    other = unique_email("nobody")
    before = len(outbox())
    r_known = _request_reset(client_for("wellness-corp"), user.email)
    after_known = len(outbox())
    r_unknown = _request_reset(client_for("wellness-corp"), other)
    assert r_known.status_code == r_unknown.status_code == 200
    assert _without_tokens(r_known.get_data(as_text=True)) == \
        _without_tokens(r_unknown.get_data(as_text=True))
    # only the real account got a mail and a token
    assert after_known == before + 1 and len(outbox()) == after_known
    assert db.scalar(select(func.count()).select_from(Token)
                     .where(Token.user_id == user.id)) == 1


def test_a_reset_link_of_one_brand_is_not_valid_on_the_other(client, client_for, create_user,
                                                              outbox):
    user = create_user(brand="acme-clinic")
    _request_reset(client, user.email)
    link = path_of(link_in(outbox()[-1]))
    assert client_for("wellness-corp").get(link).status_code == 404
    assert client.get(link).status_code == 200


# --- password change ---------------------------------------------------------------------------


def test_password_change_signs_out_the_other_sessions_only(client_for, create_user, signin):
    user = create_user()
    here, elsewhere = client_for("acme-clinic"), client_for("acme-clinic")
    signin(here, user.email)
    signin(elsewhere, user.email)
    assert elsewhere.get("/me").status_code == 200
    token = here.csrf("/account/settings")
    resp = here.submit("/account/settings", {
        "password-csrf_token": token, "password-current_password": PASSWORD,
        "password-password": NEW_PASSWORD})
    assert resp.status_code == 302
    assert here.get("/me").status_code == 200
    assert elsewhere.get("/me").status_code == 302
    assert _sign_in_works(client_for("acme-clinic"), user.email, NEW_PASSWORD)


def test_password_change_with_a_wrong_current_password_changes_nothing(client, create_user,
                                                                       client_for, signin):
    user = create_user()
    signin(client, user.email)
    token = client.csrf("/account/settings")
    resp = client.submit("/account/settings", {
        "password-csrf_token": token, "password-current_password": "not my password",
        "password-password": NEW_PASSWORD})
    assert resp.status_code == 400
    assert _sign_in_works(client_for("acme-clinic"), user.email, PASSWORD)
