"""Video views: the room behind a join link, its signaling WebSocket, and the specialist's
"end visit" action. Views parse, call a service, render. The room's script and stylesheet
(``static/video.js``, ``static/video.css``) are served by the engine at ``/static/m/video/``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_sock import Sock
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine import clock
from engine.broker import broker_for
from engine.db import brand_session
from engine.identity.models import User
from engine.identity.permissions import requires
from engine.privacy import consent
from engine.web import current_brand, db, discard_writes
from modules.booking.models import Appointment
from modules.video import services
from modules.video.links import ice_servers
from modules.video.models import Visit
from modules.video.signaling import Actions, Connection, channel_of

T = TypeVar("T")

bp = Blueprint("video", __name__)
specialist_bp = Blueprint("video_specialist", __name__)
sock = Sock()


def _actor() -> User:
    return cast(User, current_user._get_current_object())  # type: ignore[attr-defined]


def _secret() -> str:
    return current_brand.runtime.settings.secret_key


def _refused(exc: services.LinkRefused) -> Any:
    discard_writes()
    return render_template("video/refused.html", code=exc.code, opens_at=exc.opens_at,
                           zone=_actor().timezone or current_brand.config.timezone), exc.status


@bp.route("/join/<token>")
@requires("video.visit.join")
def room(token: str) -> Any:
    """Device check, waiting room and call: one page, driven by static/video.js."""
    cfg = current_brand.config
    try:
        opened = services.open_link(db(), _actor(), cfg, _secret(), token, create_visit=False)
    except services.LinkRefused as exc:
        return _refused(exc)
    if opened.role == "patient":
        # a visit booked by staff skipped booking's consent check: the patient joins only with
        # the brand's telehealth consents given (ConsentRequired answers 403 with the link)
        consent.require(db(), opened.user, cfg, "video")
    settings = services.video_settings(cfg)
    back = (url_for("booking_specialist.appointment", appointment_id=opened.appointment.id)
            if opened.role == "specialist"
            else url_for("booking.appointment", appointment_id=opened.appointment.id))
    return render_template(
        "video/room.html", opened=opened, settings=settings, back=back,
        # a WebSocket rule builds a full ws:// URL; the page picks ws or wss from its own
        ws_path=urlsplit(url_for("video.signal", token=token)).path,
        zone=opened.user.timezone or cfg.timezone)


def _same_origin() -> bool:
    """A WebSocket handshake carries cookies from any site: only this host's pages may open
    one (cross-site WebSocket hijacking)."""
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc == request.host


def _in_transaction(work: Callable[[Session], T]) -> T:
    """Run ``work`` in a short transaction of its own (a call lasts long: no session stays
    open meanwhile). SQLite refuses a writer whose snapshot another writer overtook (it does
    not wait for those): the transaction is retried, it only reads what it then writes."""
    runtime, slug = current_brand.runtime, current_brand.slug
    for attempt in range(6):
        with brand_session(runtime.sessions, slug) as session:
            try:
                result = work(session)
                session.commit()
                return result
            except OperationalError as exc:
                session.rollback()
                if "locked" not in str(exc.orig) or attempt == 5:
                    raise
        time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


@sock.route("/ws/<token>", bp=bp)
@requires("video.visit.join")
def signal(ws: Any, token: str) -> None:
    """The participant's signaling channel (see modules/video/signaling.py)."""
    cfg = current_brand.config
    if not _same_origin():
        ws.send(json.dumps({"type": "error", "code": "origin"}))
        return
    user_id = _actor().id
    db().close()  # the request's session: nothing of it is needed during the call
    settings = services.video_settings(cfg)
    secret = _secret()

    def join(session: Session) -> tuple[int, str, bool, str]:
        actor = session.get(User, user_id)
        assert actor is not None
        opened = services.open_link(session, actor, cfg, secret, token)
        if opened.role == "patient" and consent.missing(session, actor, cfg, "video"):
            raise services.LinkRefused("consent_required", 403)
        services.joined(session, opened, cfg)
        admitted = opened.visit.admitted_at is not None or settings.admit == "automatic"
        return opened.visit.id, opened.role, admitted, opened.peer.name

    try:
        visit_id, role, admitted, peer_name = _in_transaction(join)
    except services.LinkRefused as exc:
        ws.send(json.dumps({"type": "refused", "code": exc.code}))
        return

    def host(action: Callable[..., Any]) -> Callable[[], None]:
        def run() -> None:
            _in_transaction(lambda s: action(s, s.get(User, user_id), cfg, visit_id))
        return run

    def left() -> None:
        _in_transaction(lambda s: services.record_event(s, s.get(Visit, visit_id), user_id,
                                                        role, "left"))

    welcome = {"iceServers": ice_servers(settings.ice, str(user_id), clock.now()),
               "peerName": peer_name, "admitPolicy": settings.admit}
    Connection(ws, broker_for(current_brand.runtime), channel_of(cfg.slug, visit_id), role,
               admitted, Actions(host(services.admit_patient), host(services.end_visit), left),
               welcome).run()


@specialist_bp.route("/visits/<int:visit_id>/end", methods=["POST"])
@requires("video.visit.host")
def end(visit_id: int) -> Any:
    """End the visit from the appointment page: both links stop opening; a call in progress
    is closed."""
    cfg = current_brand.config
    visit = services.end_visit(db(), _actor(), cfg, visit_id)
    db().commit()  # ended before anyone is told: a reconnect finds the visit closed
    broker_for(current_brand.runtime).publish(channel_of(cfg.slug, visit.id),
                                              {"type": "ended", "from": "specialist",
                                               "sender": "page"})
    flash(_("The video visit has ended; its links no longer open."), "success")
    appointment = db().get(Appointment, visit.appointment_id)
    assert appointment is not None
    return redirect(url_for("booking_specialist.appointment", appointment_id=appointment.id))
