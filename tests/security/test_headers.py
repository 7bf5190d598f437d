"""Security headers on every answer of brands and console; no inline script in any template."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.settings import ROOT
from tests.security.conftest import CONSOLE_HOST

PAGES = [("acme.localhost", "/"), ("acme.localhost", "/account/signin"),
         ("acme.localhost", "/no-such-page"), ("acme.localhost", "/brand.css"),
         ("wellness.localhost", "/"), ("wellness.localhost", "/me"),
         (CONSOLE_HOST, "/signin"), (CONSOLE_HOST, "/brands"), (CONSOLE_HOST, "/nope")]


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.parametrize(("host", "path"), PAGES)
def test_every_answer_carries_the_hardening_headers(client_for, host, path):
    resp = client_for(host).get(path)
    csp = _directives(resp.headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert "'unsafe-inline'" not in csp.get("style-src", [])
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    policy = resp.headers["Permissions-Policy"]
    for feature in ("camera", "microphone", "display-capture"):
        assert f"{feature}=(self)" in policy
    assert "geolocation=()" in policy
    assert "Strict-Transport-Security" not in resp.headers  # plain HTTP: HSTS means nothing


@pytest.mark.parametrize("host", ["acme.localhost", CONSOLE_HOST])
def test_hsts_is_sent_over_https(client_for, host):
    resp = client_for(host).get("/", base_url=f"https://{host}")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_brand_colours_come_from_a_stylesheet_not_an_inline_style(client_for, platform):
    client = client_for("acme-clinic")
    page = client.get("/").get_data(as_text=True)
    assert "<style" not in page
    css = client.get("/brand.css")
    assert css.mimetype == "text/css"
    colors = platform.brands["acme-clinic"].loaded.config.theme.colors
    assert f"--color-primary: {colors.primary};" in css.get_data(as_text=True)


def test_module_static_files_are_served_for_enabled_modules(client_for):
    resp = client_for("acme-clinic").get("/static/m/booking/conditions.js")
    assert resp.status_code == 200 and "data-form-id" in resp.get_data(as_text=True)
    resp.close()


# --- no inline script anywhere ---------------------------------------------------------------

TEMPLATE_ROOTS = [ROOT / "themes", ROOT / "modules", ROOT / "engine", ROOT / "brands"]
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")"
                           r"[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE | re.DOTALL)
JS_URL = re.compile(r"(?:href|src|action)\s*=\s*[\"']\s*javascript:", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)


def _templates() -> list[Path]:
    found = []
    for root in TEMPLATE_ROOTS:
        found += [p for p in root.rglob("*.html") if "node_modules" not in p.parts]
    return found


def test_the_scan_finds_templates_and_would_catch_each_kind_of_inline_code():
    assert len(_templates()) > 40
    assert INLINE_SCRIPT.search('<script>alert(1)</script>')
    assert INLINE_SCRIPT.search('<script type="module">x</script>')
    assert not INLINE_SCRIPT.search('<script src="/static/a.js" defer></script>')
    assert not INLINE_SCRIPT.search('<script type="application/json" id="d">{}</script>')
    assert HANDLER.search('<button class="x" onclick="go()">')
    assert HANDLER.search('<body\n  onload="go()">')
    assert not HANDLER.search('<p>Questions on online visits</p>')
    assert JS_URL.search('<a href="javascript:void(0)">')


@pytest.mark.parametrize("pattern", [INLINE_SCRIPT, HANDLER, JS_URL, STYLE_ELEMENT],
                         ids=["script", "handler", "javascript-url", "style-element"])
def test_no_template_holds_inline_code(pattern):
    offenders = []
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        # Jinja comments may mention tags in prose
        text = re.sub(r"\{#.*?#\}", "", text, flags=re.DOTALL)
        offenders += [f"{path.relative_to(ROOT)}: {m.group(0)[:60]}"
                      for m in pattern.finditer(text)]
    assert offenders == []
