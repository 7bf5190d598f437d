"""The TOTP second factor: enrollment, the sign-in step, replay, recovery codes, throttle, the
console's requirement, and the secret encrypted at rest."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from engine import clock
from engine.identity import throttle, totp
from engine.identity.models import RecoveryCode, SecondFactor
from tests.conftest import PASSWORD
from tests.security.conftest import CONSOLE_HOST
from tests.security.support import code_at, enroll, next_code


def _csrf_of(body: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body)
    assert found, "no CSRF token in the form"
    return found.group(1)


def _password(client: Any, email: str, path: str = "/account/signin") -> Any:
    return client.submit(path, {"email": email, "password": PASSWORD})


@pytest.fixture
def specialist(create_user, db):
    user = create_user(role="specialist", brand="acme-clinic")
    return user


def test_a_specialist_enrolls_from_the_account_page_and_then_needs_a_code(
        client, client_for, specialist, signin, db):
    signin(client, specialist.email)
    page = client.get("/account/security/enroll")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in body  # the QR code, allowed by img-src data:
    factor = totp.factor_of(db, specialist)
    secret = factor.secret
    assert re.sub(r"\s", "", re.search(r"<code>([A-Z2-7 ]+)</code>", body).group(1)) == secret
    # posted from the page just shown (reloading the page starts over with a new secret)
    token = _csrf_of(body)
    wrong = client.post("/account/security/enroll", data={"code": "000000", "csrf_token": token})
    assert wrong.status_code == 400 and not totp.is_enabled(db, specialist)
    done = client.post("/account/security/enroll",
                       data={"code": code_at(secret), "csrf_token": token})
    assert done.status_code == 200
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.get_data(as_text=True))
    assert len(codes) == totp.RECOVERY_CODES
    db.expire_all()
    assert totp.is_enabled(db, specialist)

    fresh = client_for("acme-clinic")
    resp = _password(fresh, specialist.email)
    assert resp.status_code == 302 and resp.location == "/account/signin/code"
    assert fresh.get("/specialist/").status_code == 302  # the password alone signs in nobody
    assert fresh.submit("/account/signin/code", {"code": next_code(db, specialist)}) \
        .status_code == 302
    assert fresh.get("/specialist/").status_code == 200


def test_the_same_code_is_refused_the_second_time(client_for, specialist, db):
    enroll(db, specialist)
    code = next_code(db, specialist)
    first, second = client_for("acme-clinic"), client_for("acme-clinic")
    _password(first, specialist.email)
    assert first.submit("/account/signin/code", {"code": code}).status_code == 302
    _password(second, specialist.email)
    replay = second.submit("/account/signin/code", {"code": code})
    assert replay.status_code == 401
    assert second.get("/specialist/").status_code == 302


def test_an_older_code_than_the_last_used_is_refused(db, specialist):
    enroll(db, specialist)
    factor = totp.factor_of(db, specialist)
    factor.last_step = None
    now = code_at(factor.secret)
    previous = code_at(factor.secret, -1)
    assert totp.verify_sign_in(db, specialist, now, realm="t", ip="10.9.9.9") == "totp"
    with pytest.raises(Exception) as refused:
        totp.verify_sign_in(db, specialist, previous, realm="t", ip="10.9.9.9")
    assert getattr(refused.value, "code", None) == "bad_code"


def test_a_recovery_code_works_once(client_for, specialist, db):
    codes = enroll(db, specialist)
    first = client_for("acme-clinic")
    _password(first, specialist.email)
    assert first.submit("/account/signin/code", {"code": codes[0].upper()}).status_code == 302
    second = client_for("acme-clinic")
    _password(second, specialist.email)
    assert second.submit("/account/signin/code", {"code": codes[0]}).status_code == 401
    hashes = db.scalars(select(RecoveryCode.code_hash).where(
        RecoveryCode.user_id == specialist.id)).all()
    assert all(h.startswith("$argon2") for h in hashes) and codes[1] not in " ".join(hashes)


def test_wrong_codes_are_throttled_like_passwords(client_for, specialist, db):
    enroll(db, specialist)
    client = client_for("acme-clinic")
    start = clock.now()
    with clock.freeze(start):
        _password(client, specialist.email)
        answers = [client.submit("/account/signin/code", {"code": "123456"},
                                 environ_base={"REMOTE_ADDR": "10.77.1.1"}).status_code
                   for _ in range(throttle.ACCOUNT_LIMIT.failures)]
        assert answers[-1] == 429 and set(answers[:-1]) == {401}
        good = next_code(db, specialist)
        assert client.submit("/account/signin/code", {"code": good}).status_code == 429
    with clock.freeze(start + throttle.ACCOUNT_LIMIT.lockout + timedelta(seconds=5)):
        client = client_for("acme-clinic")
        _password(client, specialist.email)
        assert client.submit("/account/signin/code",
                             {"code": next_code(db, specialist)}).status_code == 302


def test_the_pending_step_expires(client_for, specialist, db):
    enroll(db, specialist)
    client = client_for("acme-clinic")
    start = clock.now()
    with clock.freeze(start):
        _password(client, specialist.email)
    with clock.freeze(start + timedelta(minutes=11)):
        assert client.get("/account/signin/code").status_code == 404


def test_patients_cannot_enroll(client, create_user, signin):
    patient = create_user()
    signin(client, patient.email)
    assert client.get("/account/security/enroll").status_code == 404


def test_the_secret_is_encrypted_at_rest(db, specialist):
    enroll(db, specialist)
    secret = totp.factor_of(db, specialist).secret
    raw = db.execute(text("SELECT secret FROM identity_second_factor WHERE user_id = :u"),
                     {"u": specialist.id}).scalar_one()
    assert raw.startswith("dp1:") and secret not in raw


def test_turning_the_factor_off_needs_the_password_and_ends_other_sessions(
        client, client_for, specialist, signin, db):
    enroll(db, specialist)
    _password(client, specialist.email)
    client.submit("/account/signin/code", {"code": next_code(db, specialist)})
    other = client_for("acme-clinic")
    _password(other, specialist.email)
    other.submit("/account/signin/code", {"code": next_code(db, specialist)})
    assert other.get("/specialist/").status_code == 200
    refused = client.submit("/account/security/disable", {"off-password": "wrong password!"},
                            form_page="/account/security")
    assert refused.status_code == 400
    db.expire_all()
    assert totp.is_enabled(db, specialist)
    ok = client.submit("/account/security/disable", {"off-password": PASSWORD},
                       form_page="/account/security")
    assert ok.status_code == 302
    db.expire_all()
    assert not totp.is_enabled(db, specialist)
    assert db.scalar(select(SecondFactor).where(SecondFactor.user_id == specialist.id)) is None
    assert client.get("/specialist/").status_code == 200
    assert other.get("/specialist/").status_code == 302


# --- operators -------------------------------------------------------------------------------


def test_an_operator_without_a_factor_must_enroll_before_the_console_opens(
        platform, create_user, db):
    from tests.conftest import BrandClient

    operator = create_user(role="operator", brand=None)
    console = BrandClient(platform, CONSOLE_HOST)
    resp = _password(console, operator.email, "/signin")
    assert resp.status_code == 302 and resp.location == "/signin/enroll"
    assert console.get("/brands").status_code == 302  # not signed in yet
    page = console.get("/signin/enroll")
    assert page.status_code == 200 and "data:image/svg+xml" in page.get_data(as_text=True)
    secret = totp.factor_of(db, operator).secret
    done = console.post("/signin/enroll", data={
        "code": code_at(secret), "csrf_token": _csrf_of(page.get_data(as_text=True))})
    assert done.status_code == 200 and "recovery" in done.get_data(as_text=True).lower()
    assert console.get("/brands").status_code == 200


def test_an_enrolled_operator_needs_the_code(platform, create_user, db):
    from tests.conftest import BrandClient

    operator = create_user(role="operator", brand=None)
    enroll(db, operator)
    console = BrandClient(platform, CONSOLE_HOST)
    assert _password(console, operator.email, "/signin").location == "/signin/code"
    assert console.submit("/signin/code", {"code": "000000"}).status_code == 401
    assert console.get("/brands").status_code == 302
    assert console.submit("/signin/code", {"code": next_code(db, operator)}).status_code == 302
    assert console.get("/brands").status_code == 200


def test_a_brand_can_require_the_factor_for_a_role(platform, create_user, db, platform_on,
                                                   brands_dir):
    path = brands_dir / "acme-clinic.yaml"
    path.write_text(path.read_text() + "\nsecurity:\n  totp_required_for: [specialist]\n")
    site = platform_on(brands_dir)
    from tests.conftest import BrandClient

    specialist = create_user(role="specialist", brand="acme-clinic")
    client = BrandClient(site, "acme.localhost")
    resp = _password(client, specialist.email)
    assert resp.location == "/account/signin/enroll"
    assert client.get("/specialist/").status_code == 302


def test_second_step_outcomes_are_audited(client_for, specialist, db):
    from engine.audit_models import AuditEvent

    enroll(db, specialist)
    client = client_for("acme-clinic")
    _password(client, specialist.email)
    client.submit("/account/signin/code", {"code": "000000"})
    client.submit("/account/signin/code", {"code": next_code(db, specialist)})
    db.expire_all()
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "auth.second_factor")
                        .order_by(AuditEvent.id)).all()
    assert [(e.outcome, e.actor_id) for e in events][-2:] == [
        ("failure", specialist.id), ("success", specialist.id)]
