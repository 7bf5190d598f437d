"""Directory views: public list and profile pages; the specialist's own profile editor."""

from __future__ import annotations

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
from modules.directory import services
from modules.directory.models import MODALITIES
from modules.directory.schemas import LANGUAGES, DirectoryQuery, ProfileInput

bp = Blueprint("directory", __name__)
specialist_bp = Blueprint("directory_profile", __name__)


MODALITY_NAMES = {"video": _l("Video"), "in_person": _l("In person")}


def language_name(code: str) -> str:
    """'es' -> 'español' / 'Spanish', in the current locale."""
    name = Locale.parse(str(get_locale() or "en")).languages.get(code)
    return name.capitalize() if name else code


def modality_name(value: str) -> str:
    return str(MODALITY_NAMES.get(value, value))


def _settings() -> Any:
    return current_brand.config.module_settings("directory")


def _photos_dir():  # type: ignore[no-untyped-def]
    return current_brand.runtime.settings.data_dir / "directory-photos"


def _first_error(exc: ValidationError) -> UserError:
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err["loc"])
    return UserError(f"{field}: {err['msg']}", code="invalid", field=field)


@bp.route("/")
@public
def index() -> Any:
    try:
        query = DirectoryQuery.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise _first_error(exc) from exc
    settings = _settings()
    page = services.search(db(), current_brand.config, query, settings.page_size,
                           settings.default_sort)
    return render_template("directory/index.html", page=page, query=query,
                           facets=services.facets(db()), settings=settings)


@bp.route("/<int:profile_id>")
@public
def profile(profile_id: int) -> Any:
    found = services.listed_profile(db(), profile_id)
    return render_template("directory/profile.html", profile=found, settings=_settings())


@bp.route("/<int:profile_id>/photo")
@public
def photo(profile_id: int) -> Any:
    found = services.listed_profile(db(), profile_id)
    if not found.photo:
        abort(404)
    resp = send_from_directory(_photos_dir(), found.photo, max_age=300)
    resp.headers["Content-Security-Policy"] = "default-src 'none'"
    return resp


@specialist_bp.route("/", methods=["GET", "POST"])
@requires("directory.profile.edit")
def edit() -> Any:
    actor = cast(User, current_user)
    session = db()
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
        "visible": services.is_visible(session, profile) if profile else True,
    }
    if request.method == "POST" and form.validate_on_submit():
        values = {
            "display_name": request.form.get("display_name", ""),
            "headline": request.form.get("headline", ""),
            "bio": request.form.get("bio", ""),
            "specialties": request.form.get("specialties", ""),
            "languages": request.form.getlist("languages"),
            "modalities": request.form.getlist("modalities"),
            "visible": request.form.get("visible") == "on",
        }
        try:
            data = ProfileInput.model_validate(values)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                errors.setdefault(str(err["loc"][0]), err["msg"])
        else:
            services.save_profile(session, actor, current_brand.config, data)
            upload = request.files.get("photo")
            if upload is not None and upload.filename:
                try:
                    services.save_photo(session, actor, upload.read(), _photos_dir(),
                                        _settings().photo_max_kb)
                except UserError as exc:
                    errors["photo"] = exc.message
            if not errors:
                flash(_("Your profile is saved."), "success")
                return redirect(url_for("directory_profile.edit"))
    elif request.method == "POST":
        errors["form"] = _("This form has expired. Reload the page and try again.")
    return render_template("directory/edit.html", form=form, values=values, errors=errors,
                           profile=profile, languages=LANGUAGES, modalities=MODALITIES), \
        400 if errors else 200
