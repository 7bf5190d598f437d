"""Users per brand, the development outbox and the status page."""

from __future__ import annotations

import re

from engine.identity import services as identity
from tests.conftest import link_in


def role_counts(page: str, slug: str) -> dict[str, int]:
    row = page[page.index(f'id="counts-{slug}"'):]
    row = row[:row.index("</tr>")]
    return {role: int(n) for role, n in re.findall(r'data-role="(\w+)">(\d+)<', row)}


def test_user_counts_are_per_brand(operator_console, create_user, platform, db):
    before = operator_console.get("/users").get_data(as_text=True)
    acme0, well0 = role_counts(before, "acme-clinic"), role_counts(before, "wellness-corp")

    for _ in range(3):
        create_user(role="patient", brand="acme-clinic")
    create_user(role="patient", brand="wellness-corp")
    create_user(role="org_admin", brand="wellness-corp", organization="globex")
    shared = create_user(role="specialist", brand="acme-clinic")
    identity.add_membership(db, platform.brands["wellness-corp"].loaded.config, shared)
    create_user(role="specialist", brand="acme-clinic")  # acme only
    db.flush()

    after = operator_console.get("/users").get_data(as_text=True)
    acme, well = role_counts(after, "acme-clinic"), role_counts(after, "wellness-corp")
    assert {r: acme[r] - acme0[r] for r in acme} == {
        "patient": 3, "specialist": 2, "org_admin": 0, "coordinator": 0, "affiliate": 0}
    assert {r: well[r] - well0[r] for r in well} == {
        "patient": 1, "specialist": 1, "org_admin": 1, "coordinator": 0, "affiliate": 0}


def test_brand_user_list_shows_accounts_and_member_specialists_only(operator_console,
                                                                    create_user, platform, db):
    patient = create_user(role="patient", brand="wellness-corp", name="Wanda Wellness")
    other = create_user(role="patient", brand="acme-clinic", name="Arturo Acme")
    shared = create_user(role="specialist", brand="acme-clinic", name="Sofia Shared")
    identity.add_membership(db, platform.brands["wellness-corp"].loaded.config, shared)
    acme_only = create_user(role="specialist", brand="acme-clinic", name="Ana Acme-Only")
    db.flush()

    page = operator_console.get("/users?brand=wellness-corp").get_data(as_text=True)
    assert patient.email in page and shared.email in page
    assert other.email not in page and acme_only.email not in page

    found = operator_console.get("/users?brand=wellness-corp&q=WANDA").get_data(as_text=True)
    assert patient.email in found and shared.email not in found
    only = operator_console.get("/users?brand=wellness-corp&role=specialist")
    assert shared.email in only.get_data(as_text=True)
    assert patient.email not in only.get_data(as_text=True)


def test_brand_user_search_treats_wildcards_literally(operator_console, create_user):
    create_user(role="patient", brand="acme-clinic", name="Plain Name")
    page = operator_console.get("/users?brand=acme-clinic&q=%25").get_data(as_text=True)
    assert "0 accounts match." in page


def test_brand_user_list_is_paginated(operator_console, create_user):
    emails = [create_user(role="patient", brand="acme-clinic", name=f"Pager {i:02d}",
                          email=f"pager-{i:02d}@paging.example").email for i in range(30)]
    first = operator_console.get("/users?brand=acme-clinic&q=paging.example")
    page1 = first.get_data(as_text=True)
    assert "30 accounts match." in page1 and "Page 1 of 2" in page1
    second = operator_console.get("/users?brand=acme-clinic&q=paging.example&page=2")
    page2 = second.get_data(as_text=True)
    shown = [e for e in emails if e in page1] + [e for e in emails if e in page2]
    assert sorted(shown) == sorted(emails)
    assert not set(e for e in emails if e in page1) & set(e for e in emails if e in page2)


def test_users_page_rejects_unknown_query_and_brand(operator_console):
    assert operator_console.get("/users?brand=acme-clinic&page=0").status_code == 400
    assert operator_console.get("/users?brand=acme-clinic&sort=x").status_code == 400
    assert operator_console.get("/users?brand=no-such-brand").status_code == 404


def test_outbox_lists_a_reset_email_from_the_brand_reset_flow(operator_console, client,
                                                              create_user, outbox):
    patient = create_user(role="patient", brand="acme-clinic")
    resp = client.submit("/account/reset", {"email": patient.email})
    assert resp.status_code == 200
    email = outbox()[-1]
    assert email.recipient == patient.email and email.template == "reset"

    listing = operator_console.get("/outbox?brand=acme-clinic").get_data(as_text=True)
    assert patient.email in listing
    assert f'href="/outbox/{email.id}"' in listing
    assert patient.email not in operator_console.get(
        "/outbox?brand=wellness-corp").get_data(as_text=True)

    detail = operator_console.get(f"/outbox/{email.id}").get_data(as_text=True)
    assert link_in(email) in detail  # developers read the reset link here


def test_outbox_lists_newest_first(operator_console, client, create_user, outbox):
    first, second = (create_user(role="patient", brand="acme-clinic") for _ in range(2))
    client.submit("/account/reset", {"email": first.email})
    client.submit("/account/reset", {"email": second.email})
    listing = operator_console.get("/outbox").get_data(as_text=True)
    assert listing.index(second.email) < listing.index(first.email)


def test_outbox_email_that_does_not_exist_is_not_found(operator_console):
    assert operator_console.get("/outbox/999999999").status_code == 404


def test_status_reports_database_job_mode_and_smtp(operator_console):
    page = operator_console.get("/status")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "ok" in text
    assert "in process (no REDIS_URL)" in text
    assert "SMTP off" in text
