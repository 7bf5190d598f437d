"""`cli.py brands validate|list|schema`: exit codes, the full error list, DARAPORT_BRANDS_DIR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

from engine.cli import main
from engine.config.loader import yaml_rt
from engine.settings import ROOT
from tests.config.helpers import edit, where


def run(brands_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"DARAPORT_BRANDS_DIR": str(brands_dir)})


def test_validate_exits_0_when_every_brand_is_valid(brands_dir: Path) -> None:
    result = run(brands_dir, "brands", "validate")
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 2 brand file(s) valid\n"


def test_validate_exits_1_listing_every_error_of_every_file(brands_dir: Path) -> None:
    acme = edit(brands_dir / "acme-clinic.yaml", "page_size: 12", "page_size: -1")
    acme = edit(brands_dir / "acme-clinic.yaml", "currency: EUR", "currency: euro")
    wellness = edit(brands_dir / "wellness-corp.yaml", "America/New_York", "America/NewYork")
    result = run(brands_dir, "brands", "validate")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "brands/acme-clinic.yaml:{}:{}: currency: String should match pattern "
        "'^[A-Z]{{3}}$'".format(*where(acme, "euro")),
        "brands/acme-clinic.yaml:{}:{}: modules.directory.page_size: Input should be greater "
        "than or equal to 1".format(*where(acme, "-1")),
        "brands/wellness-corp.yaml:{}:{}: timezone: 'America/NewYork' is not an IANA time "
        "zone; did you mean 'America/New_York'?".format(*where(wellness, "America/NewYork")),
    ]
    assert result.stderr == "3 error(s) in 2 file(s)\n"


def test_validate_checks_a_given_file_against_the_other_brands_of_its_directory(
        brands_dir: Path) -> None:
    text = (brands_dir / "acme-clinic.yaml").read_text().replace("slug: acme-clinic",
                                                                 "slug: acme-two")
    (brands_dir / "acme-two.yaml").write_text(text)
    result = run(brands_dir, "brands", "validate", str(brands_dir / "acme-two.yaml"))
    assert result.exit_code == 1
    line, col = where(text, "acme.localhost")
    assert (f"brands/acme-two.yaml:{line}:{col}: domains.0: host 'acme.localhost' is already "
            f"claimed by brands/acme-clinic.yaml") in result.stdout.splitlines()
    assert "acme-clinic.yaml:" not in result.stdout  # only the file asked about is reported


def test_validate_of_a_valid_file_exits_0(brands_dir: Path) -> None:
    result = run(brands_dir, "brands", "validate", str(brands_dir / "wellness-corp.yaml"))
    assert (result.exit_code, result.stdout) == (0, "ok: 1 brand file(s) valid\n")


def test_validate_entry_point_exit_code_in_a_real_process(brands_dir: Path) -> None:
    (brands_dir / "wellness-corp.yaml").write_text("- not a mapping\n")
    env = {**os.environ, "DARAPORT_BRANDS_DIR": str(brands_dir)}
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "brands", "validate"],
                          capture_output=True, text=True, env=env, cwd=brands_dir.parent,
                          timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ("brands/wellness-corp.yaml:1:1: (root): the file must be a mapping "
                           "of keys, not a list\n")


def test_list_shows_slug_name_domains_journey_and_modules(brands_dir: Path) -> None:
    edit(brands_dir / "acme-clinic.yaml", "name: Acme Clinic  ", "name: Acme Dental  ")
    result = run(brands_dir, "brands", "list")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows == [
        ["SLUG", "NAME", "DOMAINS", "JOURNEY", "MODULES"],
        ["acme-clinic", "Acme", "Dental", "acme.localhost,acme-clinic.example", "directory",
         "api,booking,directory,messaging,payments,video"],
        ["wellness-corp", "Wellness", "Corp", "wellness.localhost,wellness-corp.example",
         "matching", "api,booking,directory,matching,messaging,payments,video"],
    ]


def test_list_names_invalid_files_instead_of_listing_them(brands_dir: Path) -> None:
    (brands_dir / "acme-clinic.yaml").write_text("")
    result = run(brands_dir, "brands", "list")
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["SLUG", "wellness-corp"]
    assert "brands/acme-clinic.yaml" in result.stderr


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    result = CliRunner().invoke(main, ["brands", "schema"])
    assert result.exit_code == 0, result.output
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def _as_json(path: Path) -> object:
    return json.loads(json.dumps(yaml_rt().load(path.read_text())))


@pytest.mark.parametrize("file", ["acme-clinic.yaml", "wellness-corp.yaml"])
def test_schema_accepts_the_example_brand_files(schema: dict[str, object], file: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert [e.message for e in validator.iter_errors(_as_json(ROOT / "brands" / file))] == []


def test_schema_rejects_unknown_keys_wrong_types_and_literal_secrets(
        schema: dict[str, object]) -> None:
    doc = _as_json(ROOT / "brands" / "wellness-corp.yaml")
    assert isinstance(doc, dict)
    doc["timezon"] = "UTC"
    doc["modules"]["directory"]["page_size"] = "nine"
    doc["payments"]["stripe_secret_key"] = "sk_live_51Habc"
    errors = {tuple(e.absolute_path) for e in
              jsonschema.Draft202012Validator(schema).iter_errors(doc)}
    assert errors == {(), ("modules", "directory"), ("payments", "stripe_secret_key")}
