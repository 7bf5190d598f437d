"""The matching journey through HTTP: questionnaire, validation, shortlist, privacy, 404."""

from __future__ import annotations

import html
import json
import re

import pytest

from engine.identity.permissions import access_of
from modules.matching.blueprint import bp
from tests.conftest import BrandClient

CONDITIONAL = """\
  matching:
    shortlist_size: 5
    questions:
      - key: topic
        type: single
        required: true
        matches: specialty
        label: {en: What brings you here?, es: ¿Qué te trae por aquí?}
        choices:
          - {value: anxiety, label: {en: Anxiety, es: Ansiedad}}
          - {value: stress, label: {en: Stress, es: Estrés}}
      - key: panic
        type: single
        required: true
        label: {en: Do you have panic attacks?}
        show_if: {question: topic, any_of: [anxiety]}
        choices:
          - {value: "yes", label: "Yes"}
          - {value: "no", label: "No"}
      - key: sleep
        type: scale
        label: How well do you sleep?
        scale_min: 1
        scale_max: 5
      - key: notes
        type: text
        label: Anything else?
        max_length: 30
"""


def page(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def shortlist_names(resp) -> list[str]:
    body = resp.get_data(as_text=True)
    items = body.split('<ol class="profile-grid"', 1)[1].split("</ol>", 1)[0] \
        if '<ol class="profile-grid"' in body else ""
    return [html.unescape(n) for n in
            re.findall(r'<h2><a href="/specialists/\d+">([^<]+)</a></h2>', items)]


@pytest.fixture
def wellness(client_for) -> BrandClient:
    return client_for("wellness-corp")


@pytest.fixture
def custom(platform_from) -> BrandClient:
    """wellness-corp with a questionnaire holding a conditional, a scale and a text question."""
    return BrandClient(platform_from(CONDITIONAL), "wellness.localhost")


def reasons_of(resp, profile_id: int) -> list[str]:
    body = resp.get_data(as_text=True)
    found = re.search(rf'aria-labelledby="why-{profile_id}">(.*?)</ul>', body, re.S)
    assert found, f"no reasons for profile {profile_id}"
    return [html.unescape(r) for r in re.findall(r"<li>([^<]+)</li>", found.group(1))]


def test_every_matching_view_is_public(platform):
    app = platform.app_for("wellness-corp")
    endpoints = [ep for ep in app.view_functions if ep.startswith(bp.name + ".")]
    assert endpoints == ["matching.index"]
    for ep in endpoints:
        assert access_of(app.view_functions[ep]) == ("public", None)


def test_questionnaire_renders_brand_questions_in_the_brand_locale(wellness):
    resp = wellness.get("/match/")
    assert resp.status_code == 200
    body = page(resp)
    assert '<html lang="en">' in body
    assert "<legend>What would you like help with?" in body
    assert '<input type="radio" name="topic" value="anxiety" required> Anxiety' in body
    assert '<input type="checkbox" name="modality" value="in_person"> In person' in body
    assert body.count("<fieldset") == 3
    assert re.search(r'<form method="post" action="/match/"[^>]*>\s*'
                     r'<input type="hidden" name="csrf_token" value="[^"]+">', body)


def test_questionnaire_renders_in_spanish_when_the_visitor_chooses_it(wellness):
    wellness.submit("/account/locale", {"locale": "es", "next": "/match/"},
                    form_page="/match/")
    body = page(wellness.get("/match/"))
    assert '<html lang="es">' in body
    assert "<legend>¿Con qué te gustaría recibir ayuda?" in body
    assert "> Estado de ánimo bajo</label>" in body
    assert "What would you like help with?" not in body


def test_label_without_the_visitors_locale_falls_back_to_the_brand_locale(custom):
    custom.submit("/account/locale", {"locale": "es", "next": "/match/"}, form_page="/match/")
    body = page(custom.get("/match/"))
    assert "<legend>¿Qué te trae por aquí?" in body
    assert "<legend>Do you have panic attacks?" in body  # only written in English


def test_conditional_question_carries_its_rule_and_a_note_for_browsers_without_js(custom):
    body = custom.get("/match/").get_data(as_text=True)
    rule = re.search(r"id=\"q-panic\" data-show-if='([^']+)'", body)
    assert rule and json.loads(html.unescape(rule.group(1))) == {
        "question": "topic", "any_of": ["anxiety"]}
    assert "Only if your answer to “What brings you here?” was “Anxiety”." in html.unescape(body)
    assert 'id="q-topic" data-show-if' not in body
    assert 'src="/static/m/booking/conditions.js" data-form-id="matching-form"' in body
    assert "<script>" not in body  # no inline script (the CSP refuses them)
    assert not re.search(r"\son[a-z]+=", body)  # no inline event handlers


def test_required_conditional_question_is_ignored_when_its_condition_does_not_hold(
        custom, add_specialist):
    add_specialist("Sam Stress", specialties=["stress"])
    resp = custom.submit("/match/", {"topic": "stress", "panic": "maybe"}, form_page="/match/")
    assert resp.status_code == 200
    assert shortlist_names(resp) == ["Sam Stress"]


def test_required_conditional_question_is_required_when_its_condition_holds(custom):
    resp = custom.submit("/match/", {"topic": "anxiety"}, form_page="/match/")
    assert resp.status_code == 400
    assert "Please answer this question." in page(resp)


@pytest.mark.parametrize(("form", "field", "message"), [
    ({}, "topic", "Please answer this question."),
    ({"topic": "grief"}, "topic", "Choose one of the options shown."),
    ({"topic": "stress", "sleep": "9"}, "sleep", "Choose a number from 1 to 5."),
    ({"topic": "stress", "sleep": "well"}, "sleep", "Choose a number from 1 to 5."),
    ({"topic": "stress", "notes": "x" * 31}, "notes",
     "Please keep your answer under 30 characters."),
])
def test_each_invalid_answer_gets_a_clear_error_beside_its_question(custom, form, field,
                                                                     message):
    resp = custom.submit("/match/", form, form_page="/match/")
    assert resp.status_code == 400
    body = page(resp)
    assert f'<p class="field-error" id="q-{field}-error">{message}</p>' in body
    assert f'<a href="#q-{field}">' in body  # the summary links to the question
    assert "Your matches" not in body


def test_unknown_question_is_a_form_error(custom):
    resp = custom.submit("/match/", {"topic": "stress", "diagnosis": "x"}, form_page="/match/")
    assert resp.status_code == 400
    assert "The form had an answer to a question we did not ask." in page(resp)


def test_invalid_answers_are_kept_in_the_form(custom):
    resp = custom.submit("/match/", {"topic": "anxiety", "sleep": "2", "notes": "x" * 40},
                         form_page="/match/")
    assert resp.status_code == 400
    body = page(resp)
    assert 'value="anxiety" required aria-invalid="true"' not in body
    assert '<input type="radio" name="topic" value="anxiety" checked required>' in body
    assert 'name="sleep" value="2" checked>' in body
    assert ">" + "x" * 40 + "</textarea>" in body
    assert re.search(r'<textarea id="answer-notes"[^>]*aria-invalid="true"', body)


def test_post_without_csrf_token_is_refused(wellness):
    resp = wellness.post("/match/", data={"topic": "anxiety", "language": "en"})
    assert resp.status_code == 400
    assert "Your matches" not in page(resp)


def test_shortlist_ranks_matches_with_reasons_and_links_to_profiles(wellness, add_specialist):
    best = add_specialist("Ana Best", specialties=["anxiety"], languages=["es"],
                          modalities=["video"])
    add_specialist("Bo Language", languages=["es"])
    add_specialist("Cy Topic", specialties=["anxiety"], languages=["en"])
    add_specialist("Di Video", modalities=["video"])
    add_specialist("Ed Nothing", specialties=["grief"], languages=["de"])
    resp = wellness.submit("/match/", {"topic": "anxiety", "language": "es",
                                       "modality": "video"}, form_page="/match/")
    assert resp.status_code == 200
    assert shortlist_names(resp) == ["Ana Best", "Cy Topic", "Bo Language"]  # shortlist_size 3
    assert reasons_of(resp, best.id) == ["Works with anxiety", "Speaks Spanish", "Offers video"]
    assert wellness.get(f"/specialists/{best.id}").status_code == 200


def test_shortlist_only_includes_profiles_listed_on_this_brand(wellness, add_specialist):
    add_specialist("Listed Here", specialties=["anxiety"])
    add_specialist("Hidden Here", specialties=["anxiety"],
                   members_of=("wellness-corp", "acme-clinic"), hidden_on=("wellness-corp",))
    add_specialist("Acme Only", specialties=["anxiety"], members_of=("acme-clinic",))
    add_specialist("Both Brands", specialties=["anxiety"],
                   members_of=("acme-clinic", "wellness-corp"))
    resp = wellness.submit("/match/", {"topic": "anxiety", "language": "en"},
                           form_page="/match/")
    assert shortlist_names(resp) == ["Both Brands", "Listed Here"]


def test_no_match_says_so_kindly_and_links_to_the_directory(wellness, add_specialist):
    add_specialist("Ed Grief", specialties=["grief"], languages=["de"])
    resp = wellness.submit("/match/", {"topic": "anxiety", "language": "es"},
                           form_page="/match/")
    assert resp.status_code == 200
    body = page(resp)
    assert shortlist_names(resp) == []
    assert "We could not find a specialist who fits these answers right now." in body
    assert '<a class="button" href="/specialists/">See all specialists</a>' in body


def test_change_my_answers_refills_the_questionnaire(wellness):
    resp = wellness.submit("/match/", {"topic": "stress", "language": "es",
                                       "modality": ["video", "in_person"]},
                           form_page="/match/")
    body = page(resp)
    hidden = dict.fromkeys(re.findall(r'<input type="hidden" name="(\w+)" value="(\w+)">',
                                      body))
    assert set(hidden) >= {("topic", "stress"), ("language", "es"), ("modality", "video"),
                           ("modality", "in_person")}
    form = {"topic": "stress", "language": "es", "modality": ["video", "in_person"],
            "_edit": "1"}
    again = page(wellness.submit("/match/", form, form_page="/match/"))
    assert 'name="topic" value="stress" checked' in again
    assert 'name="modality" value="in_person" checked>' in again
    assert "See my matches" in again


def test_answers_stay_out_of_the_session_cookie_and_caches(platform, wellness, add_specialist):
    add_specialist("Ana", specialties=["anxiety"])
    resp = wellness.submit("/match/", {"topic": "anxiety", "language": "es"},
                           form_page="/match/")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    app = platform.app_for("wellness-corp")
    cookie = wellness.get_cookie("daraport", domain="wellness.localhost")
    assert cookie is not None
    session = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert "anxiety" not in json.dumps(session)
    assert set(session) <= {"csrf_token", "_fresh", "_id", "locale", "timezone"}


def test_matching_answers_404_on_a_brand_that_does_not_enable_it(client_for):
    client = client_for("acme-clinic")
    assert client.get("/match/").status_code == 404


def test_matching_answers_404_when_switched_off_in_the_brand_file(platform_from):
    off = platform_from("  matching:\n    enabled: false\n    shortlist_size: 3\n",
                        mode="directory")
    client = BrandClient(off, "wellness.localhost")
    assert client.get("/specialists/").status_code == 200
    assert client.get("/match/").status_code == 404
