"""The console's own English/Spanish catalog (engine/console/translations).

The console keeps its strings apart from the brands' catalog so brand translators never see
operator screens. The catalog is read from its ``.po`` file and compiled in memory once per
process, so the console needs no build step beyond the checkout.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, request, session
from flask_babel import Babel, Domain, format_datetime, get_locale
from flask_login import current_user

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
LOCALES = ("en", "es")
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


# the brands' catalogue: pages the console mounts from elsewhere (a module's console page, the
# legal holds page of engine/privacy) have their strings there
BRAND_TRANSLATIONS_DIR = TRANSLATIONS_DIR.parents[2] / "translations"


def _read(directory: Path, locale: str) -> Translations | None:
    po = directory / locale / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return None
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain="messages")


@cache
def _catalog(locale: str) -> NullTranslations:
    """The console's catalogue, falling back to the brands' for strings it lacks."""
    own, brands = _read(TRANSLATIONS_DIR, locale), _read(BRAND_TRANSLATIONS_DIR, locale)
    if own is None:
        return brands or NullTranslations()
    if brands is not None:
        own.add_fallback(brands)
    return own


class ConsoleDomain(Domain):
    """Flask-Babel domain backed by the console's .po files."""

    def get_translations(self) -> NullTranslations:
        return _catalog(str(get_locale() or "en"))


def select_locale() -> str:
    """The operator's saved choice, else this browser session's, else Accept-Language."""
    saved = getattr(current_user, "locale", None) if current_user else None
    if saved in LOCALES:
        return str(saved)
    if session.get("locale") in LOCALES:
        return str(session["locale"])
    return request.accept_languages.best_match(LOCALES) or "en"


def init_app(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    app.config["BABEL_DEFAULT_TIMEZONE"] = "UTC"
    Babel(app, locale_selector=select_locale, timezone_selector=lambda: "UTC")
    domain = ConsoleDomain()

    @app.before_request
    def _use_console_catalog() -> None:
        domain.as_default()

    app.jinja_env.globals.update(get_locale=get_locale, language_names=LANGUAGE_NAMES,
                                 locales=LOCALES)
    app.jinja_env.filters["datetime"] = lambda v, fmt="medium": (
        format_datetime(v, fmt) if v is not None else "—")
