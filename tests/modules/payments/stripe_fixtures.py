"""Stripe fixtures, imported by the test_stripe* and test_webhooks* files (conftest.py of this
folder belongs to the core payments tests): brand configs using Stripe in each mode (the example
YAML stays offline), the brand's secrets in the environment, and a recording HTTP client behind
every StripeClient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine.config import BrandConfig
from engine.config.models import Payments
from engine.identity.models import User
from engine.platform import Platform
from modules.payments.models_stripe import StripeAccount
from modules.payments.stripe_client import use_http_client
from tests.modules.payments.stripe_recorder import RecordingHTTPClient

SECRET_KEY = "sk_test_daraport_recorded"
WEBHOOK_SECRET = "whsec_daraport_test_secret"


def with_stripe(config: BrandConfig, mode: str, commission: str = "20") -> BrandConfig:
    """``config`` using Stripe in ``mode`` with keys named DARAPORT_TEST_* in the environment."""
    payments = Payments(provider="stripe", mode=mode, commission_percent=Decimal(commission),
                        stripe_secret_key="env:DARAPORT_TEST_STRIPE_KEY",
                        stripe_webhook_secret="env:DARAPORT_TEST_STRIPE_WEBHOOK")
    return config.model_copy(update={"payments": payments})


@pytest.fixture
def stripe_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DARAPORT_TEST_STRIPE_KEY", SECRET_KEY)
    monkeypatch.setenv("DARAPORT_TEST_STRIPE_WEBHOOK", WEBHOOK_SECRET)


@pytest.fixture
def recorder(stripe_env: None) -> Iterator[RecordingHTTPClient]:
    """Every StripeClient built during the test sends through this recorder."""
    client = RecordingHTTPClient()
    with use_http_client(client):
        yield client


@pytest.fixture
def stripe_brand(platform: Platform) -> Callable[..., BrandConfig]:
    def make(mode: str = "platform", slug: str = "acme-clinic", **kw: Any) -> BrandConfig:
        return with_stripe(platform.brands[slug].loaded.config, mode, **kw)

    return make


@pytest.fixture
def connected(db: Session) -> Callable[..., StripeAccount]:
    """Factory: a specialist's connected account on a brand (enabled unless told)."""

    def make(specialist: User, brand: str = "acme-clinic", account_id: str = "acct_spec1", *,
             status: str = "enabled", merchant_of_record: bool = False) -> StripeAccount:
        row = StripeAccount(brand_id=brand, specialist_id=specialist.id, account_id=account_id,
                            status=status, charges_enabled=status == "enabled",
                            payouts_enabled=status == "enabled",
                            details_submitted=status != "pending",
                            merchant_of_record=merchant_of_record)
        db.add(row)
        db.flush()
        return row

    return make
