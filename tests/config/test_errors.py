"""Every config error names file:line:col and key path; all errors of a file come together."""

from __future__ import annotations

from pathlib import Path

from tests.config.helpers import edit, load, messages, where

ACME = "acme-clinic.yaml"
WELLNESS = "wellness-corp.yaml"


def test_example_brands_are_valid(brands_dir: Path) -> None:
    result = load(brands_dir)
    assert result.all_errors() == []
    assert sorted(result.brands) == ["acme-clinic", "wellness-corp"]


def test_wrong_type_names_file_line_column_and_key_path(brands_dir: Path) -> None:
    text = edit(brands_dir / ACME, "page_size: 12", "page_size: twelve")
    line, col = where(text, "page_size: twelve", at="twelve")
    result = load(brands_dir)
    assert messages(result, ACME) == [
        f"brands/acme-clinic.yaml:{line}:{col}: modules.directory.page_size: Input should be a "
        f"valid integer, unable to parse string as an integer"
    ]
    assert "acme-clinic" not in result.brands
    assert "wellness-corp" in result.brands


def test_missing_top_level_key_is_reported_at_the_start_of_the_file(brands_dir: Path) -> None:
    edit(brands_dir / ACME, "currency: EUR\n", "")
    assert messages(load(brands_dir), ACME) == [
        "brands/acme-clinic.yaml:1:1: currency: missing required key 'currency'"
    ]


def test_missing_nested_key_is_reported_at_its_parent_key(brands_dir: Path) -> None:
    text = edit(brands_dir / ACME, '  sender: "Acme Clinic <citas@acme-clinic.example>"\n', "")
    line, col = where(text, "communications:")
    assert messages(load(brands_dir), ACME) == [
        f"brands/acme-clinic.yaml:{line}:{col}: communications.sender: "
        f"missing required key 'sender'"
    ]


def test_unknown_top_level_key_suggests_the_close_one(brands_dir: Path) -> None:
    text = edit(brands_dir / ACME, "currency: EUR\n", "currency: EUR\ntimezon: UTC\n")
    line, col = where(text, "timezon: UTC")
    [msg] = messages(load(brands_dir), ACME)
    assert msg.startswith(f"brands/acme-clinic.yaml:{line}:{col}: timezon: unknown key "
                          f"'timezon'; did you mean 'timezone'? (allowed: ")


def test_unknown_nested_key_suggests_the_close_one(brands_dir: Path) -> None:
    text = edit(brands_dir / ACME, "  colors:\n", "  colours:\n")
    line, col = where(text, "  colours:", at="colours")
    assert messages(load(brands_dir), ACME) == [
        f"brands/acme-clinic.yaml:{line}:{col}: theme.colours: unknown key 'colours'; did you "
        f"mean 'colors'? (allowed: colors, font, logo, name)"
    ]


def test_unknown_module_name_suggests_an_installed_module(brands_dir: Path) -> None:
    text = edit(brands_dir / ACME, "  directory:\n    page_size", "  directroy:\n    page_size")
    line, col = where(text, "  directroy:", at="directroy")
    mode_line, mode_col = where(text, "mode: directory", at="directory")
    errors = messages(load(brands_dir), ACME)
    assert errors[0] == (
        f"brands/acme-clinic.yaml:{mode_line}:{mode_col}: journey.mode: journey 'directory' "
        f"needs module 'directory', which is not enabled on this brand"
    )
    api_line, api_col = where(text, "  api:", at="api")
    assert errors[1] == (
        f"brands/acme-clinic.yaml:{api_line}:{api_col}: modules.api: module 'api' requires "
        f"module 'directory', which is not enabled on this brand"
    )
    assert errors[2].startswith(
        f"brands/acme-clinic.yaml:{line}:{col}: modules.directroy: unknown module 'directroy'; "
        f"did you mean 'directory'? (allowed: "
    )
    assert len(errors) == 3


def test_invalid_hostname_points_at_the_list_item(brands_dir: Path) -> None:
    text = edit(brands_dir / ACME, "  - acme-clinic.example\n", "  - https://acme.example/\n")
    line, col = where(text, "https://acme.example/")
    assert messages(load(brands_dir), ACME) == [
        f"brands/acme-clinic.yaml:{line}:{col}: domains.1: 'https://acme.example/' is not a "
        f"hostname (no scheme, port or path: 'clinic.example')"
    ]


def test_only_invalid_hostname_is_one_error_not_two(brands_dir: Path) -> None:
    text = edit(brands_dir / WELLNESS, "domains:\n  - wellness.localhost          # local "
                "development\n  - wellness-corp.example\n", "domains:\n  - wellness:8000\n")
    line, col = where(text, "wellness:8000")
    assert messages(load(brands_dir), WELLNESS) == [
        f"brands/wellness-corp.yaml:{line}:{col}: domains.0: 'wellness:8000' is not a hostname "
        f"(no scheme, port or path: 'clinic.example')"
    ]


