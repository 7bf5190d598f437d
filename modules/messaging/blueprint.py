"""Messaging views, one set per portal: patients (/messages), specialists
(/specialist/messages) and the care team (/org/messages). Views parse, call a service, render.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, cast

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from engine import audit
from engine.identity.models import User
from engine.identity.permissions import requires
from engine.web import UserError, current_brand, db, discard_writes
from modules.messaging import services
from modules.messaging.access import (
    patient_by_email,
    settings_of,
    specialists_of_patient,
    visible_thread,
)
from modules.messaging.attachments import Upload, human_size
from modules.messaging.notifications import set_email_preference, wants_email
from modules.messaging.rendering import message_html

patient_bp = Blueprint("messaging", __name__)
specialist_bp = Blueprint("messaging_specialist", __name__)
care_team_bp = Blueprint("messaging_care_team", __name__)


def _actor() -> User:
    return cast(User, current_user)


def _data_dir() -> Path:
    return current_brand.runtime.settings.data_dir


def _uploads() -> list[Upload]:
    """The files of the form; one byte past the brand's limit is enough to refuse a file."""
    limit = settings_of(current_brand.config).attachment_max_bytes + 1
    out = []
    for f in request.files.getlist("files"):
        try:
            out.append(Upload(f.filename or "", f.stream.read(limit)))
        finally:
            f.close()
    return out


def _is_staff(actor: User) -> bool:
    return actor.role in ("specialist", "coordinator")


APPOINTMENT_ENDPOINTS = {"messaging": "booking.appointment",
                         "messaging_specialist": "booking_specialist.appointment"}


def _appointment_url(bp: str, appointment: Any) -> str | None:
    """The appointment's page in this portal, when booking has one here."""
    endpoint = APPOINTMENT_ENDPOINTS.get(bp)
    if appointment is None or endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, appointment_id=appointment.id)


def _thread_context(bp: str, thread_id: int) -> dict[str, Any]:
    session, actor, brand = db(), _actor(), current_brand.config
    thread = visible_thread(session, actor, brand, thread_id)
    messages = services.messages_of(session, actor, brand, thread)
    latest = messages[-1].id if messages else 0
    services.mark_read(session, actor, thread, latest)
    appointment = services.upcoming_appointment(session, brand, thread)
    if _is_staff(actor):
        audit.record_request("messaging.thread.view", target_type="messaging_thread",
                             target_id=thread.id, patient_id=thread.patient_id)
    return {"bp": bp, "thread": thread, "messages": messages, "latest": latest,
            "files": services.attachments_of(session, messages),
            "senders": services.senders_of(session, messages),
            "read_up_to": services.last_read_by_others(session, actor, thread),
            "counterpart": services.counterpart_name(session, actor, brand, thread),
            "appointment": appointment, "appointment_url": _appointment_url(bp, appointment),
            "settings": settings_of(brand), "human_size": human_size}


def _message_json(bp: str, thread_id: int) -> Any:
    session, actor, brand = db(), _actor(), current_brand.config
    after = request.args.get("after", "0")
    if not after.isdigit():
        raise UserError(_("The last message seen must be a number."), code="invalid",
                        field="after")
    thread = visible_thread(session, actor, brand, thread_id)
    messages = services.messages_of(session, actor, brand, thread, after_id=int(after))
    files = services.attachments_of(session, messages)
    senders = services.senders_of(session, messages)
    read_up_to = services.last_read_by_others(session, actor, thread)
    if messages:
        services.mark_read(session, actor, thread, messages[-1].id)
    items = [{"id": m.id, "html": render_template(
        "messaging/_message.html", bp=bp, m=m, files=files, senders=senders,
        read_up_to=read_up_to, human_size=human_size)} for m in messages]
    return jsonify({"messages": items, "last_id": messages[-1].id if messages else int(after),
                    "unread": services.unread_total(session, actor, brand)})


