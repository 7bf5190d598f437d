"""`cli.py users create|list`."""

from __future__ import annotations

from click.testing import CliRunner

from engine.cli import main
from engine.identity.services import add_membership
from tests.conftest import unique_email

NEW = "operator chosen password"


def _create(*args: str, password: str = NEW, confirm: str | None = None) -> object:
    return CliRunner().invoke(main, ["users", "create", *args],
                              input=f"{password}\n{confirm or password}\n")


def test_users_create_asks_for_the_password_and_the_account_signs_in(db, client, client_ip):
    email = unique_email("cli")
    result = _create("--brand", "acme-clinic", "--role", "org_admin", "--email", email,
                     "--name", "Olga Admin", "--organization", "acme-madrid")
    assert result.exit_code == 0, result.output
    assert NEW not in result.output
    resp = client.submit("/account/signin", {"email": email, "password": NEW},
                         environ_base={"REMOTE_ADDR": client_ip})
    assert resp.status_code == 302 and resp.location == "/org/"


def test_users_create_refuses_mismatched_passwords_and_existing_emails(db, create_user):
    email = unique_email("cli")
    mismatch = _create("--brand", "acme-clinic", "--role", "patient", "--email", email,
                       "--name", "P", password=NEW, confirm="something else entirely")
    assert mismatch.exit_code != 0
    taken = create_user(brand="acme-clinic")
    again = _create("--brand", "acme-clinic", "--role", "patient", "--email", taken.email,
                    "--name", "P")
    assert again.exit_code == 1 and "already has an account" in again.output
    short = _create("--brand", "acme-clinic", "--role", "patient", "--email", email,
                    "--name", "P", password="short")
    assert short.exit_code == 1


def test_users_create_needs_a_brand_except_for_operators(db):
    result = _create("--role", "patient", "--email", unique_email(), "--name", "P")
    assert result.exit_code == 2 and "--brand is required" in result.output
    unknown = _create("--brand", "no-such-brand", "--role", "patient", "--email",
                      unique_email(), "--name", "P")
    assert unknown.exit_code == 2 and "no valid brand" in unknown.output


def test_users_list_shows_the_brand_accounts_and_its_specialists_only(platform, db,
                                                                       create_user):
    mine = create_user(brand="acme-clinic")
    theirs = create_user(brand="wellness-corp")
    shared = create_user(role="specialist", brand="acme-clinic")
    elsewhere = create_user(role="specialist", brand="wellness-corp")
    add_membership(db, platform.brands["wellness-corp"].loaded.config, shared)
    db.flush()
    result = CliRunner().invoke(main, ["users", "list", "acme-clinic"])
    assert result.exit_code == 0, result.output
    assert mine.email in result.output and shared.email in result.output
    assert theirs.email not in result.output and elsewhere.email not in result.output
