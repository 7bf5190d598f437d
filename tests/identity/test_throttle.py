"""Brute force: failed sign-ins lock the account (and the client address) for a short while."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock
from engine.identity.models import SignInThrottle, brand_realm
from engine.identity.throttle import ACCOUNT_LIMIT, IP_LIMIT, account_key, ip_key
from tests.conftest import PASSWORD, unique_email

WRONG = "definitely wrong password"


@pytest.fixture
def english(client_for: Any) -> Any:
    """A client on acme-clinic (Spanish by default) that switched itself to English."""
    client = client_for("acme-clinic")
    assert client.submit("/account/locale", {"locale": "en"},
                         form_page="/account/signin").status_code == 302
    return client


def _attempt(client: Any, email: str, password: str, ip: str) -> Any:
    return client.submit("/account/signin", {"email": email, "password": password},
                         environ_base={"REMOTE_ADDR": ip})


def test_repeated_failures_lock_the_account_with_a_429_and_a_clear_message(
        english, create_user, client_ip):
    user = create_user()
    for _ in range(ACCOUNT_LIMIT.failures - 1):
        assert _attempt(english, user.email, WRONG, client_ip).status_code == 401
    resp = _attempt(english, user.email, WRONG, client_ip)
    assert resp.status_code == 429
    page = resp.get_data(as_text=True)
    assert "Too many failed attempts to sign in. Wait 5 minutes" in page
    # locked: even the right password is refused, without being checked
    assert _attempt(english, user.email, PASSWORD, client_ip).status_code == 429


def test_the_lockout_ends_after_its_time(client_ip, client, create_user):
    user = create_user()
    for _ in range(ACCOUNT_LIMIT.failures):
        _attempt(client, user.email, WRONG, client_ip)
    assert _attempt(client, user.email, PASSWORD, client_ip).status_code == 429
    with clock.freeze(clock.now() + ACCOUNT_LIMIT.lockout - timedelta(seconds=5)):
        assert _attempt(client, user.email, PASSWORD, client_ip).status_code == 429
    with clock.freeze(clock.now() + ACCOUNT_LIMIT.lockout + timedelta(seconds=1)):
        assert _attempt(client, user.email, PASSWORD, client_ip).status_code == 302


def test_a_successful_sign_in_resets_the_account_counter(client_ip, client_for, create_user):
    user = create_user()
    client = client_for("acme-clinic")
    for _ in range(ACCOUNT_LIMIT.failures - 1):
        assert _attempt(client, user.email, WRONG, client_ip).status_code == 401
    assert _attempt(client, user.email, PASSWORD, client_ip).status_code == 302
    client = client_for("acme-clinic")
    for _ in range(ACCOUNT_LIMIT.failures - 1):
        assert _attempt(client, user.email, WRONG, client_ip).status_code == 401
    assert _attempt(client, user.email, WRONG, client_ip).status_code == 429


def test_failures_outside_the_window_do_not_add_up(client_ip, client, create_user):
    user = create_user()
    start = clock.now()
    for _ in range(ACCOUNT_LIMIT.failures - 1):
        assert _attempt(client, user.email, WRONG, client_ip).status_code == 401
    with clock.freeze(start + ACCOUNT_LIMIT.window + timedelta(seconds=1)):
        assert _attempt(client, user.email, WRONG, client_ip).status_code == 401


def test_unknown_emails_lock_the_same_way_as_real_accounts(client_ip, client):
    email = unique_email("nobody")
    for _ in range(ACCOUNT_LIMIT.failures - 1):
        assert _attempt(client, email, WRONG, client_ip).status_code == 401
    assert _attempt(client, email, WRONG, client_ip).status_code == 429


def test_an_account_lock_on_one_brand_leaves_the_other_brand_open(client_for, create_user,
                                                                  client_ip):
    email = unique_email("both")
    create_user(brand="acme-clinic", email=email)
    create_user(brand="wellness-corp", email=email)
    acme = client_for("acme-clinic")
    for _ in range(ACCOUNT_LIMIT.failures):
        _attempt(acme, email, WRONG, client_ip)
    assert _attempt(acme, email, PASSWORD, client_ip).status_code == 429
    assert _attempt(client_for("wellness-corp"), email, PASSWORD, client_ip).status_code == 302


def test_many_failures_from_one_address_lock_that_address_only(client_for, create_user,
                                                               client_ip):
    user = create_user()
    attacker = client_for("acme-clinic")
    for i in range(IP_LIMIT.failures - 1):
        # a new email each time: no account lock, only the address counter grows
        assert _attempt(attacker, unique_email(f"spray{i}"), WRONG, ip=client_ip) \
            .status_code == 401
    assert _attempt(attacker, unique_email("last"), WRONG, ip=client_ip).status_code == 429
    assert _attempt(attacker, user.email, PASSWORD, ip=client_ip).status_code == 429
    assert _attempt(client_for("acme-clinic"), user.email, PASSWORD, ip="192.0.2.1") \
        .status_code == 302


def test_counters_live_in_the_database_without_emails_or_addresses_in_clear(
        platform, db, client, create_user, client_ip):
    user = create_user()
    _attempt(client, user.email, WRONG, client_ip)
    cfg = platform.brands["acme-clinic"].loaded.config
    db.expire_all()
    rows = {r.scope: r for r in db.scalars(select(SignInThrottle).where(
        SignInThrottle.key_hash.in_([account_key(brand_realm(cfg.slug), user.email),
                                     ip_key(client_ip)])))}
    assert rows.keys() == {"account", "ip"}
    assert rows["account"].key_hash == account_key(brand_realm(cfg.slug), user.email.upper())
    assert [r.failures for r in rows.values()] == [1, 1]
    for r in rows.values():
        assert user.email not in r.key_hash and client_ip not in r.key_hash