def _routes(bp: Blueprint, permission: str) -> None:
    """The views every portal shares, on ``bp``, open to holders of ``permission``."""
    name = bp.name

    @bp.route("/", endpoint="index")
    @requires(permission)
    def index() -> Any:
        session, actor, brand = db(), _actor(), current_brand.config
        threads = services.threads_of(session, actor, brand)
        specialists = specialists_of_patient(session, brand, actor) \
            if actor.role == "patient" else []
        return render_template("messaging/index.html", bp=name, threads=threads,
                               specialists=specialists, settings=settings_of(brand))

    @bp.route("/<int:thread_id>", methods=["GET", "POST"], endpoint="thread")
    @requires(permission)
    def thread(thread_id: int) -> Any:
        error = None
        if request.method == "POST":
            try:
                services.post_message(db(), _actor(), current_brand.config, thread_id,
                                      request.form.get("body", ""), _uploads(), _data_dir())
            except UserError as exc:
                if exc.status == 404:
                    raise
                discard_writes()
                error = exc.message
            else:
                return redirect(url_for(f"{name}.thread", thread_id=thread_id) + "#latest")
        context = _thread_context(name, thread_id)
        return render_template("messaging/thread.html", error=error,
                               body=request.form.get("body", "") if error else "",
                               **context), 400 if error else 200

    @bp.route("/<int:thread_id>/updates.json", endpoint="updates")
    @requires(permission)
    def updates(thread_id: int) -> Any:
        return _message_json(name, thread_id)

    @bp.route("/unread.json", endpoint="unread")
    @requires(permission)
    def unread() -> Any:
        return jsonify({"unread": services.unread_total(db(), _actor(),
                                                        current_brand.config)})

    @bp.route("/attachments/<int:attachment_id>", endpoint="download")
    @requires(permission)
    def download(attachment_id: int) -> Any:
        row, data, thread = services.download(db(), _actor(), current_brand.config,
                                              attachment_id, _data_dir())
        audit.record_request("messaging.attachment.download",
                             target_type="messaging_attachment", target_id=row.id,
                             patient_id=thread.patient_id)
        resp = send_file(io.BytesIO(data), mimetype=row.content_type, as_attachment=True,
                         download_name=row.filename, max_age=0, etag=False)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        resp.headers["Cache-Control"] = "private, no-store"
        return resp

    @bp.route("/settings", methods=["GET", "POST"], endpoint="settings")
    @requires(permission)
    def preferences() -> Any:
        session, actor, brand = db(), _actor(), current_brand.config
        if request.method == "POST":
            set_email_preference(session, actor, brand, request.form.get("email") == "on")
            flash(_("Your message settings are saved."), "success")
            return redirect(url_for(f"{name}.settings"))
        return render_template("messaging/settings.html", bp=name,
                               email=wants_email(session, brand, actor))


_routes(patient_bp, "messaging.patient")
_routes(specialist_bp, "messaging.specialist")
_routes(care_team_bp, "messaging.care_team")


@patient_bp.route("/with/<int:specialist_id>", methods=["POST"])
@requires("messaging.patient")
def start_with_specialist(specialist_id: int) -> Any:
    found = services.open_specialist_thread(db(), _actor(), current_brand.config,
                                            other_id=specialist_id)
    return redirect(url_for("messaging.thread", thread_id=found.id))


@patient_bp.route("/care-team", methods=["POST"])
@requires("messaging.patient")
def start_with_care_team() -> Any:
    found = services.open_care_team_thread(db(), _actor(), current_brand.config)
    return redirect(url_for("messaging.thread", thread_id=found.id))


@specialist_bp.route("/with/<int:patient_id>", methods=["POST"])
@requires("messaging.specialist")
def start_with_patient(patient_id: int) -> Any:
    found = services.open_specialist_thread(db(), _actor(), current_brand.config,
                                            other_id=patient_id)
    return redirect(url_for("messaging_specialist.thread", thread_id=found.id))


@care_team_bp.route("/start", methods=["POST"])
@requires("messaging.care_team")
def start_by_email() -> Any:
    patient = patient_by_email(db(), current_brand.config, request.form.get("email", ""))
    found = services.open_care_team_thread(db(), _actor(), current_brand.config,
                                           patient_id=patient.id)
    return redirect(url_for("messaging_care_team.thread", thread_id=found.id))


@care_team_bp.route("/with/<int:patient_id>", methods=["POST"])
@requires("messaging.care_team")
def start_care_team_thread(patient_id: int) -> Any:
    found = services.open_care_team_thread(db(), _actor(), current_brand.config,
                                           patient_id=patient_id)
    return redirect(url_for("messaging_care_team.thread", thread_id=found.id))


def on_mount(app: Any, ctx: Any) -> None:
    """Message text renders through one safe filter (see :mod:`modules.messaging.rendering`)."""
    app.jinja_env.globals["message_html"] = message_html
