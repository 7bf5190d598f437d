"""Session lifetimes (idle, absolute), revocation (sign-out, password change), fixation, and the
progressive sign-in lockout without user enumeration."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine import clock
from engine.identity import services, throttle
from tests.conftest import PASSWORD, unique_email


def _cookie(client: Any) -> str:
    cookie = client.get_cookie("daraport", domain=client.host)
    assert cookie is not None
    return cookie.value


def test_an_idle_session_ends_after_the_brands_idle_time(client, create_user, signin, platform):
    idle = platform.brands["acme-clinic"].loaded.config.security.session_idle_minutes
    user = create_user()
    start = clock.now()
    with clock.freeze(start):
        signin(client, user.email)
        assert client.get("/me").status_code == 200
    with clock.freeze(start + timedelta(minutes=idle - 1)):
        assert client.get("/me").status_code == 200  # activity moves the idle clock
    with clock.freeze(start + timedelta(minutes=2 * idle - 3)):
        assert client.get("/me").status_code == 200
    with clock.freeze(start + timedelta(minutes=3 * idle)):
        resp = client.get("/me")
        assert resp.status_code == 302 and resp.location.startswith("/account/signin")
        assert client.get("/me").status_code == 302  # ended for good, not only redirected


def test_an_active_session_ends_at_the_absolute_lifetime(client, create_user, signin, platform):
    sec = platform.brands["acme-clinic"].loaded.config.security
    user = create_user()
    start = clock.now()
    with clock.freeze(start):
        signin(client, user.email)
    minute = start
    step = timedelta(minutes=sec.session_idle_minutes - 1)
    while minute + step < start + timedelta(hours=sec.session_absolute_hours):
        minute += step
        with clock.freeze(minute):
            assert client.get("/me").status_code == 200
    with clock.freeze(start + timedelta(hours=sec.session_absolute_hours, minutes=1)):
        assert client.get("/me").status_code == 302


def test_expired_json_requests_answer_401(client, create_user, signin, platform):
    user = create_user()
    start = clock.now()
    with clock.freeze(start):
        signin(client, user.email)
    with clock.freeze(start + timedelta(days=2)):
        resp = client.get("/me", headers={"Accept": "application/json"})
        assert resp.status_code == 401


def test_a_cookie_replayed_after_sign_out_is_refused(client, client_for, create_user, signin):
    user = create_user()
    signin(client, user.email)
    stolen = _cookie(client)
    client.submit("/account/signout", {}, form_page="/me")
    assert client.get("/me").status_code == 302
    thief = client_for("acme-clinic")
    thief.set_cookie("daraport", stolen, domain=thief.host)
    # the old cookie is still validly signed: the server must refuse it all the same
    assert thief.get("/me").status_code == 302


def test_a_password_change_signs_out_other_devices_but_not_this_one(client, client_for,
                                                                    create_user, signin):
    user = create_user()
    other = client_for("acme-clinic")
    signin(client, user.email)
    signin(other, user.email)
    resp = client.submit("/account/settings", {
        "password-current_password": PASSWORD, "password-password": "a brand new password",
    }, form_page="/account/settings")
    assert resp.status_code == 302
    assert client.get("/me").status_code == 200
    assert other.get("/me").status_code == 302


def test_session_id_rotates_at_sign_in(client, create_user, signin, platform):
    app = platform.app_for("acme-clinic")
    loads = app.session_interface.get_signing_serializer(app).loads
    user = create_user()
    client.get("/account/signin")
    before = loads(_cookie(client))
    signin(client, user.email)
    after = loads(_cookie(client))
    assert after["sid"] != before.get("sid")
    assert after.get("csrf_token") != before.get("csrf_token")
    assert isinstance(after["signed_in_at"], int)


# --- lockout ---------------------------------------------------------------------------------


def _attempt(client: Any, email: str, password: str, ip: str) -> Any:
    return client.submit("/account/signin", {"email": email, "password": password},
                         environ_base={"REMOTE_ADDR": ip})


@pytest.fixture
def ip() -> str:
    import uuid

    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


def test_lockout_expires_and_repeats_twice_as_long(client, create_user, ip):
    user = create_user()
    limit = throttle.ACCOUNT_LIMIT
    start = clock.now()
    with clock.freeze(start):
        for _ in range(limit.failures - 1):
            assert _attempt(client, user.email, "wrong password", ip).status_code == 401
        assert _attempt(client, user.email, "wrong password", ip).status_code == 429
        # locked: even the right password is refused
        assert _attempt(client, user.email, PASSWORD, ip).status_code == 429
    first = start + limit.lockout
    with clock.freeze(first - timedelta(seconds=5)):
        assert _attempt(client, user.email, PASSWORD, ip).status_code == 429
    with clock.freeze(first + timedelta(seconds=1)):
        for _ in range(limit.failures):
            _attempt(client, user.email, "wrong password", ip)
    second_end = first + timedelta(seconds=1) + 2 * limit.lockout
    with clock.freeze(first + timedelta(seconds=1) + limit.lockout + timedelta(seconds=5)):
        assert _attempt(client, user.email, PASSWORD, ip).status_code == 429  # doubled
    with clock.freeze(second_end + timedelta(seconds=2)):
        assert _attempt(client, user.email, PASSWORD, ip).status_code == 302


def test_progressive_lockout_is_capped():
    limit = throttle.ACCOUNT_LIMIT
    assert limit.lockout_for(1) == limit.lockout
    assert limit.lockout_for(2) == 2 * limit.lockout
    assert limit.lockout_for(50) == limit.max_lockout


def test_the_address_is_locked_across_accounts(client, ip):
    start = clock.now()
    with clock.freeze(start):
        codes = [_attempt(client, unique_email("spray"), "wrong password", ip).status_code
                 for _ in range(throttle.IP_LIMIT.failures)]
    assert codes[:-1] == [401] * (throttle.IP_LIMIT.failures - 1) and codes[-1] == 429


def test_unknown_and_known_emails_get_the_same_answer_and_the_same_hashing(
        client, create_user, ip, monkeypatch, platform):
    user = create_user()
    calls: list[str] = []
    monkeypatch.setattr(platform.runtime, "hasher", _Counting(platform.runtime.hasher, calls))
    known = _attempt(client, user.email, "wrong password", ip)
    known_calls = len(calls)
    unknown = _attempt(client, unique_email("nobody"), "wrong password", ip)
    assert known.status_code == unknown.status_code == 401
    strip = lambda r: r.get_data(as_text=True).replace(user.email, "")  # noqa: E731
    assert _message(strip(known)) == _message(strip(unknown))
    assert known_calls == 1 and len(calls) == 2  # the unknown email also ran one argon2 verify


def _message(page: str) -> str:
    import re

    found = re.search(r'class="field-error"[^>]*>([^<]+)<', page)
    assert found, "no error message"
    return found.group(1)


class _Counting:
    """The runtime's password hasher, recording the hashes it verifies against."""

    def __init__(self, hasher: Any, calls: list[str]) -> None:
        self._hasher, self.calls = hasher, calls

    def verify(self, hash_: str, password: str) -> bool:
        self.calls.append(hash_)
        return bool(self._hasher.verify(hash_, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hasher, name)


def test_spend_hash_time_runs_a_real_verification(platform, db, monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(platform.runtime, "hasher", _Counting(platform.runtime.hasher, seen))
    services.spend_hash_time("anything")
    assert seen and seen[0].startswith("$argon2")


def test_the_console_session_has_its_own_shorter_idle_time(platform, create_user, db):
    from engine.console.app import CONSOLE_LIFETIMES
    from tests.conftest import BrandClient
    from tests.security.conftest import CONSOLE_HOST
    from tests.security.support import enroll, next_code

    operator = create_user(role="operator", brand=None)
    enroll(db, operator)
    console = BrandClient(platform, CONSOLE_HOST)
    start = clock.now()
    with clock.freeze(start):
        console.submit("/signin", {"email": operator.email, "password": PASSWORD})
        console.submit("/signin/code", {"code": next_code(db, operator)})
        assert console.get("/brands").status_code == 200
        stolen = console.get_cookie("daraport_console", domain=CONSOLE_HOST).value
    with clock.freeze(start + timedelta(seconds=CONSOLE_LIFETIMES.idle_seconds + 1)):
        assert console.get("/brands").status_code == 302
        thief = BrandClient(platform, CONSOLE_HOST)
        thief.set_cookie("daraport_console", stolen, domain=CONSOLE_HOST)
        assert thief.get("/brands").status_code == 302
