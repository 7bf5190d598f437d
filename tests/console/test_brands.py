"""Brands page, module toggles through the config editor, config errors, console /healthz."""

from __future__ import annotations

import html
import re
from pathlib import Path

from engine.config.loader import revision_of
from tests.conftest import BrandClient


def toggle_fields(client: BrandClient, slug: str, module: str) -> dict[str, str]:
    """The hidden fields of a module's toggle form, as the brands page renders it."""
    page = client.get("/brands").get_data(as_text=True)
    action = f'action="/brands/{slug}/modules/{module}"'
    start = page.index(action)
    form = page[start:page.index("</form>", start)]
    return {name: html.unescape(value)
            for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', form)}


def comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "#" in line]


def test_brands_page_shows_every_brand_with_revision_domains_and_modules(operator_console,
                                                                         platform):
    page = operator_console.get("/brands").get_data(as_text=True)
    for slug, served in platform.brands.items():
        loaded = served.loaded
        assert f'id="brand-{slug}"' in page
        assert loaded.revision in page
        assert loaded.path.name in page
        assert loaded.config.journey.mode in page
        for domain in loaded.config.domains:
            assert f'href="http://{domain}/"' in page
    assert "No configuration errors." in page


def test_brands_page_shows_a_broken_file_while_its_last_good_config_serves(
        scratch_console, scratch_platform, brands_dir: Path):
    served_revision = scratch_platform.brands["acme-clinic"].loaded.revision
    path = brands_dir / "acme-clinic.yaml"
    path.write_text(path.read_text().replace("page_size: 12", "page_size: 0"))
    scratch_platform.reload()

    page = scratch_console.get("/brands").get_data(as_text=True)
    section = page[page.index('id="brand-acme-clinic"'):page.index('id="brand-wellness-corp"')]
    assert 'role="alert"' in section
    assert "modules.directory.page_size" in section
    assert "acme-clinic.yaml" in section
    assert served_revision in section  # still serving the last good revision
    assert revision_of(path.read_text()) in section  # and says the file differs
    assert "1 files have configuration errors." in page


def test_brands_page_lists_files_that_did_not_load(scratch_console, scratch_platform,
                                                   brands_dir: Path):
    (brands_dir / "half-written.yaml").write_text("slug: half-written\nname: [unclosed\n")
    scratch_platform.reload()
    page = scratch_console.get("/brands").get_data(as_text=True)
    failed = page[page.index("Files that did not load"):page.index('id="brand-acme-clinic"')]
    assert "half-written.yaml" in failed
    assert "YAML syntax error" in failed


def test_enabling_then_disabling_a_module_edits_the_yaml_and_the_brand_follows(
        scratch_console, scratch_platform, brands_dir: Path):
    path = brands_dir / "acme-clinic.yaml"
    original = path.read_text()
    brand = BrandClient(scratch_platform, "acme.localhost")
    assert brand.get("/match/").status_code == 404

    resp = scratch_console.post("/brands/acme-clinic/modules/matching",
                                data=toggle_fields(scratch_console, "acme-clinic", "matching"))
    assert resp.status_code == 303
    text = path.read_text()
    assert "matching" in text and comment_lines(text) == comment_lines(original)
    assert brand.get("/match/").status_code == 200
    page = scratch_console.get(resp.headers["Location"]).get_data(as_text=True)
    assert "matching is now on for acme-clinic." in page
    assert revision_of(text) in page

    fields = toggle_fields(scratch_console, "acme-clinic", "matching")
    assert fields["enabled"] == "off"
    resp = scratch_console.post("/brands/acme-clinic/modules/matching",
                                data={**fields, "confirmed": "yes"})
    assert resp.status_code == 303
    text = path.read_text()
    assert "enabled: false" in text and comment_lines(text) == comment_lines(original)
    assert brand.get("/match/").status_code == 404
    assert scratch_platform.brands["acme-clinic"].loaded.revision == revision_of(text)


def test_disabling_asks_for_confirmation_before_writing(scratch_console, brands_dir: Path):
    path = brands_dir / "acme-clinic.yaml"
    before = path.read_bytes()
    fields = toggle_fields(scratch_console, "acme-clinic", "directory")
    assert fields["enabled"] == "off"
    resp = scratch_console.post("/brands/acme-clinic/modules/directory", data=fields)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Disable directory on Acme Clinic?" in page
    assert 'name="confirmed" value="yes"' in page
    assert "/specialists" in page  # the addresses that will stop answering
    assert path.read_bytes() == before


