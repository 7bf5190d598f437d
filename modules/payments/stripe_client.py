"""One ``stripe.StripeClient`` per brand, with the keys the brand's YAML names.

Brand YAML never holds a secret: ``payments.stripe_secret_key: env:NAME`` names the environment
variable that does. A brand whose variable is unset keeps running (the demo is offline): only the
actions that need Stripe answer :class:`StripeNotConfigured`, a clear error naming the variable.

The HTTP client is injectable so that tests and benchmarks answer Stripe's calls from recorded
example objects and nothing reaches the internet: pass ``http_client=`` or install one for the
process with :func:`use_http_client`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import stripe
from flask_babel import lazy_gettext as _l

from engine.config import BrandConfig
from engine.web import UserError

# Pinned so that a library upgrade never silently changes the shape of the objects we read.
API_VERSION: str = stripe.api_version
NETWORK_RETRIES = 2  # the library retries safely: every create call carries an idempotency key

_installed_http_client: stripe.HTTPClient | None = None


class StripeNotConfigured(UserError):
    """The brand uses Stripe but its key is not in this process's environment."""

    status = 503

    def __init__(self, variable: str):
        super().__init__(
            str(_l("Online payment is not available right now. Please try again later or "
                   "contact us.")), code="payments_unavailable")
        self.variable = variable

    def __str__(self) -> str:  # for logs and operators: which variable to set
        return f"Stripe is not configured: environment variable {self.variable} is not set"


def secret_from_env(ref: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The value of a ``env:NAME`` reference; :class:`StripeNotConfigured` when unset or blank."""
    if not ref:
        raise StripeNotConfigured("(none named in the brand's payments section)")
    name = ref.removeprefix("env:")
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        raise StripeNotConfigured(name)
    return value


def is_stripe_brand(config: BrandConfig) -> bool:
    return config.payments.provider == "stripe"


def is_configured(config: BrandConfig, environ: Mapping[str, str] | None = None) -> bool:
    """Whether both of the brand's Stripe secrets are present (for pages that offer payment)."""
    if not is_stripe_brand(config):
        return False
    env = os.environ if environ is None else environ
    return all(env.get(ref.removeprefix("env:"), "").strip()
               for ref in (config.payments.stripe_secret_key,
                           config.payments.stripe_webhook_secret) if ref)


def webhook_secret(config: BrandConfig, environ: Mapping[str, str] | None = None) -> str:
    return secret_from_env(config.payments.stripe_webhook_secret, environ)


def client_for(config: BrandConfig, *, http_client: stripe.HTTPClient | None = None,
               environ: Mapping[str, str] | None = None) -> stripe.StripeClient:
    """A StripeClient for the brand's platform account (connected accounts are reached with the
    ``stripe_account`` request option, never with another key)."""
    if not is_stripe_brand(config):
        raise ValueError(f"brand {config.slug} does not use Stripe")
    key = secret_from_env(config.payments.stripe_secret_key, environ)
    return stripe.StripeClient(
        key, stripe_version=API_VERSION, max_network_retries=NETWORK_RETRIES,
        http_client=http_client or _installed_http_client,
    )


@contextmanager
def use_http_client(http_client: stripe.HTTPClient) -> Iterator[stripe.HTTPClient]:
    """Every StripeClient built inside the block sends its requests through ``http_client``."""
    global _installed_http_client
    previous, _installed_http_client = _installed_http_client, http_client
    try:
        yield http_client
    finally:
        _installed_http_client = previous
