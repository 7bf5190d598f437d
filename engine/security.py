"""Response hardening and session lifetimes, shared by every brand app and the operator console.

Headers: a Content-Security-Policy without inline scripts (every script is a static file; data
reaches scripts through ``data-*`` attributes or ``<script type="application/json">`` blocks,
which browsers never execute), no framing, no MIME sniffing, a same-origin referrer, HSTS over
HTTPS, and a Permissions-Policy that lets this site (and only it) use the camera, microphone and
screen sharing of video visits.

Session lifetimes: the session cookie is signed, so the times stored in it cannot be forged; a
session older than the absolute lifetime, or idle for longer than the idle lifetime, is ended by
the server on its next request whatever the cookie's own expiry says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, request, session
from flask_login import logout_user

from engine import clock

# ``style-src-attr 'unsafe-inline'``: the specialist's week view positions blocks with computed
# ``style="top:..;height:.."`` attributes. Attributes cannot run code or load anything;
# ``<style>`` elements stay forbidden (style-src / style-src-elem 'self'). Browsers without
# CSP level 3 fall back to style-src and merely lose that positioning.
# ``form-action`` lists Stripe Checkout: a POSTed form may redirect there to pay.
_BRAND_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-elem 'self'; "
    "style-src-attr 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "font-src 'self'; connect-src 'self' {ws}; object-src 'none'; base-uri 'none'; "
    "form-action 'self' https://checkout.stripe.com; frame-ancestors 'none'"
)
CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PERMISSIONS_POLICY = (
    "camera=(self), microphone=(self), display-capture=(self), fullscreen=(self), "
    "geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), interest-cohort=()"
)
HSTS = "max-age=31536000; includeSubDomains"


def brand_policy() -> str:
    """The brand CSP for the current request (WebSocket to this host for live features)."""
    scheme = "wss" if request.is_secure else "ws"
    return _BRAND_POLICY.format(ws=f"{scheme}://{request.host}")


def apply_headers(resp: Response, policy: str) -> None:
    """Set the hardening headers on ``resp`` (a view may have set a stricter one itself)."""
    resp.headers.setdefault("Content-Security-Policy", policy)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        resp.headers.setdefault("Strict-Transport-Security", HSTS)


# --- session lifetimes ----------------------------------------------------------------------

SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"
# the idle clock is written back at most this often, so a page's burst of requests (scripts,
# JSON) does not re-issue the cookie each time
_SEEN_RESOLUTION = 60


@dataclass(frozen=True)
class Lifetimes:
    idle_seconds: int
    absolute_seconds: int


def mark_session_start() -> None:
    """Record the sign-in time in the (fresh) session; call right after signing a user in."""
    now = int(clock.now().timestamp())
    session[SIGNED_IN_AT] = now
    session[SEEN_AT] = now


def session_expired(lifetimes: Lifetimes) -> bool:
    """Whether the signed-in session of this request is past its idle or absolute lifetime.

    A signed-in session without a sign-in time (issued before lifetimes existed, or planted)
    counts as expired. A live session has its idle clock moved forward.
    """
    now = int(clock.now().timestamp())
    started, seen = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if not isinstance(started, int) or not isinstance(seen, int):
        return True
    if now - started >= lifetimes.absolute_seconds or now - seen >= lifetimes.idle_seconds:
        return True
    if now - seen >= _SEEN_RESOLUTION:
        session[SEEN_AT] = now
    return False


def enforce_lifetimes(app: Flask, lifetimes: Callable[[], Lifetimes],
                      on_expire: Callable[[], None] | None = None) -> None:
    """End expired sessions before any view runs. The request then goes on anonymous: a page
    that needs a user sends the visitor to sign in (JSON callers get 401), a public page just
    shows, and a form posted with the old session fails its CSRF check (nothing is written)."""

    @app.before_request
    def _session_lifetime() -> None:
        if "_user_id" not in session or not session_expired(lifetimes()):
            return
        logout_user()
        keep = {k: session[k] for k in ("locale", "timezone") if k in session}
        session.clear()
        session.update(keep)
        if on_expire is not None:
            on_expire()