def test_refused_toggle_shows_the_reason_and_writes_nothing(scratch_console, scratch_platform,
                                                            brands_dir: Path):
    path = brands_dir / "wellness-corp.yaml"
    before = path.read_bytes()
    revision = scratch_platform.brands["wellness-corp"].loaded.revision
    fields = toggle_fields(scratch_console, "wellness-corp", "directory")
    resp = scratch_console.post("/brands/wellness-corp/modules/directory",
                                data={**fields, "confirmed": "yes"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert "Not changed: wellness-corp" in page
    assert "module &#39;matching&#39; requires module &#39;directory&#39;" in page
    assert path.read_bytes() == before
    assert scratch_platform.brands["wellness-corp"].loaded.revision == revision


def test_a_resubmitted_toggle_form_is_refused_as_stale(scratch_console, brands_dir: Path):
    path = brands_dir / "acme-clinic.yaml"
    fields = toggle_fields(scratch_console, "acme-clinic", "matching")
    first = scratch_console.post("/brands/acme-clinic/modules/matching", data=fields)
    assert first.status_code == 303
    after_first = path.read_bytes()
    again = scratch_console.post("/brands/acme-clinic/modules/matching", data=fields)
    assert again.status_code == 409
    assert "changed since this page was loaded" in again.get_data(as_text=True)
    assert path.read_bytes() == after_first


def test_toggle_without_csrf_token_is_refused_and_writes_nothing(scratch_console,
                                                                 brands_dir: Path):
    path = brands_dir / "acme-clinic.yaml"
    before = path.read_bytes()
    fields = toggle_fields(scratch_console, "acme-clinic", "matching")
    del fields["csrf_token"]
    resp = scratch_console.post("/brands/acme-clinic/modules/matching", data=fields)
    assert resp.status_code == 400
    assert "This form has expired" in resp.get_data(as_text=True)
    forged = scratch_console.post("/brands/acme-clinic/modules/matching",
                                  data={**fields, "csrf_token": "forged"})
    assert forged.status_code == 400
    assert path.read_bytes() == before


def test_toggle_is_post_only(scratch_console, brands_dir: Path):
    before = (brands_dir / "acme-clinic.yaml").read_bytes()
    resp = scratch_console.get("/brands/acme-clinic/modules/matching?enabled=on")
    assert resp.status_code == 405
    assert (brands_dir / "acme-clinic.yaml").read_bytes() == before


def test_toggle_of_unknown_brand_or_module_is_not_found(operator_console):
    fields = toggle_fields(operator_console, "acme-clinic", "matching")
    assert operator_console.post("/brands/nope/modules/matching", data=fields).status_code == 404
    assert operator_console.post("/brands/acme-clinic/modules/nope",
                                 data=fields).status_code == 404


def test_a_brand_override_cannot_replace_a_console_template(scratch_console, scratch_platform,
                                                            brands_dir: Path):
    for folder in (brands_dir / "acme-clinic" / "templates" / "console",
                   brands_dir / "acme-clinic" / "templates"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "brands.html").write_text("HIJACKED")
        (folder / "layout.html").write_text("HIJACKED")
    scratch_platform.reload(force=True)
    page = scratch_console.get("/brands").get_data(as_text=True)
    assert "HIJACKED" not in page and 'id="brand-acme-clinic"' in page


def test_console_healthz_lists_every_brand_revision_and_error_state(
        console_for, scratch_platform, brands_dir: Path):
    anonymous = console_for(scratch_platform)
    body = anonymous.get("/healthz").json
    assert body["status"] == "ok"
    assert {b["slug"]: b["revision"] for b in body["brands"]} == {
        slug: sb.loaded.revision for slug, sb in scratch_platform.brands.items()}

    path = brands_dir / "acme-clinic.yaml"
    path.write_text(path.read_text().replace("page_size: 12", "page_size: 0"))
    (brands_dir / "half-written.yaml").write_text("slug: [\n")
    scratch_platform.reload()
    resp = anonymous.get("/healthz")
    body = resp.json
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert body["status"] == "degraded"
    acme = next(b for b in body["brands"] if b["slug"] == "acme-clinic")
    assert acme["status"] == "error" and acme["config_errors"] == 1
    assert next(b for b in body["brands"] if b["slug"] == "wellness-corp")["status"] == "ok"
    assert body["failed_files"] == [{"file": "half-written.yaml", "config_errors": 1}]
