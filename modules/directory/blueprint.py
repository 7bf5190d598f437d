"""Directory views: public list and profile pages; the specialist's own profile editor."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any, cast

from babel import Locale
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from pydantic import ValidationError

from engine.identity.models import User
from engine.identity.permissions import public, requires
from engine.web import UserError, current_brand, db
from modules.directory import page_cache, services
from modules.directory.models import MODALITIES
from modules.directory.schemas import (
    LANGUAGES,
    DirectoryQuery,
    ProfileInput,
    profile_error_messages,
    query_error_message,
)

bp = Blueprint("directory", __name__)
specialist_bp = Blueprint("directory_profile", __name__)
# anonymous visitors' list and profile pages come from a per-process cache when unchanged
bp.before_request(page_cache.serve_cached)
bp.after_request(page_cache.store)


MODALITY_NAMES = {"video": _l("Video"), "in_person": _l("In person")}


def language_name(code: str) -> str:
    """'es' -> 'Español' / 'Spanish', in the current locale."""
    return _language_name(str(get_locale() or "en"), code)


@lru_cache(maxsize=1024)
def _language_name(locale: str, code: str) -> str:
    # Babel's Locale.parse costs ~50 µs; a directory page names dozens of languages.
    name = Locale.parse(locale).languages.get(code)
    return name.capitalize() if name else code


def language_labels(codes: Iterable[str]) -> dict[str, str]:
    """Each of ``codes`` named in the current locale, the locale looked up once per page."""
    locale = str(get_locale() or "en")
    return {code: _language_name(locale, code) for code in set(codes)}


def modality_name(value: str) -> str:
    """'in_person' -> 'In person' / 'Presencial', in the current locale."""
    return str(MODALITY_NAMES.get(value, value))


def modality_labels() -> dict[str, str]:
    """Every modality's label in the current locale, resolved once (for a whole page)."""
    return {value: str(label) for value, label in MODALITY_NAMES.items()}


def _settings() -> Any:
    return current_brand.config.module_settings("directory")


def photos_dir(data_dir: Path) -> Path:
    """Where profile photos live: the platform's data dir, never a static folder."""
    return data_dir / "directory-photos"


def _photos_dir() -> Path:
    return photos_dir(current_brand.runtime.settings.data_dir)


def _page_url(number: int) -> str:
    args = request.args.to_dict()
    args["page"] = str(number)
    return url_for("directory.index", **args)


@bp.route("/")
@public
def index() -> Any:
    try:
        query = DirectoryQuery.model_validate(request.args.to_dict())
    except ValidationError as exc:
        field, message = query_error_message(exc)
        raise UserError(message, code="invalid_query", field=field) from exc
    settings = _settings()
    brand = current_brand.config
    page = services.search(db(), brand, query, settings.page_size, settings.default_sort)
    filtered = bool(query.q or query.specialty or query.language or query.modality)
    facets = services.facets(db(), brand)
    return render_template(
        "directory/index.html", page=page, query=query, facets=facets,
        settings=settings, filtered=filtered, modality_labels=modality_labels(),
        language_labels=language_labels(
            chain(facets["language"], *(card.languages for card in page.items))),
        # a profile's URL is the list's URL plus its id (routes "/" and "/<int:profile_id>"):
        # one url_for per page instead of two per card
        profile_base=url_for("directory.index"),
        prev_url=_page_url(page.page - 1) if page.page > 1 else None,
        next_url=_page_url(page.page + 1) if page.page < page.pages else None,
    )


@bp.route("/<int:profile_id>")
@public
def profile(profile_id: int) -> Any:
    found = services.listed_profile(db(), profile_id, current_brand.config)
    return render_template("directory/profile.html", profile=found, settings=_settings())


@bp.route("/<int:profile_id>/photo")
@public
def photo(profile_id: int) -> Any:
    found = services.listed_profile(db(), profile_id, current_brand.config)
    if not found.photo or not _settings().show_photos:
        abort(404)
    resp = send_from_directory(_photos_dir(), found.photo, max_age=300)
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Disposition"] = "inline"
    return resp


def _form_values() -> dict[str, Any]:
    return {
        "display_name": request.form.get("display_name", ""),
        "headline": request.form.get("headline", ""),
        "bio": request.form.get("bio", ""),
        "specialties": request.form.get("specialties", ""),
        "languages": request.form.getlist("languages"),
        "modalities": request.form.getlist("modalities"),
        "visible": request.form.get("visible") == "on",
    }


@specialist_bp.route("/", methods=["GET", "POST"])
@requires("directory.profile.edit")
def edit() -> Any:
    actor = cast(User, current_user)
    session = db()
    brand = current_brand.config
    profile = services.own_profile(session, actor)
    form = FlaskForm()  # CSRF only; fields are parsed with pydantic below
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "display_name": profile.display_name if profile else actor.name,
        "headline": profile.headline if profile else "",
        "bio": profile.bio if profile else "",
        "specialties": ", ".join(profile.values("specialty")) if profile else "",
        "languages": profile.values("language") if profile else [],
        "modalities": profile.values("modality") if profile else [],
        "visible": services.is_visible(session, profile, brand) if profile else True,
    }
    if request.method == "POST" and form.validate_on_submit():
        values = _form_values()
        data: ProfileInput | None = None
        try:
            data = ProfileInput.model_validate(values)
        except ValidationError as exc:
            errors.update(profile_error_messages(exc))
        upload = request.files.get("photo")
        photo_bytes: bytes | None = None
        if upload is not None and upload.filename:
            max_kb = _settings().photo_max_kb
            # read one byte past the limit: enough to know it is too large
            photo_bytes = upload.read(max_kb * 1024 + 1)
            try:
                services.check_photo(photo_bytes, max_kb)
            except UserError as exc:
                errors["photo"] = exc.message
        # nothing is saved unless the whole form is acceptable
        if data is not None and not errors:
            profile = services.save_profile(session, actor, brand, data)
            if photo_bytes is not None:
                services.save_photo(session, actor, photo_bytes, _photos_dir(),
                                    _settings().photo_max_kb)
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("directory_profile.edit"))
    elif request.method == "POST":
        errors["form"] = _("This form has expired. Reload the page and try again.")
    listed = profile is not None and _is_listed(session, profile.id)
    return render_template("directory/edit.html", form=form, values=values, errors=errors,
                           profile=profile, listed=listed, languages=LANGUAGES,
                           modalities=MODALITIES), 400 if errors else 200


def _is_listed(session: Any, profile_id: int) -> bool:
    try:
        services.listed_profile(session, profile_id, current_brand.config)
    except UserError:
        return False
    return True
