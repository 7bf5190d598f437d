"""The portals' shells: patient (/), specialist (/specialist), organization (/org) and
affiliate (/partners). Modules add pages to them; navigation comes from enabled modules."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    has_request_context,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from engine.identity import services
from engine.identity.permissions import has_permission, public, requires
from engine.modules import PORTAL_PREFIX, NavEntry
from engine.web import BrandContext, UserError, current_brand, db

patient = Blueprint("portal_patient", __name__)
specialist = Blueprint("portal_specialist", __name__, url_prefix=PORTAL_PREFIX["specialist"])
org = Blueprint("portal_org", __name__, url_prefix=PORTAL_PREFIX["org"])
partners = Blueprint("portal_partners", __name__, url_prefix=PORTAL_PREFIX["partners"])

CORE_NAV = {
    "patient": [NavEntry("patient", "portal_patient.me", _l("My account"),
                         "core.portal.patient", 90),
                NavEntry("patient", "privacy.index", _l("Privacy"), "core.portal.patient", 92)],
    "specialist": [NavEntry("specialist", "portal_specialist.home", _l("Overview"),
                            "core.portal.specialist", 0)],
    "org": [NavEntry("org", "portal_org.home", _l("Overview"), "core.portal.org", 0),
            NavEntry("org", "portal_org.roster", _l("Roster"), "core.org.roster.view", 10)],
    "partners": [NavEntry("partners", "portal_partners.home", _l("Overview"),
                          "core.portal.partners", 0)],
}


def current_portal() -> str:
    """The portal of this request's path; a portal this brand does not mount counts as none
    (the patient shell renders its 404)."""
    path = request.path
    for portal in ("specialist", "org", "partners"):
        prefix = PORTAL_PREFIX[portal]
        if (path == prefix or path.startswith(prefix + "/")) \
                and f"portal_{portal}" in current_app.blueprints:
            return portal
    return "patient"


def nav_links(ctx: BrandContext, portal: str) -> list[dict[str, Any]]:
    """Links of ``portal`` the current user may follow, in order."""
    entries = sorted([*CORE_NAV.get(portal, []), *ctx.nav.get(portal, [])],
                     key=lambda e: e.order)
    links = []
    for e in entries:
        if e.endpoint not in current_app.view_functions:  # its blueprint is not mounted here
            continue
        if e.permission is not None and not has_permission(current_user, e.permission):
            continue
        url = url_for(e.endpoint)
        links.append({"url": url, "label": str(e.label), "endpoint": e.endpoint,
                      "badge": e.badge(current_user) if e.badge is not None else None,
                      "active": request.path == url or (url != "/" and
                                                        request.path.startswith(url + "/"))})
    return links


def register(app: Flask, ctx: BrandContext, *, has_partners: bool) -> None:
    app.register_blueprint(patient)
    app.register_blueprint(specialist)
    app.register_blueprint(org)
    if has_partners:
        app.register_blueprint(partners)

    @app.route("/nav/badges.json", endpoint="nav_badges")
    @requires("core.account.manage")
    def nav_badges() -> Any:
        """The counts beside one portal's navigation links (``?portal=specialist``), for pages
        that keep them current without a reload (the base theme's app.js)."""
        portal = request.args.get("portal", "patient")
        if portal not in PORTAL_PREFIX or f"portal_{portal}" not in current_app.blueprints:
            raise UserError(_("There is no such portal here."), code="invalid_portal",
                            field="portal")
        return jsonify({"badges": {link["endpoint"]: link["badge"]
                                   for link in nav_links(ctx, portal)
                                   if link["badge"] is not None}})

    @app.context_processor
    def _portal_context() -> dict[str, Any]:
        if not has_request_context():  # mail rendered by a job or a command: no page around it
            return {"brand": ctx.config, "brand_ctx": ctx, "portal": "patient", "nav": []}
        portal = current_portal()
        return {"brand": ctx.config, "brand_ctx": ctx, "portal": portal,
                "nav": nav_links(ctx, portal)}


@patient.route("/")
@public
def home() -> Any:
    return render_template("portal/home.html")


@patient.route("/me")
@requires("core.portal.patient")
def me() -> Any:
    return render_template("portal/patient.html")


@specialist.route("/", endpoint="home")
@requires("core.portal.specialist")
def home_specialist() -> Any:
    return render_template("portal/specialist.html")


@org.route("/", endpoint="home")
@requires("core.portal.org")
def home_org() -> Any:
    cfg = current_brand.config
    organization = next((o for o in cfg.organizations if o.slug == current_user.organization),
                        None)
    # Coordinators work in the org portal too, but only organization admins see the roster.
    member_count = None
    if has_permission(current_user, "core.org.roster.view"):
        member_count = len(services.organization_roster(db(), current_user,  # type: ignore[arg-type]
                                                        cfg))
    return render_template("portal/org.html", organization=organization,
                           member_count=member_count)


@org.route("/roster")
@requires("core.org.roster.view")
def roster() -> Any:
    members = services.organization_roster(db(), current_user, current_brand.config)  # type: ignore[arg-type]
    return render_template("portal/roster.html", members=members)


@partners.route("/", endpoint="home")
@requires("core.portal.partners")
def home_partners() -> Any:
    return render_template("portal/partners.html")

