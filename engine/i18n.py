"""Spanish and English through Flask-Babel. The brand's locale is the default; a signed-in
user's choice (or an anonymous visitor's switch, kept in the session) overrides it."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from babel.numbers import format_currency
from flask import Flask, session
from flask_babel import Babel, format_datetime, get_locale, get_timezone, lazy_gettext
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from engine.config import BrandConfig
from engine.settings import ROOT

TRANSLATIONS_DIR = ROOT / "translations"
LANGUAGE_NAMES = {"es": "Español", "en": "English"}


def _select_locale(cfg: BrandConfig) -> str:
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in cfg.locales:
        return str(user_locale)
    chosen = session.get("locale")
    if chosen in cfg.locales:
        return str(chosen)
    return cfg.locale


def _select_timezone(cfg: BrandConfig) -> str:
    tz = getattr(current_user, "timezone", None) if current_user else None
    return tz or session.get("timezone") or cfg.timezone


def init_app(app: Flask, cfg: BrandConfig) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = cfg.locale
    app.config["BABEL_DEFAULT_TIMEZONE"] = cfg.timezone
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    Babel(app, locale_selector=lambda: _select_locale(cfg),
          timezone_selector=lambda: _select_timezone(cfg))
    app.jinja_env.globals.update(get_locale=get_locale, get_timezone=get_timezone)
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["datetime"] = lambda v, fmt="medium": format_datetime(v, fmt)
    app.jinja_env.globals["language_names"] = LANGUAGE_NAMES


def to_minor(amount: Decimal, currency: str) -> int:
    """Decimal major units -> integer minor units, rounding half to even (banker's)."""
    exponent = _minor_digits(currency)
    return int((amount * (10 ** exponent)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _minor_digits(currency: str) -> int:
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(currency))


def money(minor_units: int, currency: str) -> str:
    """Format integer minor units for the current locale: ``6000, 'EUR'`` -> ``60,00 €``."""
    value = Decimal(minor_units) / (10 ** _minor_digits(currency))
    return format_currency(value, currency, locale=str(get_locale() or "en"))


def local_datetime(value: datetime, fmt: str = "medium") -> str:
    return format_datetime(value, fmt)


def http_message(exc: HTTPException | None) -> str:
    code = exc.code if exc is not None else 500
    messages: dict[int, Any] = {
        400: lazy_gettext("The request could not be understood."),
        401: lazy_gettext("Please sign in to continue."),
        403: lazy_gettext("You do not have access to this page."),
        404: lazy_gettext("We could not find this page."),
        405: lazy_gettext("This action is not allowed here."),
        413: lazy_gettext("The upload is too large."),
        429: lazy_gettext("Too many attempts. Please wait a moment and try again."),
        500: lazy_gettext("Something went wrong on our side. Please try again."),
    }
    return str(messages.get(code or 500, _("Something went wrong.")))
