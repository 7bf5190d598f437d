"""Stored XSS in the assisted request's free text: the coordinator sees it escaped.

The example brands do not run the assisted journey, so acme-clinic is switched to it on a copy
of the brand files (as the assisted module's own tests do)."""

from __future__ import annotations

from flask import url_for

from modules.assisted import services as assisted
from modules.assisted.schemas import RequestInput
from tests.modules.assisted.conftest import assisted_brands
from tests.security.test_attacks import XSS, _escaped, _text


def test_assisted_request_needs_are_escaped_for_the_coordinator(brands_dir, platform_on,
                                                                create_user, signin, db):
    site = platform_on(assisted_brands(brands_dir))
    acme = site.brands["acme-clinic"].loaded.config
    patient = create_user(role="patient")
    coordinator = create_user(role="coordinator")
    row = assisted.submit_request(db, patient, acme, RequestInput(
        needs=XSS + " and more words", time_windows=("0:morning",)))
    db.flush()
    from tests.conftest import BrandClient

    client = BrandClient(site, "acme.localhost")
    assert signin(client, coordinator.email).status_code == 302
    app = site.app_for("acme-clinic")
    with app.test_request_context():
        pages = [url_for(r.endpoint, **({"request_id": row.id} if r.arguments else {}))
                 for r in app.url_map.iter_rules()
                 if r.endpoint.startswith("assisted") and "GET" in (r.methods or ())
                 and r.arguments <= {"request_id"}]
    shown = [b for b in (_text(client, p) for p in pages) if "&lt;script&gt;" in b]
    assert shown, f"no coordinator page shows the request ({pages})"
    for body in shown:
        _escaped(body)
