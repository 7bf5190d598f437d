"""The specialist's profile editor: access, validation, CSRF, photos."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from engine.identity import services as identity
from engine.identity.models import User
from engine.platform import Platform
from modules.directory import services
from modules.directory.models import Profile

EDITOR = "/specialist/profile/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
WEBP = b"RIFF\x40\x00\x00\x00WEBPVP8 " + b"\x00" * 64


def form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"display_name": "Dra. Nuria Vidal", "headline": "Psicóloga clínica",
                            "bio": "Primer párrafo.\r\n\r\nSegundo párrafo.",
                            "specialties": "Ansiedad,  estrés   laboral , ansiedad",
                            "languages": ["es", "en"], "modalities": ["video"],
                            "visible": "on"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def specialist(platform: Platform, db: Any, create_user: Callable[..., User]) -> User:
    """A specialist of the shared network, member of both example brands."""
    user = create_user(role="specialist", brand="acme-clinic", name="Nuria Vidal")
    identity.add_membership(db, platform.brands["wellness-corp"].loaded.config, user)
    return user


@pytest.fixture
def editor(client: Any, specialist: User, signin: Callable[..., Any]) -> Any:
    """An acme-clinic client signed in as ``specialist``."""
    assert signin(client, specialist.email).status_code == 302
    return client


def profile_of(db: Any, user: User) -> Profile | None:
    db.expire_all()
    return db.scalar(select(Profile).where(Profile.user_id == user.id))


def test_anonymous_visitor_is_sent_to_sign_in(client):
    resp = client.get(EDITOR)
    assert resp.status_code == 302
    assert "/account/signin" in resp.headers["Location"]


@pytest.mark.parametrize("role", ["patient", "org_admin"])
def test_non_specialists_get_403(client, create_user, signin, role):
    kw = {"organization": "acme-madrid"} if role == "org_admin" else {}
    user = create_user(role=role, **kw)
    assert signin(client, user.email).status_code == 302
    assert client.get(EDITOR).status_code == 403
    assert client.post(EDITOR, data=form(csrf_token=client.csrf("/"))).status_code == 403


def test_specialist_saves_a_profile_listed_on_this_brand(editor, specialist, db, client_for):
    resp = editor.submit(EDITOR, form())
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(EDITOR)
    profile = profile_of(db, specialist)
    assert profile is not None
    assert profile.display_name == "Dra. Nuria Vidal"
    assert profile.values("specialty") == ["ansiedad", "estrés laboral"]
    assert profile.values("language") == ["en", "es"]
    assert profile.bio == "Primer párrafo.\n\nSegundo párrafo."
    page = editor.get(f"/specialists/{profile.id}").get_data(as_text=True)
    assert "<p>Primer párrafo.</p><p>Segundo párrafo.</p>" in page
    # the editor shows the saved values and the flash message
    again = editor.get(EDITOR).get_data(as_text=True)
    assert 'value="Dra. Nuria Vidal"' in again and 'value="ansiedad, estrés laboral"' in again


def test_unticking_visible_hides_the_profile_on_this_brand_only(editor, specialist, db,
                                                               client_for):
    assert editor.submit(EDITOR, form()).status_code == 302
    assert editor.submit(EDITOR, form(visible=None)).status_code == 302
    profile = profile_of(db, specialist)
    assert profile is not None
    assert client_for("acme-clinic").get(f"/specialists/{profile.id}").status_code == 404
    assert client_for("wellness-corp").get(f"/specialists/{profile.id}").status_code == 200
    assert "not listed" in editor.get(EDITOR).get_data(as_text=True) or \
        "no está" in editor.get(EDITOR).get_data(as_text=True)


@pytest.mark.parametrize(("field", "overrides"), [
    ("display_name", {"display_name": "N"}),
    ("headline", {"headline": "x" * 161}),
    ("specialties", {"specialties": ",".join(f"topic {i}" for i in range(13))}),
    ("specialties", {"specialties": "y" * 61}),
    ("languages", {"languages": ["xx"]}),
    ("modalities", {"modalities": ["phone"]}),
])
def test_invalid_input_rerenders_with_values_kept_and_saves_nothing(editor, specialist, db,
                                                                    field, overrides):
    resp = editor.submit(EDITOR, form(**{"headline": "Kept headline", **overrides}))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert f'id="{field}-error"' in body
    kept = overrides.get("headline", "Kept headline")
    assert f'value="{kept}"' in body
    assert "Primer párrafo." in body
    assert profile_of(db, specialist) is None


def test_post_without_csrf_token_is_refused(editor, specialist, db):
    resp = editor.post(EDITOR, data=form())
    assert resp.status_code == 400
    assert profile_of(db, specialist) is None


@pytest.mark.parametrize(("data", "content_type"), [(PNG, "image/png"), (JPEG, "image/jpeg"),
                                                   (WEBP, "image/webp")])
def test_photo_is_accepted_by_content_and_served_by_the_app(editor, specialist, db, settings,
                                                             data, content_type):
    # the file name lies: only the bytes decide
    resp = editor.submit(EDITOR, form(photo=(io.BytesIO(data), "portrait.txt")))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    profile = profile_of(db, specialist)
    assert profile is not None and profile.photo
    stored = settings.data_dir / "directory-photos" / profile.photo
    assert stored.read_bytes() == data
    served = editor.get(f"/specialists/{profile.id}/photo")
    assert served.status_code == 200
    assert served.data == data
    assert served.mimetype == content_type
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in served.headers["Content-Security-Policy"]
    served.close()
    # not reachable as a static file
    assert editor.get(f"/static/{profile.photo}").status_code == 404
    assert editor.get(f"/static/../data/directory-photos/{profile.photo}").status_code == 404


def test_new_photo_replaces_the_old_file(editor, specialist, db, settings):
    assert editor.submit(EDITOR, form(photo=(io.BytesIO(PNG), "a.png"))).status_code == 302
    first = profile_of(db, specialist).photo  # type: ignore[union-attr]
    assert editor.submit(EDITOR, form(photo=(io.BytesIO(JPEG), "b.jpg"))).status_code == 302
    second = profile_of(db, specialist).photo  # type: ignore[union-attr]
    assert first != second
    assert not (settings.data_dir / "directory-photos" / first).exists()


@pytest.mark.parametrize(("data", "name"), [
    (b"just some text, not an image\n", "photo.png"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "x.png"),
    (b"GIF89a" + b"\x00" * 32, "anim.gif"),
])
def test_photo_that_is_not_png_jpeg_or_webp_is_refused(editor, specialist, db, data, name):
    resp = editor.submit(EDITOR, form(photo=(io.BytesIO(data), name)))
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert 'id="photo-error"' in body
    assert 'value="Dra. Nuria Vidal"' in body
    assert profile_of(db, specialist) is None


def test_too_large_photo_is_refused(editor, specialist, db, platform):
    max_kb = platform.brands["acme-clinic"].loaded.config.module_settings("directory").photo_max_kb
    big = PNG + b"\x00" * (max_kb * 1024)
    # encoded in memory: the test client would spool a body this size to an unclosed temp file
    fields = MultiDict(form(csrf_token=editor.csrf(EDITOR)))
    fields.add("photo", FileStorage(io.BytesIO(big), "big.png"))
    boundary, payload = encode_multipart(fields)
    resp = editor.post(EDITOR, data=payload,
                       content_type=f"multipart/form-data; boundary={boundary}")
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert 'id="photo-error"' in body and str(max_kb) in body
    assert 'id="languages-error"' not in body
    assert profile_of(db, specialist) is None


def test_save_profile_refuses_non_specialists(create_user, db, platform):
    from engine.web import UserError
    from modules.directory.schemas import ProfileInput

    patient = create_user(role="patient")
    with pytest.raises(UserError) as info:
        services.save_profile(db, patient, platform.brands["acme-clinic"].loaded.config,
                              ProfileInput(display_name="Pat Patient"))
    assert info.value.status == 403
