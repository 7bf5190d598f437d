"""The brand apps' catalogue: every string the code marks for translation is in
translations/messages.pot, has a Spanish translation, and the brands show it.

The operator console has its own catalogue (engine/console/translations) and is not checked here.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tests.conftest import BrandClient

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
ES_PO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"

# The translation functions the brand code calls, besides babel's defaults (_, gettext, ngettext
# in Python; _ and ngettext in templates): flask_babel's lazy_gettext, imported as _l, and
# lazy_ngettext, imported as _ln.
KEYWORDS = ("_l", "lazy_gettext", "ngettext:1,2", "_ln:1,2", "lazy_ngettext:1,2")
EXTRACT_ARGS = ("extract", "-F", "babel.cfg", *(a for k in KEYWORDS for a in ("-k", k)))
REFRESH_COMMANDS = (
    f"  .venv/bin/pybabel {' '.join(EXTRACT_ARGS)} -o translations/messages.pot .\n"
    "  .venv/bin/pybabel update -i translations/messages.pot -d translations\n"
    "then translate the new entries of translations/es/LC_MESSAGES/messages.po (no '#, fuzzy' "
    "left) and run: .venv/bin/pybabel compile -d translations"
)

# %(name)s, %s, %d, %.2f, ...; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.\d+)?[diouxXeEfFgGcrsa%]")


def _compile_stale_catalogues() -> None:
    """Compile each .po whose .mo is missing or older, as `pybabel compile -d translations` does.

    Runs when this module is imported, i.e. at collection, before any test renders a page: the
    platform is built once per session and Flask-Babel keeps the catalogues it has loaded. Each
    .mo is written to a temporary file and renamed, so parallel workers never read half a file.
    """
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        fd, tmp = tempfile.mkstemp(dir=po.parent, prefix=".messages-", suffix=".mo")
        try:
            with os.fdopen(fd, "wb") as out:
                write_mo(out, catalog)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; pybabel's .mo files are not
            os.replace(tmp, mo)
        except BaseException:
            os.unlink(tmp)
            raise


_compile_stale_catalogues()


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _messages(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id]


def _key(m: Message) -> tuple[str | None, str | tuple[str, ...]]:
    return (m.context, m.id)


def _describe(m: Message) -> str:
    return repr(m.id[0] if isinstance(m.id, tuple) else m.id)


def _placeholders(text: str) -> tuple[list[str], str]:
    """The sorted placeholders of ``text`` and any stray '%' left once they are removed."""
    found = sorted(m.group(0) for m in PLACEHOLDER.finditer(text) if m.group(0) != "%%")
    rest = PLACEHOLDER.sub("", text)
    return found, rest if "%" in rest else ""


def test_placeholder_reading_finds_names_positionals_and_stray_percent_signs() -> None:
    assert _placeholders("Hola, %(name)s: %d de %(total)d, 50 %%") == (
        ["%(name)s", "%(total)d", "%d"], "")
    assert _placeholders("Descuento del 20 % para %(name)s")[1] != ""


def test_every_message_of_the_template_has_a_spanish_translation() -> None:
    es = _read(ES_PO, "es")
    assert es.num_plurals == 2, "es catalogue: expected 'Plural-Forms: nplurals=2; ...'"
    problems = []
    for m in _messages(_read(POT)):
        t = es.get(m.id, m.context)
        if t is None or t.id != m.id:
            problems.append(f"missing from es (run pybabel update): {_describe(m)}")
            continue
        strings = t.string if isinstance(t.string, tuple) else (t.string,)
        if isinstance(m.id, tuple) and len(strings) != es.num_plurals:
            problems.append(f"needs {es.num_plurals} plural forms: {_describe(m)}")
        if not all(s.strip() for s in strings):
            problems.append(f"not translated: {_describe(m)}")
        if t.fuzzy:
            problems.append(f"still marked fuzzy: {_describe(m)}")
    assert not problems, ("translations/es/LC_MESSAGES/messages.po is incomplete:\n  "
                          + "\n  ".join(problems) + "\nTo refresh the catalogues:\n"
                          + REFRESH_COMMANDS)


def test_spanish_translations_keep_the_placeholders_of_the_english_text() -> None:
    problems = []
    for t in _messages(_read(ES_PO, "es")):
        sources = t.id if isinstance(t.id, tuple) else (t.id,)
        strings = t.string if isinstance(t.string, tuple) else (t.string,)
        for i, string in enumerate(strings):
            if not string:
                continue  # reported as untranslated by the test above
            # es has two plural forms: [0] for one (the singular msgid), [1] for the rest
            expected, _ = _placeholders(sources[min(i, len(sources) - 1)])
            got, stray = _placeholders(string)
            if got != expected:
                problems.append(f"{_describe(t)} [{i}]: expected {expected}, got {got}")
            if stray:
                problems.append(f"{_describe(t)} [{i}]: a lone '%' (write '%%'): {string!r}")
    assert not problems, "placeholders differ in the es catalogue:\n  " + "\n  ".join(problems)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """What `pybabel extract` finds in the code now, with the project's babel.cfg and keywords."""
    out = tmp_path_factory.mktemp("i18n") / "messages.pot"
    cwd = Path.cwd()
    os.chdir(ROOT)  # babel.cfg's patterns are relative to the directory extracted
    try:
        CommandLineInterface().run(["pybabel", "-q", *EXTRACT_ARGS, "-o", str(out), "."])
    finally:
        os.chdir(cwd)
    return _read(out)