def test_invalid_timezone_suggests_the_close_zone(brands_dir: Path) -> None:
    text = edit(brands_dir / ACME, "timezone: Europe/Madrid", "timezone: Europe/Madird")
    line, col = where(text, "Europe/Madird")
    assert messages(load(brands_dir), ACME) == [
        f"brands/acme-clinic.yaml:{line}:{col}: timezone: 'Europe/Madird' is not an IANA time "
        f"zone; did you mean 'Europe/Madrid'?"
    ]


def test_module_whose_required_module_is_off_is_an_error(brands_dir: Path) -> None:
    text = edit(brands_dir / WELLNESS, "    page_size: 9\n",
                "    page_size: 9\n    enabled: false\n")
    line, col = where(text, "  matching:\n    shortlist", at="matching")
    api_line, api_col = where(text, "  api:", at="api")
    assert messages(load(brands_dir), WELLNESS) == [
        f"brands/wellness-corp.yaml:{api_line}:{api_col}: modules.api: module 'api' requires "
        f"module 'directory', which is not enabled on this brand",
        f"brands/wellness-corp.yaml:{line}:{col}: modules.matching: module 'matching' requires "
        f"module 'directory', which is not enabled on this brand"
    ]


def test_journey_mode_whose_module_is_off_is_an_error(brands_dir: Path) -> None:
    text = edit(brands_dir / ACME, "  mode: directory", "  mode: matching")
    line, col = where(text, "mode: matching", at="matching")
    assert messages(load(brands_dir), ACME) == [
        f"brands/acme-clinic.yaml:{line}:{col}: journey.mode: journey 'matching' needs module "
        f"'matching', which is not enabled on this brand"
    ]


def test_unknown_theme_suggests_the_close_theme(brands_dir: Path) -> None:
    text = edit(brands_dir / ACME, "  name: harbor ", "  name: harbour")
    line, col = where(text, "harbour")
    [msg] = messages(load(brands_dir), ACME)
    assert msg.startswith(f"brands/acme-clinic.yaml:{line}:{col}: theme.name: unknown theme "
                          f"'harbour'; did you mean 'harbor'? (themes: ")


def test_unknown_network_suggests_the_declared_one(brands_dir: Path) -> None:
    text = edit(brands_dir / ACME, "network: care-collective", "network: care-colective")
    line, col = where(text, "care-colective")
    assert messages(load(brands_dir), ACME) == [
        f"brands/acme-clinic.yaml:{line}:{col}: specialists.network: unknown network "
        f"'care-colective'; did you mean 'care-collective'? (declare shared networks in "
        f"_networks.yaml, or use 'own')"
    ]


def test_unknown_permission_in_deny_suggests_the_close_permission(brands_dir: Path) -> None:
    text = edit(brands_dir / WELLNESS, "org_admin: []", "org_admin: [core.org.roster.veiw]")
    line, col = where(text, "core.org.roster.veiw")
    assert messages(load(brands_dir), WELLNESS) == [
        f"brands/wellness-corp.yaml:{line}:{col}: permissions.deny.org_admin.0: unknown "
        f"permission 'core.org.roster.veiw'; did you mean 'core.org.roster.view'?"
    ]


def test_missing_consent_file_is_an_error(brands_dir: Path) -> None:
    (brands_dir / "consent" / "acme-telehealth-es-v1.md").unlink()
    text = (brands_dir / ACME).read_text()
    line, col = where(text, "file: consent/acme-telehealth-es-v1.md", at="consent/")
    assert messages(load(brands_dir), ACME) == [
        f"brands/acme-clinic.yaml:{line}:{col}: consent.1.file: consent text "
        f"'consent/acme-telehealth-es-v1.md' not found under brands/"
    ]


def test_second_brand_claiming_a_domain_gets_the_error(brands_dir: Path) -> None:
    text = edit(brands_dir / WELLNESS, "  - wellness-corp.example\n",
                "  - wellness-corp.example\n  - acme.localhost\n")
    line, col = where(text, "  - acme.localhost", at="acme")
    result = load(brands_dir)
    assert messages(result, WELLNESS) == [
        f"brands/wellness-corp.yaml:{line}:{col}: domains.2: host 'acme.localhost' is already "
        f"claimed by brands/acme-clinic.yaml"
    ]
    assert list(result.brands) == ["acme-clinic"]


def test_two_files_with_one_slug_reject_the_later_file(brands_dir: Path) -> None:
    text = (brands_dir / ACME).read_text()
    for host in ("acme.localhost", "acme-clinic.example", "www.acme-clinic.example"):
        text = text.replace(f"  - {host}", f"  - copy-{host}")
    (brands_dir / "acme-copy.yaml").write_text(text)
    line, col = where(text, "slug: acme-clinic", at="acme-clinic")
    result = load(brands_dir)
    assert messages(result, "acme-copy.yaml") == [
        f"brands/acme-copy.yaml:{line}:{col}: slug: slug 'acme-clinic' is already used by "
        f"brands/acme-clinic.yaml"
    ]
    assert result.brands["acme-clinic"].path.name == ACME


