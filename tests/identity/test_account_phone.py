"""A mobile number for SMS reminders in the account settings: E.164, optional."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine.identity.models import User
from tests.conftest import BrandClient


def _save(client: BrandClient, phone: str) -> Any:
    token = client.csrf("/account/settings")
    return client.submit("/account/settings", {
        "profile-csrf_token": token, "profile-name": "Ana Pérez", "profile-locale": "en",
        "profile-timezone": "Europe/Madrid", "profile-phone": phone})


@pytest.mark.parametrize(("typed", "stored"), [
    ("+34600123456", "+34600123456"),
    ("+34 600 12 34 56", "+34600123456"),
    ("+1 (212) 555-0100", "+12125550100"),
])
def test_a_patient_saves_a_mobile_number_in_international_format(
        db: Session, client: BrandClient, create_user: Callable[..., User],
        signin: Callable[..., Any], typed: str, stored: str) -> None:
    user = create_user()
    signin(client, user.email)
    assert _save(client, typed).status_code == 302
    db.refresh(user)
    assert user.phone == stored
    assert f'value="{stored}"' in client.get("/account/settings").get_data(as_text=True)


@pytest.mark.parametrize("typed", ["600123456", "+0600123456", "+3460012", "+3460012345678901",
                                   "+34 600 abc 456"])
def test_a_number_not_in_e164_is_refused_and_nothing_changes(
        db: Session, client: BrandClient, create_user: Callable[..., User],
        signin: Callable[..., Any], typed: str) -> None:
    user = create_user()
    user.phone, user.locale = "+34600000000", "en"
    db.flush()
    signin(client, user.email)
    answer = _save(client, typed)
    assert answer.status_code == 400
    assert "international format" in answer.get_data(as_text=True)
    db.refresh(user)
    assert (user.phone, user.name, user.locale) == ("+34600000000", "Test Person", "en")


def test_clearing_the_number_removes_it(
        db: Session, client: BrandClient, create_user: Callable[..., User],
        signin: Callable[..., Any]) -> None:
    user = create_user()
    user.phone = "+34600000000"
    db.flush()
    signin(client, user.email)
    assert _save(client, "  ").status_code == 302
    db.refresh(user)
    assert user.phone is None
