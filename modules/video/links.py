"""Signed join links and short-lived TURN credentials.

A join token names the brand, the appointment and the participant (user id and role), signed
with the brand's own key (``engine.app.brand_secret``), so a token of one brand is worthless on
another. It carries no expiry of its own: when it opens is decided from the appointment's
current times (a rescheduled appointment keeps its links) and whether the visit has ended.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import URLSafeSerializer

from engine.app import brand_secret

SALT = "video.join.v1"


@dataclass(frozen=True)
class JoinClaim:
    brand: str
    appointment_id: int
    user_id: int
    role: str


class BadLink(Exception):
    """A token that does not verify. ``reason`` is ``tampered`` or ``other_brand``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _serializer(platform_secret: str, brand: str) -> URLSafeSerializer:
    return URLSafeSerializer(brand_secret(platform_secret, brand), salt=SALT)


def sign_join(platform_secret: str, claim: JoinClaim) -> str:
    """The token of ``claim``'s join link."""
    return str(_serializer(platform_secret, claim.brand).dumps(
        {"b": claim.brand, "a": claim.appointment_id, "u": claim.user_id, "r": claim.role}))


def read_join(platform_secret: str, brand: str, token: str) -> JoinClaim:
    """The claim of ``token`` opened on ``brand``; :class:`BadLink` when it was not signed by
    this brand (``other_brand`` when its unsigned payload names another brand)."""
    if len(token) > 512:
        raise BadLink("tampered")
    valid, payload = _serializer(platform_secret, brand).loads_unsafe(token)
    if not valid:
        if isinstance(payload, dict) and isinstance(payload.get("b"), str) \
                and payload["b"] != brand:
            raise BadLink("other_brand")
        raise BadLink("tampered")
    try:
        claim = JoinClaim(str(payload["b"]), int(payload["a"]), int(payload["u"]),
                          str(payload["r"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadLink("tampered") from exc
    if claim.brand != brand:  # signed with this brand's key yet naming another: never issued
        raise BadLink("tampered")
    return claim


def turn_credentials(secret: str, user: str, ttl_seconds: int,
                     now: datetime) -> tuple[str, str]:
    """coturn's REST API scheme (``use-auth-secret``): username ``<expiry>:<user>``, password
    base64(HMAC-SHA1(secret, username)); the TURN server checks both without a database."""
    expiry = int((now + timedelta(seconds=ttl_seconds)).timestamp())
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(ice: Any, user: str, now: datetime,
                environ: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The ``RTCPeerConnection`` ``iceServers`` for one participant: STUN as configured, TURN
    with a fresh credential. A TURN secret whose variable is unset leaves TURN out (STUN and
    direct connections still work) rather than failing the call."""
    env = os.environ if environ is None else environ
    servers: list[dict[str, Any]] = []
    if ice.stun_urls:
        servers.append({"urls": list(ice.stun_urls)})
    if ice.turn_urls and ice.turn_secret:
        secret = env.get(ice.turn_secret.removeprefix("env:"), "")
        if secret:
            username, credential = turn_credentials(secret, user, ice.credential_ttl_seconds,
                                                    now)
            servers.append({"urls": list(ice.turn_urls), "username": username,
                            "credential": credential})
    return servers


__all__ = ["BadLink", "JoinClaim", "ice_servers", "read_join", "sign_join",
           "turn_credentials"]