def test_yaml_syntax_error_names_its_line(brands_dir: Path) -> None:
    (brands_dir / ACME).write_text("slug: acme-clinic\nname: Acme\ndomains: [acme.localhost\n"
                                   "locale: es\n")
    # the flow sequence opened on line 3 meets a mapping key on line 4
    assert messages(load(brands_dir), ACME) == [
        "brands/acme-clinic.yaml:4:7: (yaml): YAML syntax error: while parsing a flow sequence; "
        "expected ',' or ']', but got ':'"
    ]


def test_duplicate_key_is_an_error_naming_both_lines(brands_dir: Path) -> None:
    text = edit(brands_dir / ACME, "\nname: Acme Clinic   ", "\nname: Acme\nname: Acme Clinic   ")
    line, _ = where(text, "name: Acme Clinic   ")
    first_key, _ = where(text, "slug: acme-clinic")
    assert messages(load(brands_dir), ACME) == [
        f"brands/acme-clinic.yaml:{line}:1: (yaml): duplicate key 'name': it is already set "
        f"earlier in the mapping that starts at line {first_key}"
    ]


def test_empty_file_is_an_error(brands_dir: Path) -> None:
    (brands_dir / ACME).write_text("# nothing here yet\n")
    [msg] = messages(load(brands_dir), ACME)
    assert msg.startswith("brands/acme-clinic.yaml:1:1: (root): the file is empty")


def test_list_file_is_an_error(brands_dir: Path) -> None:
    (brands_dir / ACME).write_text("- slug: acme-clinic\n- name: Acme\n")
    assert messages(load(brands_dir), ACME) == [
        "brands/acme-clinic.yaml:1:1: (root): the file must be a mapping of keys, not a list"
    ]


def test_scalar_file_is_an_error(brands_dir: Path) -> None:
    (brands_dir / ACME).write_text("acme clinic\n")
    assert messages(load(brands_dir), ACME) == [
        "brands/acme-clinic.yaml:1:1: (root): the file must be a mapping of keys, not a single "
        "value ('acme clinic')"
    ]


def test_literal_secret_is_refused_without_echoing_it(brands_dir: Path) -> None:
    text = edit(brands_dir / WELLNESS, "stripe_secret_key: env:WELLNESS_STRIPE_KEY",
                "stripe_secret_key: sk_live_51Habc")
    line, col = where(text, "sk_live_51Habc")
    assert messages(load(brands_dir), WELLNESS) == [
        f"brands/wellness-corp.yaml:{line}:{col}: payments.stripe_secret_key: secrets never "
        f"live in brand YAML: name an environment variable, e.g. 'env:ACME_STRIPE_KEY'"
    ]


def test_union_field_error_names_the_key_not_the_union_members(brands_dir: Path) -> None:
    text = edit(brands_dir / WELLNESS, "    shortlist_size: 3\n",
                "    shortlist_size: 3\n    questions:\n      - key: topic\n        type: text\n"
                "        label: 5\n")
    line, col = where(text, "label: 5", at="5")
    assert messages(load(brands_dir), WELLNESS) == [
        f"brands/wellness-corp.yaml:{line}:{col}: modules.matching.questions.0.label: Input "
        f"should be a valid string; or Input should be a valid dictionary"
    ]


def test_all_errors_of_a_file_are_reported_together_in_line_order(brands_dir: Path) -> None:
    path = brands_dir / ACME
    edit(path, "timezone: Europe/Madrid", "timezone: Mars/Olympus")
    edit(path, "  name: harbor ", "  name: nope  ")
    edit(path, "page_size: 12", "page_size: many")
    text = edit(path, "  colors:\n", "  colours:\n")
    errors = load(brands_dir).errors[path]
    assert [(e.line, e.column, e.path) for e in errors] == [
        (*where(text, "Mars/Olympus"), "timezone"),
        (*where(text, "name: nope", at="nope"), "theme.name"),
        (*where(text, "  colours:", at="colours"), "theme.colours"),
        (*where(text, "page_size: many", at="many"), "modules.directory.page_size"),
    ]


def test_broken_networks_file_is_reported_with_its_line(brands_dir: Path) -> None:
    (brands_dir / "_networks.yaml").write_text("networks:\n  care-collective:\n    nme: Care\n")
    result = load(brands_dir)
    assert messages(result, "_networks.yaml") == [
        "brands/_networks.yaml:2:3: networks.care-collective.name: missing required key 'name'",
        "brands/_networks.yaml:3:5: networks.care-collective.nme: unknown key 'nme'; did you "
        "mean 'name'? (allowed: description, name)",
    ]
