"""`cli.py modules enable|disable`: in-place edits that keep every other byte, or nothing."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from engine.cli import main
from tests.config.helpers import edit, load

ACME = "acme-clinic.yaml"
WELLNESS = "wellness-corp.yaml"


def run(brands_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"DARAPORT_BRANDS_DIR": str(brands_dir)})


def snapshot(brands_dir: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file of the directory tree."""
    return {str(p.relative_to(brands_dir)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(brands_dir.rglob("*")) if p.is_file()}


def test_enable_inserts_one_line_at_the_end_of_the_modules_section(brands_dir: Path) -> None:
    path = brands_dir / ACME
    before = path.read_bytes().splitlines(keepends=True)
    result = run(brands_dir, "modules", "enable", "acme-clinic", "matching")
    assert result.exit_code == 0, result.output
    assert result.stdout == "matching enabled on acme-clinic (brands/acme-clinic.yaml)\n"
    after = path.read_bytes().splitlines(keepends=True)
    # the end of the modules section: the blank line after its last module
    at = before.index(b"\n", before.index(b"modules:\n"))
    assert after == before[:at] + [b"  matching: {}\n"] + before[at:]
    assert "matching" in load(brands_dir).brands["acme-clinic"].config.enabled_modules()


def test_disable_changes_only_the_line_of_the_module(brands_dir: Path) -> None:
    path = brands_dir / ACME
    assert run(brands_dir, "modules", "enable", "acme-clinic", "matching").exit_code == 0
    before = path.read_bytes().splitlines(keepends=True)
    result = run(brands_dir, "modules", "disable", "acme-clinic", "matching")
    assert result.exit_code == 0, result.output
    after = path.read_bytes().splitlines(keepends=True)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert [after[i] for i in changed] == [b"  matching: {enabled: false}\n"]
    assert "matching" not in load(brands_dir).brands["acme-clinic"].config.enabled_modules()


def test_disable_section_with_settings_inserts_enabled_false_first(brands_dir: Path) -> None:
    path = brands_dir / ACME
    edit(path, "    default_sort: name\n",
         "    default_sort: name\n  matching:       # keep this comment\n"
         "    shortlist_size: 4\n")
    before = path.read_bytes().splitlines(keepends=True)
    assert run(brands_dir, "modules", "disable", "acme-clinic", "matching").exit_code == 0
    after = path.read_bytes().splitlines(keepends=True)
    at = before.index(b"    shortlist_size: 4\n")
    assert after == before[:at] + [b"    enabled: false\n"] + before[at:]
    assert run(brands_dir, "modules", "enable", "acme-clinic", "matching").exit_code == 0
    again = path.read_bytes().splitlines(keepends=True)
    assert again == before[:at] + [b"    enabled: true\n"] + before[at:]


def test_disabling_a_required_module_is_refused_and_writes_nothing(brands_dir: Path) -> None:
    files = snapshot(brands_dir)
    result = run(brands_dir, "modules", "disable", "wellness-corp", "directory")
    assert result.exit_code == 1
    assert result.stderr == (
        "refused: disabling module 'directory' would make brands/wellness-corp.yaml invalid; "
        "nothing was written:\n"
        "  modules.api: module 'api' requires module 'directory', which is not enabled on "
        "this brand\n"
        "  modules.matching: module 'matching' requires module 'directory', which is not "
        "enabled on this brand\n"
    )
    assert snapshot(brands_dir) == files


def test_disabling_the_journey_module_is_refused_and_writes_nothing(brands_dir: Path) -> None:
    files = snapshot(brands_dir)
    result = run(brands_dir, "modules", "disable", "wellness-corp", "matching")
    assert result.exit_code == 1
    assert "journey.mode: journey 'matching' needs module 'matching'" in result.stderr
    assert snapshot(brands_dir) == files


def test_unknown_brand_is_an_error_with_a_suggestion(brands_dir: Path) -> None:
    files = snapshot(brands_dir)
    result = run(brands_dir, "modules", "enable", "wellnes-corp", "matching")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no brand 'wellnes-corp'; did you mean "
                                    "'wellness-corp'?")
    assert snapshot(brands_dir) == files


def test_unknown_module_is_an_error_with_a_suggestion(brands_dir: Path) -> None:
    files = snapshot(brands_dir)
    result = run(brands_dir, "modules", "enable", "acme-clinic", "matchng")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: unknown module 'matchng'; did you mean 'matching'?")
    assert snapshot(brands_dir) == files


def test_enabling_an_enabled_module_writes_nothing(brands_dir: Path) -> None:
    files = snapshot(brands_dir)
    result = run(brands_dir, "modules", "enable", "wellness-corp", "matching")
    assert result.exit_code == 0
    assert result.stdout == "matching was already enabled on wellness-corp; nothing written\n"
    assert snapshot(brands_dir) == files


def test_editing_an_invalid_brand_file_is_refused(brands_dir: Path) -> None:
    edit(brands_dir / ACME, "page_size: 12", "page_size: lots")
    files = snapshot(brands_dir)
    result = run(brands_dir, "modules", "enable", "acme-clinic", "matching")
    assert result.exit_code == 1
    assert "is invalid; fix it first" in result.stderr
    assert "modules.directory.page_size" in result.stderr
    assert snapshot(brands_dir) == files


def test_modules_list_marks_what_is_on_for_a_brand(brands_dir: Path) -> None:
    result = run(brands_dir, "modules", "list", "wellness-corp")
    assert result.exit_code == 0, result.output
    marks = {line.split()[1]: line.split()[0] for line in result.stdout.splitlines()}
    assert marks["directory"] == marks["matching"] == "on"
    result = run(brands_dir, "modules", "list", "acme-clinic")
    marks = {line.split()[1]: line.split()[0] for line in result.stdout.splitlines()}
    assert (marks["directory"], marks["matching"]) == ("on", "off")


def test_disable_null_section_adds_one_child_line(brands_dir: Path) -> None:
    path = brands_dir / ACME
    edit(path, "    default_sort: name\n", "    default_sort: name\n  matching:     # defaults\n")
    before = path.read_bytes().splitlines(keepends=True)
    assert run(brands_dir, "modules", "disable", "acme-clinic", "matching").exit_code == 0
    after = path.read_bytes().splitlines(keepends=True)
    at = before.index(b"  matching:     # defaults\n") + 1
    assert after == before[:at] + [b"    enabled: false\n"] + before[at:]
