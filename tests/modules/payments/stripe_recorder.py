"""A stripe HTTP client that records every request and answers with Stripe's own example
objects (tests/fixtures/stripe/fixtures3.json, MIT, from Stripe's OpenAPI repository).

Plugged into ``stripe.StripeClient(http_client=...)`` (or installed for the process with
``modules.payments.stripe_client.use_http_client``), so tests see the exact method, URL, headers
and form body the library sends, and nothing reaches the internet: an unexpected URL fails the
test instead of answering.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "stripe" / "fixtures3.json"

# URL path (after /v1/) -> the fixture resource that answers it
ROUTES: tuple[tuple[str, str], ...] = (
    (r"checkout/sessions(/[^/]+)?(?:/expire)?", "checkout.session"),
    (r"accounts(/[^/]+)?", "account"),
    (r"account_links", "account_link"),
    (r"refunds(/[^/]+)?", "refund"),
    (r"payment_intents(/[^/]+)?", "payment_intent"),
    (r"charges(/[^/]+)?", "charge"),
    (r"subscriptions(/[^/]+)?", "subscription"),
    (r"invoices(/[^/]+)?", "invoice"),
    (r"disputes(/[^/]+)?", "dispute"),
    (r"customers(/[^/]+)?", "customer"),
)


@cache
def _resources() -> dict[str, Any]:
    return json.loads(FIXTURES.read_text())["resources"]  # type: ignore[no-any-return]


def fixture(resource: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of Stripe's example ``resource`` with top-level ``changes`` applied."""
    obj = copy.deepcopy(_resources()[resource])
    obj.update(changes)
    return obj  # type: ignore[no-any-return]


@dataclass
class Call:
    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass
class RecordingHTTPClient(stripe.HTTPClient):
    """Records requests; answers from fixtures, or from objects a test registered by path."""

    name = "recording"
    calls: list[Call] = field(default_factory=list)
    answers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def answer(self, method: str, path: str, obj: dict[str, Any]) -> None:
        """Answer ``method path`` (e.g. GET /v1/payment_intents/pi_1) with ``obj``."""
        self.answers[(method.upper(), path)] = obj

    def fail(self, method: str, path: str, status: int, error_type: str = "api_error") -> None:
        """Answer ``method path`` with a Stripe error (told not to retry, so tests stay fast)."""
        self.answers[(method.upper(), path)] = {
            "_status": status, "error": {"type": error_type, "message": "recorded failure"}}

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, *,
                _usage: Any = None) -> tuple[str, int, dict[str, str]]:
        parts = urlsplit(url)
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        params = dict(parse_qsl(body or parts.query, keep_blank_values=True))
        with self._lock:
            self.calls.append(Call(method.upper(), url, dict(headers or {}), params))
        obj = self.answers.get((method.upper(), parts.path))
        if obj is None:
            obj = self._from_fixtures(parts.path)
        headers = {"request-id": f"req_{len(self.calls)}"}
        if "_status" in obj:
            body = {k: v for k, v in obj.items() if k != "_status"}
            return json.dumps(body), obj["_status"], {**headers, "stripe-should-retry": "false"}
        return json.dumps(obj), 200, headers

    def _from_fixtures(self, path: str) -> dict[str, Any]:
        tail = path.removeprefix("/v1/")
        for pattern, resource in ROUTES:
            match = re.fullmatch(pattern, tail)
            if match:
                obj = fixture(resource)
                if match.groups() and match.group(1):
                    obj["id"] = match.group(1).lstrip("/")
                return obj
        raise AssertionError(f"unexpected Stripe call: {path}")

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("streaming Stripe calls are not expected")

    def close(self) -> None:
        pass

    # helpers for assertions
    def posts(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.path == path]

    def only(self, method: str, path: str) -> Call:
        found = [c for c in self.calls if c.method == method and c.path == path]
        assert len(found) == 1, f"{len(found)} calls to {method} {path}: {self.calls}"
        return found[0]