def test_message_template_is_up_to_date_with_the_code(extracted: Catalog) -> None:
    in_code = {_key(m) for m in _messages(extracted)}
    committed = {_key(m) for m in _messages(_read(POT))}
    new, gone = sorted(in_code - committed, key=str), sorted(committed - in_code, key=str)
    assert not new and not gone, (
        "translations/messages.pot does not match the strings marked for translation in the code."
        f"\n  new in the code: {[m for _, m in new]}\n  no longer in the code: "
        f"{[m for _, m in gone]}\nTo refresh the catalogues:\n" + REFRESH_COMMANDS)


def test_brand_catalogue_takes_strings_from_engine_modules_and_themes_only(
        extracted: Catalog) -> None:
    files = {path for m in _messages(extracted) for path, _ in m.locations}
    assert files, "nothing extracted: is babel.cfg there?"
    assert not [f for f in files if f.startswith("engine/console/")], \
        "console strings belong in engine/console/translations, not the brand catalogue"
    assert not [f for f in files if not f.startswith(("engine/", "modules/", "themes/"))]
    for expected in ("engine/", "modules/directory/", "modules/matching/", "themes/base/",
                     "themes/harbor/", "themes/sunrise/"):
        assert any(f.startswith(expected) for f in files), f"no string extracted from {expected}"


# Pages of each brand, with a Spanish text and its English source expected on them.
PAGES = [
    ("/", "Ver especialistas", "Browse specialists"),
    ("/account/signin", "¿Has olvidado tu contraseña?", "Forgot your password?"),
    ("/specialists/", "Nuestros especialistas", "Our specialists"),
]


def _page(client: BrandClient, path: str) -> str:
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    return resp.get_data(as_text=True)


@pytest.mark.parametrize(("path", "spanish", "english"), PAGES)
def test_acme_clinic_shows_its_pages_in_spanish_by_default(
        client_for: Callable[[str], BrandClient], path: str, spanish: str, english: str) -> None:
    html = _page(client_for("acme-clinic"), path)
    assert "Iniciar sesión" in html and "Crear cuenta" in html
    assert spanish in html
    assert english not in html and ">Sign in<" not in html


def test_acme_clinic_translates_messages_raised_by_the_code(
        client_for: Callable[[str], BrandClient]) -> None:
    client = client_for("acme-clinic")
    resp = client.submit("/account/signin", {"email": "nobody@example.com",
                                             "password": "not the password"})
    assert "El correo electrónico o la contraseña no son correctos." in \
        resp.get_data(as_text=True)


@pytest.mark.parametrize(("path", "spanish", "english"), [
    ("/", "Encuentra a tu especialista", "Find my match"), *PAGES[1:]])
def test_wellness_corp_shows_its_pages_in_english(
        client_for: Callable[[str], BrandClient], path: str, spanish: str, english: str) -> None:
    html = _page(client_for("wellness-corp"), path)
    assert "Sign in" in html and english in html
    assert spanish not in html and "Iniciar sesión" not in html


@pytest.mark.parametrize("switch", ["form", "link"])
def test_acme_clinic_shows_english_once_the_visitor_chooses_it(
        client_for: Callable[[str], BrandClient], switch: str) -> None:
    client = client_for("acme-clinic")
    if switch == "form":
        resp = client.submit("/account/locale", {"locale": "en"}, form_page="/account/signin")
    else:  # the header's switcher for anonymous visitors
        resp = client.get("/account/locale?to=en")
    assert resp.status_code == 302
    for path, spanish, english in PAGES:
        html = _page(client, path)
        assert english in html and "Sign in" in html, path
        assert spanish not in html and "Iniciar sesión" not in html, path
